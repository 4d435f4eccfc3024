"""The inference engine on random `tiny` weights: what an editing user relies on."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from ca2sis.model.config import get_config
from ca2sis.model.errors import DataError, WeightsError
from ca2sis.model.inference.bench import synthetic_face, synthetic_face_mask
from ca2sis.model.inference.edits import Edit, Reference
from ca2sis.model.inference.engine import Engine
from ca2sis.model.inference.onnx_export import check_parity
from ca2sis.model.inference.shapes import composite_mask
from ca2sis.model.inference.visualise import attention_overlay
from ca2sis.model.labels import COLORS, part_index
from ca2sis.model.networks.composite import CA2SIS
from ca2sis.model.photo.pipeline import PhotoPipeline

from conftest import edit_on_torch, export_with_new_generator, styled_random_model

HAIR, NOSE, SKIN = part_index("hair"), part_index("nose"), part_index("skin")


@pytest.fixture(scope="module")
def weights(tiny_weights):
    return tiny_weights


@pytest.fixture(scope="module")
def engine(weights):
    return Engine.from_pretrained(weights, device="cpu", backend="torch")


@pytest.fixture(scope="module")
def faces():
    """Two faces on two slightly different layouts (64x64, the tiny config's size)."""
    mask_a = synthetic_face_mask(64)
    mask_b = np.roll(mask_a, 3, axis=1)
    return (synthetic_face(mask_a, 0), mask_a), (synthetic_face(mask_b, 1), mask_b)


def test_reconstruct_works_on_single_faces_and_batches(engine, faces):
    (face_a, mask_a), (face_b, mask_b) = faces
    single = engine.reconstruct(face_a, mask_a)
    assert single.shape == (64, 64, 3) and single.dtype == np.uint8
    batch = engine.reconstruct([face_a, face_b], [mask_a, mask_b])
    assert batch.shape == (2, 64, 64, 3)
    assert np.abs(batch[0].astype(int) - single).max() <= 1
    assert engine.encode_styles([face_a, face_b], [mask_a, mask_b]).shape == (2, 19, engine.config.code_dim)
    assert engine.embed_mask(mask_a).shape == (19, engine.config.mask_latent_dim)
    many = [synthetic_face(mask_a, seed) for seed in range(70)]  # more faces than the style cache holds
    codes = engine.encode_styles(many, [mask_a] * 70)
    assert codes.shape == (70, 19, engine.config.code_dim)
    np.testing.assert_allclose(codes[69], engine.encode_styles(many[69], mask_a), atol=1e-5)


def test_transfer_styles_uses_the_reference_for_every_part(engine, faces):
    (face_a, mask_a), (face_b, mask_b) = faces
    # A face's own styles on its own mask: its reconstruction.
    own = engine.transfer_styles(mask_a, face_a, mask_a)
    assert np.abs(own.astype(int) - engine.reconstruct(face_a, mask_a)).max() <= 1
    # Another face's styles on this mask: the mask's layout (far nearer this face's
    # reconstruction than the reference's) in other styles (not this face's reconstruction).
    transferred = engine.transfer_styles(mask_a, face_b, mask_b)
    reconstruction_a, reconstruction_b = engine.reconstruct(face_a, mask_a), engine.reconstruct(face_b, mask_b)
    distance = lambda x, y: np.abs(x.astype(int) - y).mean()  # noqa: E731
    assert 0 < distance(transferred, reconstruction_a) < distance(transferred, reconstruction_b) / 10
    assert distance(engine.transfer_styles(mask_a, 255 - face_b, mask_b), transferred) > 0  # other styles
    # Batched: one reference per mask, each as when transferred alone.
    batch = engine.transfer_styles([mask_a, mask_b], [face_b, face_a], [mask_b, mask_a])
    assert np.abs(batch[0].astype(int) - transferred).max() <= 1
    assert np.abs(batch[1].astype(int) - engine.transfer_styles(mask_b, face_a, mask_a)).max() <= 1


def test_a_part_swap_changes_only_that_parts_code_and_changes_the_face(engine, faces):
    (face_a, mask_a), (face_b, mask_b) = faces
    base = Edit(mask_a, Reference(face_a, mask_a))
    swapped = Edit(mask_a, Reference(face_a, mask_a), part_styles={"hair": (Reference(face_b, mask_b), 1.0)})
    half = Edit(mask_a, Reference(face_a, mask_a), part_styles={"Hair": (Reference(face_b, mask_b), 0.5)})
    base_codes, swapped_codes = engine.edit_codes(base), engine.edit_codes(swapped)
    reference_codes = engine.encode_styles(face_b, mask_b)
    changed = np.flatnonzero(np.abs(swapped_codes - base_codes).max(axis=1) > 0)
    assert changed.tolist() == [HAIR]
    assert np.array_equal(swapped_codes[HAIR], reference_codes[HAIR])
    np.testing.assert_allclose(engine.edit_codes(half)[HAIR], (base_codes[HAIR] + reference_codes[HAIR]) / 2, atol=1e-6)
    assert not np.array_equal(engine.render(swapped).image, engine.render(base).image)


def test_a_skin_from_a_darker_face_darkens_the_nose_ears_and_neck_with_it(engine, faces):
    (_, mask), _ = faces
    pale = np.full((64, 64, 3), (225, 185, 165), np.uint8)
    dark = np.full((64, 64, 3), (95, 60, 45), np.uint8)
    parts = {name: mask == part_index(name) for name in ("skin", "nose", "l_ear", "r_ear", "neck", "hair")}
    skin_from_dark = {"skin": (Reference(dark, mask), 1.0)}
    pipeline = PhotoPipeline(engine)  # the finishing: the engine alone gives the network's output
    result = pipeline.render(Edit(mask, Reference(pale, mask), part_styles=skin_from_dark)).image.astype(int)
    for name in ("skin", "nose", "l_ear", "r_ear", "neck"):  # one tone: the parts of the skin's colour go with it
        assert result[parts[name]].mean() < pale.mean() - 60, name
    # The hair is untouched, away from the blend's fade just past the changed parts (3 % of the side).
    changed = sum(parts[name] for name in ("skin", "nose", "l_ear", "r_ear", "neck")).astype(np.uint8)
    far = parts["hair"] & (cv2.distanceTransform(1 - changed, cv2.DIST_L2, 3) > 4)
    assert far.sum() > 100 and np.abs(result[far] - pale[far]).max() == 0
    # A nose given a style of its own keeps it (here the photo's own pale one; this tiny nose
    # of 33 pixels takes some of the dark skin around it in the blend).
    own_nose = {**skin_from_dark, "nose": (Reference(pale, mask), 1.0)}
    kept = pipeline.render(Edit(mask, Reference(pale, mask), part_styles=own_nose)).image.astype(int)
    assert kept[parts["nose"]].mean() > result[parts["nose"]].mean() + 40


def test_shape_interpolation_at_0_and_1_gives_the_endpoints_latents(engine, faces):
    (face_a, mask_a), (_, mask_b) = faces
    latents_a, latents_b = engine.embed_mask(mask_a), engine.embed_mask(mask_b)

    def latents(alpha):
        return engine.edit_latents(Edit(mask_a, Reference(face_a, mask_a), part_shapes={"nose": (mask_b, alpha)}))

    assert np.array_equal(latents(0.0), latents_a)
    # At 1 every latent is the composite mask's: the nose in b's shape, the rest of a around it.
    composite = composite_mask(engine.load_mask(mask_a), engine.load_mask(mask_b), NOSE)
    latents_c = engine.embed_mask(composite)
    at_one = latents(1.0)
    np.testing.assert_allclose(at_one, latents_c, atol=1e-6)
    assert np.array_equal(latents_c[NOSE], latents_b[NOSE])
    np.testing.assert_allclose(latents(0.25), 0.75 * latents_a + 0.25 * latents_c, atol=1e-5)


@pytest.mark.slow
def test_caches_reuse_work_and_give_identical_outputs(weights, faces):
    (face_a, mask_a), (face_b, mask_b) = faces
    engine = Engine.from_pretrained(weights, device="cpu", backend="torch")
    edit = Edit(mask_a, Reference(face_a, mask_a), part_styles={"hair": (Reference(face_b, mask_b), 1.0)})
    first = engine.render(edit)
    assert engine.stats["styles_encoded"] == 2
    assert engine.stats["planes_embedded"] == 19
    again = engine.render(edit)
    assert np.array_equal(first.image, again.image)
    assert engine.stats["styles_encoded"] == 2 and engine.stats["planes_embedded"] == 19

    # A brush stroke of hair over skin: only the hair and skin planes are embedded again.
    stroked = mask_a.copy()
    region = stroked[36:40, 20:24]
    assert set(np.unique(region)) == {SKIN}
    stroked[36:40, 20:24] = HAIR
    edited = engine.render(Edit(stroked, Reference(face_a, mask_a)))
    assert engine.stats["planes_embedded"] == 21 and engine.stats["styles_encoded"] == 2

    fresh = Engine.from_pretrained(weights, device="cpu", backend="torch")
    assert np.array_equal(fresh.render(Edit(stroked, Reference(face_a, mask_a))).image, edited.image)
    np.testing.assert_array_equal(fresh.render(edit).latents, first.latents)


def test_the_full_render_at_a_strokes_release_reuses_the_face_its_last_preview_drew(weights, faces):
    (face_a, mask_a), _ = faces
    engine = Engine.from_pretrained(weights, device="cpu", backend="torch")
    stroked = mask_a.copy()
    stroked[36:40, 20:24] = HAIR
    edit = Edit(stroked, Reference(face_a, mask_a))
    preview = engine.render(edit, preview=True)  # no cheaper G here: previews run the full one
    assert engine.preview_description is None and engine.stats["generations"] == 1
    released = engine.render(edit)
    assert engine.stats["generations"] == 1, "the same G on the same inputs drew the face again"
    assert np.array_equal(released.image, preview.image)
    released.image[:] = 0  # a caller's change to its face is not the next caller's
    assert np.array_equal(engine.render(edit).image, preview.image)

    again = stroked.copy()
    again[40:44, 20:24] = HAIR  # another stroke: G draws again, and after a forget too
    engine.render(Edit(again, Reference(face_a, mask_a)))
    assert engine.stats["generations"] == 2
    engine.forget_generated_faces()
    assert np.array_equal(engine.render(edit).image, preview.image)
    assert engine.stats["generations"] == 3


def test_random_part_styles_are_seeded(engine, faces):
    (face_a, mask_a), _ = faces

    def codes(seed):
        return engine.edit_codes(Edit(mask_a, Reference(face_a, mask_a), random_parts={"hair": (seed, 1.0)}))

    assert np.array_equal(codes(3), codes(3))
    assert not np.array_equal(codes(3)[HAIR], codes(4)[HAIR])
    base = engine.encode_styles(face_a, mask_a)
    assert np.array_equal(np.delete(codes(3), HAIR, axis=0), np.delete(base, HAIR, axis=0))


def test_random_parts_without_a_mapping_network_are_refused(tmp_path, faces):
    (face_a, mask_a), _ = faces
    CA2SIS(get_config("tiny")).save_pretrained(tmp_path)
    engine = Engine.from_pretrained(tmp_path, device="cpu", backend="torch")
    assert not engine.has_mapping
    with pytest.raises(WeightsError, match="mapping network"):
        engine.render(Edit(mask_a, Reference(face_a, mask_a), random_parts={"hair": (1, 1.0)}))


def test_attention_maps_share_each_pixel_among_the_classes(engine, faces):
    (face_a, mask_a), _ = faces
    result = engine.render(Edit(mask_a, Reference(face_a, mask_a)))
    assert result.attention.shape[0] == 19
    np.testing.assert_allclose(result.attention.sum(axis=0), 1.0, atol=1e-4)
    hair = result.attention_map("hair")
    assert hair.shape == (64, 64) and 0 <= hair.min() and hair.max() <= 1
    overlay = attention_overlay(result.image, result.attention, "hair")
    assert overlay.shape == result.image.shape and overlay.dtype == np.uint8


def _save(tmp_path, name, image):
    path = tmp_path / name
    image.save(path)
    return path


def test_faces_of_any_mode_and_masks_of_any_size_or_colour_coding_are_accepted(engine, faces, tmp_path):
    (face_a, mask_a), _ = faces
    rgb = Image.fromarray(face_a)
    reference = engine.load_image(face_a)
    grey = engine.load_image(_save(tmp_path, "grey.png", rgb.convert("L")))
    assert grey.shape == (64, 64, 3) and (grey[..., 0] == grey[..., 1]).all()
    rgba = rgb.convert("RGBA")
    assert np.array_equal(engine.load_image(_save(tmp_path, "rgba.png", rgba)), reference)
    cmyk = engine.load_image(_save(tmp_path, "cmyk.jpg", rgb.convert("CMYK")))
    assert np.abs(cmyk.astype(int) - reference).mean() < 12  # JPEG loses a little
    sixteen = Image.fromarray(face_a[..., 0].astype(np.uint16) * 257)
    assert sixteen.mode == "I;16"
    assert np.array_equal(engine.load_image(_save(tmp_path, "16bit.png", sixteen))[..., 0], face_a[..., 0])
    assert np.array_equal(engine.load_image(face_a.astype(np.float32) / 255), reference)
    big = rgb.resize((256, 256))
    assert engine.load_image(big).shape == (64, 64, 3)

    coloured = np.array(COLORS, np.uint8)[mask_a]
    assert np.array_equal(engine.load_mask(coloured), mask_a)
    assert np.array_equal(engine.load_mask(_save(tmp_path, "coloured.png", Image.fromarray(coloured))), mask_a)
    doubled = np.kron(mask_a, np.ones((2, 2), np.uint8))
    assert np.array_equal(engine.load_mask(doubled), mask_a)  # 128 → 64, nearest


def test_bad_inputs_get_clear_errors(engine, faces, tmp_path, monkeypatch):
    (face_a, mask_a), (face_b, mask_b) = faces

    def render(**changes):
        edit = Edit(mask_a, Reference(face_a, mask_a))
        for key, value in changes.items():
            setattr(edit, key, value)
        return engine.render(edit)

    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(DataError, match="corrupt.jpg: cannot decode"):
        render(style=Reference(corrupt, mask_a))
    with pytest.raises(DataError, match="outside 0..18"):
        render(mask=np.full((64, 64), 19, np.uint8))
    with pytest.raises(DataError, match="not in the CelebAMask-HQ palette"):
        render(mask=np.full((64, 64, 3), 7, np.uint8))
    with pytest.raises(DataError, match="whole class indices"):
        render(mask=mask_a + 0.5)
    with pytest.raises(DataError, match="64x48; ca2sis works on square"):
        render(style=Reference(face_a[:48], mask_a))
    monkeypatch.setattr(engine, "face_reader", None)  # as when no face parser is installed
    with pytest.raises(DataError, match="no mask was given"):
        render(style=Reference(face_a))
    with pytest.raises(DataError, match="unknown part 'tail'"):
        render(part_styles={"tail": (Reference(face_b, mask_b), 1.0)})
    with pytest.raises(DataError, match="between 0 and 1"):
        render(part_styles={"hair": (Reference(face_b, mask_b), 1.5)})
    with pytest.raises(DataError, match="has no hat"):
        render(part_styles={"hat": (Reference(face_b, mask_b), 1.0)})
    with pytest.raises(DataError, match="too large"):
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
        render(style=Reference(_save(tmp_path, "bomb.png", Image.fromarray(face_a)), mask_a))


def test_weights_of_another_config_truncated_or_pickled_are_refused(weights, tmp_path):
    with pytest.raises(WeightsError, match="config 'tiny', not 'lite'"):
        Engine.from_pretrained(weights, device="cpu", backend="torch", expected_config="lite")
    broken = tmp_path / "broken"
    broken.mkdir()
    for path in weights.iterdir():
        (broken / path.name).write_bytes(path.read_bytes())
    data = (broken / "generator.safetensors").read_bytes()
    (broken / "generator.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="truncated or corrupt"):
        Engine.from_pretrained(broken, device="cpu")
    torch.save({"weight": torch.zeros(1)}, broken / "generator.safetensors")
    with pytest.raises(WeightsError, match="is a pickle"):
        Engine.from_pretrained(broken, device="cpu")
    with pytest.raises(WeightsError, match="no config.json"):
        Engine.from_pretrained(tmp_path, device="cpu")


@pytest.mark.slow
def test_the_onnx_backend_matches_torch(tiny_onnx_weights, faces):
    weights = tiny_onnx_weights
    differences = check_parity(weights)
    assert max(differences.values()) < 1e-3, differences
    (face_a, mask_a), (face_b, mask_b) = faces
    onnx = Engine.from_pretrained(weights, device="cpu", backend="onnx")
    torch_engine = Engine.from_pretrained(weights, device="cpu", backend="torch")
    assert onnx.description.startswith("onnx CPU")
    edit = Edit(mask_a, Reference(face_a, mask_a), part_styles={"hair": (Reference(face_b, mask_b), 0.7)},
                part_shapes={"nose": (mask_b, 0.5)}, random_parts={"u_lip": (5, 1.0)})
    a, b = onnx.render(edit), torch_engine.render(edit)
    assert np.abs(a.image.astype(int) - b.image).max() <= 1
    np.testing.assert_allclose(a.attention, b.attention, atol=1e-4)
    assert Engine.from_pretrained(weights, device="cpu").backend.name == "onnx"  # auto: the faster one


def test_the_onnx_backend_matches_torch_with_a_pixel_norm_generator(tiny_onnx_weights, tmp_path):
    config = get_config("tiny").replace(name="tiny-pn", generator_norm="pixel")
    folder = export_with_new_generator(tiny_onnx_weights, tmp_path / "pixel", config)  # exports G only
    differences = check_parity(folder)
    assert max(differences.values()) < 1e-3, differences


def test_an_onnx_export_of_other_weights_is_refused(tiny_onnx_weights, tmp_path):
    weights = tiny_onnx_weights
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in weights.iterdir():
        if path.name != "generator.onnx":
            (copy / path.name).write_bytes(path.read_bytes())
    with pytest.raises(WeightsError, match="run `ca2sis-export"):
        Engine.from_pretrained(copy, device="cpu", backend="onnx")
    assert Engine.from_pretrained(copy, device="cpu").backend.name == "torch"  # auto falls back
    (copy / "generator.onnx").write_bytes((weights / "generator.onnx").read_bytes())
    styled_random_model(get_config("tiny"), seed=1).save_pretrained(copy)  # retrained: new weights
    with pytest.raises(WeightsError, match="exported from other weights"):
        Engine.from_pretrained(copy, device="cpu", backend="onnx")


@pytest.mark.slow
def test_the_half_precision_graphs_a_gpu_runs_agree_with_float32(weights, faces):
    from ca2sis.model.inference.backends import TorchBackend

    (face_a, mask_a), _ = faces
    model = CA2SIS.from_pretrained(weights)
    full = Engine(model, TorchBackend(model, "cpu"))
    half_model = CA2SIS.from_pretrained(weights)
    half = Engine(half_model, TorchBackend(half_model, "cpu", dtype=torch.float16))
    assert "float16" in half.description
    a, b = full.render(Edit(mask_a, Reference(face_a, mask_a))), half.render(Edit(mask_a, Reference(face_a, mask_a)))
    assert np.abs(a.image.astype(int) - b.image).mean() < 2
    np.testing.assert_allclose(a.attention, b.attention, atol=2e-2)


@pytest.mark.slow
def test_renders_from_several_threads_give_the_sequential_results(tiny_onnx_weights, faces):
    weights = tiny_onnx_weights
    # The studio renders on a worker thread while the window may ask for codes itself.
    from concurrent.futures import ThreadPoolExecutor

    (face_a, mask_a), (face_b, mask_b) = faces
    edits = [
        Edit(mask_a, Reference(face_a, mask_a)),
        Edit(mask_b, Reference(face_b, mask_b), part_styles={"hair": (Reference(face_a, mask_a), 0.5)}),
        Edit(mask_a, Reference(face_b, mask_b), part_shapes={"nose": (mask_b, 1.0)}),
    ]
    expected = [Engine.from_pretrained(weights, device="cpu", backend="torch").render(e).image for e in edits]
    shared = Engine.from_pretrained(weights, device="cpu", backend="onnx")
    with ThreadPoolExecutor(max_workers=3) as pool:
        images = list(pool.map(lambda edit: shared.render(edit).image, edits * 4))
    for index, image in enumerate(images):
        assert np.abs(image.astype(int) - expected[index % 3]).max() <= 1


def test_the_onnx_backend_builds_no_torch_network(tiny_onnx_weights, faces, monkeypatch):
    weights = tiny_onnx_weights
    def refuse(*_args, **_kwargs):
        raise AssertionError("a torch network was built for the ONNX backend")

    monkeypatch.setattr(CA2SIS, "from_pretrained", refuse)
    monkeypatch.setattr(CA2SIS, "__init__", refuse)
    engine = Engine.from_pretrained(weights, device="cpu", backend="onnx")
    (face, mask), _ = faces
    assert engine.backend.name == "onnx" and engine.reconstruct(face, mask).shape[-1] == 3


def test_a_reference_with_one_eye_closed_lends_its_open_eye_to_both(engine, faces):
    (face_a, mask_a), (face_b, mask_b) = faces
    left, right = part_index("l_eye"), part_index("r_eye")
    assert (mask_b == left).any() and (mask_b == right).any()
    winking = mask_b.copy()
    winking[winking == left] = part_index("skin")  # the left eye closed: no left eye in the mask
    edit = Edit(mask_a, Reference(face_a, mask_a),
                part_styles={"l_eye": (Reference(face_b, winking), 1.0), "r_eye": (Reference(face_b, winking), 1.0)})
    codes = engine.edit_codes(edit)  # refused before: "its mask has no l_eye"
    open_eye = engine.encode_styles(face_b, winking)
    np.testing.assert_allclose(codes[left], open_eye[right], atol=1e-6)
    np.testing.assert_allclose(codes[right], open_eye[right], atol=1e-6)
    # The photo pipeline says so (ca2sis-edit prints it as a note).
    notes = PhotoPipeline(engine).plan(edit).notes
    assert any("no l_eye" in note and "r_eye" in note for note in notes)
    no_eyes = winking.copy()
    no_eyes[no_eyes == right] = part_index("skin")
    with pytest.raises(DataError, match="no l_eye"):  # neither eye: nothing to take, said so
        engine.edit_codes(Edit(mask_a, Reference(face_a, mask_a), part_styles={"l_eye": (Reference(face_b, no_eyes),
                                                                                          1.0)}))


def test_a_live_frame_is_planned_without_the_full_resolution_remake_and_a_saved_photo_with_it(engine, faces):
    (face_a, mask_a), (_, mask_b) = faces
    edit = Edit(mask_a, Reference(face_a, mask_a), part_shapes={"hair": (mask_b, 1.0)})
    pipeline = PhotoPipeline(engine)
    assert pipeline.render(edit, preview=True).finish.remake is False  # the frames while the slider moves
    assert pipeline.render(edit).finish.remake is True  # the frame at release


def test_hair_restyled_and_reshaped_from_a_reference_grows_with_the_references_strands(engine, faces):
    (face_a, mask_a), (face_b, mask_b) = faces
    hair = part_index("hair")
    edit = Edit(mask_a, Reference(face_a, mask_a), part_styles={"hair": (Reference(face_b, mask_b), 1.0)},
                part_shapes={"hair": (mask_b, 1.0)})
    picture, region = PhotoPipeline(engine).plan(edit).exemplars[hair]  # what the new hair's texture is copied from
    assert region.shape == picture.shape[:2] and region.any()
    np.testing.assert_allclose(picture[region].mean(axis=0), face_b[mask_b == hair].mean(axis=0), atol=4)
    assert not PhotoPipeline(engine).plan(Edit(mask_a, Reference(face_a, mask_a), part_shapes={"hair": (mask_b, 1.0)})
                                          ).exemplars  # a shape alone: the photo's own hair


def test_any_whole_number_is_a_seed_negative_ones_included(tiny_weights, face_files, tmp_path):
    face, mask = face_files
    engine = Engine.from_pretrained(tiny_weights, device="cpu", backend="torch")
    assert np.array_equal(engine.random_codes(-1), engine.random_codes(2**63 - 1))  # -1 % 2**63
    assert not np.array_equal(engine.random_codes(-1), engine.random_codes(-2))
    assert np.isfinite(engine.random_codes(-(10**30))).all()
    out = tmp_path / "o.png"
    assert edit_on_torch("--mask", str(mask), "--style", str(face), "--style-mask", str(mask),
                         "--random-part", "hair:-1", "--out", str(out), weights=tiny_weights) == 0
    assert out.exists()
