"""A painted face comes out at the style face's side, in its colours and texture (model/photo/painted)."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest
from PIL import Image

from ca2sis.model.cli import edit as cli_edit
from ca2sis.model.inference.edits import Edit, Reference
from ca2sis.model.inference.engine import Engine
from ca2sis.model.labels import CLASS_NAMES
from ca2sis.model.photo.colour import to_lab
from ca2sis.model.photo.painted import DEFAULT_PAINT, paint_face
from ca2sis.model.photo.pipeline import PhotoPipeline

BACKGROUND, SKIN, HAIR = (CLASS_NAMES.index(name) for name in ("background", "skin", "hair"))
SIDE, NETWORK = 256, 64


def drawn_mask(side: int, hair_bottom: float) -> np.ndarray:
    """A head: a skin oval under a hair cap reaching down to ``hair_bottom`` of the side."""
    mask = np.zeros((side, side), np.uint8)
    cv2.ellipse(mask, (side // 2, side // 2), (int(0.32 * side), int(0.42 * side)), 0, 0, 360, HAIR, -1)
    mask[int(hair_bottom * side):][mask[int(hair_bottom * side):] == HAIR] = BACKGROUND
    cv2.ellipse(mask, (side // 2, int(0.58 * side)), (int(0.22 * side), int(0.3 * side)), 0, 0, 360, SKIN, -1)
    return mask


def style_face() -> tuple[np.ndarray, np.ndarray]:
    """A style face: red-brown hair with fine strands, a blue-grey grainy backdrop, beige skin."""
    mask = drawn_mask(SIDE, 0.75)
    rng = np.random.default_rng(0)
    colours = {BACKGROUND: (90, 110, 140), SKIN: (225, 180, 150), HAIR: (140, 60, 30)}
    image = np.zeros((SIDE, SIDE, 3), np.float32)
    for part, colour in colours.items():
        image[mask == part] = colour
    columns = np.arange(SIDE, dtype=np.float32)
    strands = 25 * np.sin(2 * np.pi * columns / 5.0)[None, :] + rng.normal(0, 6, (SIDE, SIDE))
    image += np.where(mask == HAIR, strands, rng.normal(0, 5, (SIDE, SIDE)))[..., None]
    return np.clip(image, 0, 255).astype(np.uint8), mask


def network_output(mask: np.ndarray) -> np.ndarray:
    """What a small network gives for ``mask``: the right layout, washed-out colours, no detail."""
    colours = {BACKGROUND: (150, 150, 150), SKIN: (200, 170, 160), HAIR: (120, 100, 90)}
    image = np.zeros(mask.shape + (3,), np.uint8)
    for part, colour in colours.items():
        image[mask == part] = colour
    return cv2.resize(cv2.GaussianBlur(image, (0, 0), 2.0), (NETWORK, NETWORK), interpolation=cv2.INTER_AREA)


def eroded(region: np.ndarray, pixels: int = 3) -> np.ndarray:
    return cv2.erode(region.astype(np.uint8), np.ones((2 * pixels + 1, 2 * pixels + 1), np.uint8)) > 0


def laplacian_energy(image: np.ndarray, where: np.ndarray) -> float:
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float((cv2.Laplacian(grey, cv2.CV_32F, ksize=1)[where] ** 2).mean())


def test_each_part_takes_the_style_faces_colour_and_fine_texture_with_a_crisp_edge():
    """Hair painted longer than the style face's: the hair (old place and new) and the backdrop
    come out in the style face's colours, the hair with the style's strands, not the network's
    washed-out smooth hair; the backdrop next to the hair is backdrop, not a blend (no halo)."""
    style, style_mask = style_face()
    painted = drawn_mask(SIDE, 0.9)
    result = paint_face(network_output(painted), painted, style, style_mask)
    assert result.shape == (SIDE, SIDE, 3) and result.dtype == np.uint8  # the style face's side, not the network's
    ours, theirs = to_lab(result), to_lab(style)
    for part in (HAIR, BACKGROUND, SKIN):
        distance = np.linalg.norm(ours[eroded(painted == part)].mean(0) - theirs[eroded(style_mask == part)].mean(0))
        assert distance < 4.0, f"{CLASS_NAMES[part]}: {distance:.1f} from the style face's colour"
    grown = eroded(painted == HAIR) & (style_mask != HAIR)  # hair where the style face has none
    assert grown.sum() > 500
    style_detail = laplacian_energy(style, eroded(style_mask == HAIR))
    assert laplacian_energy(result, grown) > 0.5 * style_detail
    assert laplacian_energy(cv2.resize(network_output(painted), (SIDE, SIDE)), grown) < 0.05 * style_detail
    # The two pixels of backdrop along the hair's edge have the backdrop's colour.
    hair = painted == HAIR
    rim = cv2.dilate(hair.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) & (painted == BACKGROUND)
    backdrop = theirs[eroded(style_mask == BACKGROUND)].mean(0)
    hair_colour = theirs[eroded(style_mask == HAIR)].mean(0)
    rim_colour = ours[rim].mean(0)
    assert np.linalg.norm(rim_colour - backdrop) < 0.25 * np.linalg.norm(hair_colour - backdrop)


def high_pass(image: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return grey - cv2.GaussianBlur(grey, (0, 0), 2.0)


def test_a_stroke_leaves_the_texture_where_it_did_not_reach_and_textures_what_it_painted():
    """The studio paints a face again after each stroke: a fringe of hair painted on the
    forehead re-makes the texture near the stroke only; elsewhere the face is the one before
    the stroke (its pores and strands stay put, its colour moves by a level at most), where a
    paint from scratch reshuffles the whole skin's pores. The painted fringe has the style's
    strands."""
    style, style_mask = style_face()
    before = drawn_mask(SIDE, 0.75)
    after = before.copy()
    cv2.circle(after, (SIDE // 2, int(0.36 * SIDE)), SIDE // 16, HAIR, -1)  # the stroke: skin painted hair
    stroke = (after != before)
    assert stroke.sum() > 300
    first = paint_face(network_output(before), before, style, style_mask)
    again = paint_face(network_output(after), after, style, style_mask)
    scratch = replace(DEFAULT_PAINT, reuse_texture=False)
    from_scratch = paint_face(network_output(after), after, style, style_mask, scratch)
    reach = cv2.distanceTransform((~stroke).astype(np.uint8), cv2.DIST_L2, 3) > SIDE / 6
    skin_far = eroded(before == SKIN) & reach
    assert skin_far.sum() > 2000
    kept = np.abs(high_pass(again) - high_pass(first))[skin_far].mean()
    reshuffled = np.abs(high_pass(from_scratch) - high_pass(first))[skin_far].mean()
    assert kept < 0.5 and reshuffled > 4 * kept, (kept, reshuffled)
    assert np.abs(again.astype(int) - first)[reach].max() <= 2
    fringe = eroded(stroke)
    style_detail = laplacian_energy(style, eroded(style_mask == HAIR))
    assert laplacian_energy(again, fringe) > 0.4 * style_detail
    # Painting the same again changes nothing.
    assert np.array_equal(paint_face(network_output(after), after, style, style_mask), again)


@pytest.fixture(scope="module")
def engine(tiny_weights):
    return Engine.from_pretrained(tiny_weights, device="cpu", backend="torch")


@pytest.fixture
def two_faces(face_data):
    names = sorted(p.stem for p in (face_data / "images").glob("*.jpg"))[:2]
    return [(face_data / "images" / f"{n}.jpg", face_data / "masks" / f"{n}.png") for n in names]


@pytest.mark.slow  # the engine renders twice (about 2 s idle, 5 s on a loaded 2-core CPU)
def test_a_painted_face_comes_out_at_the_style_faces_side_and_a_preview_stays_the_networks(engine, two_faces):
    """A new face (another face's mask, as from a template) in a 256 px face's style: the
    finished frame is 256 px; the frame drawn while a stroke moves is the network's own."""
    (face, mask), (_, other_mask) = two_faces
    edit = Edit(mask=other_mask, style=Reference(face, mask), style_is_source=False)
    pipeline = PhotoPipeline(engine)
    finished = pipeline.render(edit)
    assert Image.open(face).size == (SIDE, SIDE)
    assert finished.image.shape == (SIDE, SIDE, 3) and finished.raw.shape == (NETWORK, NETWORK, 3)
    preview = pipeline.render(edit, preview=True)
    assert np.array_equal(preview.image, preview.raw)


@pytest.mark.slow  # two ca2sis-edit runs, each loading the networks
def test_global_keeps_the_network_output_of_a_painted_face(tiny_weights, engine, two_faces, tmp_path, capsys):
    """``ca2sis-edit --mask OTHER --style FACE``: finished at the face's 256 px; with --global
    the network's own 64 px output, exactly."""
    (face, mask), (_, other_mask) = two_faces
    out = tmp_path / "painted.png"
    arguments = ["--mask", str(other_mask), "--style", str(face), "--style-mask", str(mask), "--out", str(out),
                 "--weights", str(tiny_weights), "--device", "cpu", "--backend", "torch"]
    assert cli_edit.main(arguments) == 0
    assert Image.open(out).size == (SIDE, SIDE)
    assert f"({SIDE}x{SIDE}," in capsys.readouterr().out  # what it says it wrote is what it wrote
    assert cli_edit.main([*arguments, "--global"]) == 0
    raw = engine.render(Edit(mask=other_mask, style=Reference(face, mask))).image
    assert np.array_equal(np.asarray(Image.open(out)), raw)
