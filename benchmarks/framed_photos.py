"""Test photos framed as people frame them, made from the validation faces, with true masks.

    python benchmarks/framed_photos.py --data ../shared/data/celebamask-mini [--out benchmarks/framed-photos]
    python benchmarks/framed_photos.py --data ../shared/data/celebamask-mini --fixtures tests/fixtures/framed

The faces of celebamask-mini are aligned 512 px crops (CelebA-HQ framing), so the hair that
runs past them is missing; real portraits are framed tighter, turned, lit and graded. Each
photo here is one validation face (``assets/splits/celebamask-mini-val.txt``, never a
training face) put through, in this order:

1. a new background (optional): the true background class replaced by a dark, a light or a
   textured background, composited through an alpha matte (closed-form matting on a trimap
   from the true mask, foreground colours re-estimated) so strands keep their soft edge;
2. a geometry: one affine map (scale, turn, placement) from the face's pixels into a
   width x height frame; pixels past the face's own crop are its mirror image (the hair and
   the clothes continue, no black wedges). The true mask goes through the same map
   (nearest neighbour), so hair past the aligned crop is labelled hair;
3. a grade (optional): ``ca2sis.model.evaluation.framed_set.grade_colours``, which the
   measure (``ca2sis-eval photo-edits``) also uses to render a reference person's un-graded
   colour under a photo's light.

Written: ``NAME.jpg`` (JPEG quality 92), ``NAME.png`` (the true class mask, 8-bit index
PNG, 0..18 in the CelebAMask-HQ order) and ``photos.json`` (per photo: the face, the kind,
the hair and skin it shows, the geometry matrix, the background and the grade, exactly).
Deterministic: the same data gives the same files.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ca2sis.model.evaluation.framed_set import Grade, grade_colours, validation_faces, vignette_gain

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "benchmarks" / "framed-photos"
FACE_SIDE = 512  # the data set's aligned faces
BACKGROUND = 0  # the CelebAMask-HQ class of everything that is not the person
JPEG_QUALITY = 92
MATTE_BAND = 20  # px (at 512) each side of the true background's edge left to the matting (masks are coarse)
MIRROR_TOP, MIRROR_SIDES, MIRROR_BOTTOM = 6, 64, 110  # face px the frame may reach past the face's crop


@dataclass(frozen=True)
class PhotoSpec:
    """One framed photo: which validation face (its line in the list, 0-based), what was done."""

    name: str
    face: int
    kind: str  # tight | tilted | background | low-key | graded
    size: tuple[int, int]  # width, height of the photo
    scale: float  # photo pixels per face pixel
    angle: float = 0.0  # degrees, counter-clockwise
    centre: tuple[float, float] = (0.5, 0.5)  # where the face's centre lands, as a share of width, height
    background: str = ""  # "", dark, light, textured
    grade: Grade = field(default_factory=Grade)
    notes: str = ""  # what the photo shows (hair, skin), for choosing edits and reading results


WARM = (1.14, 1.0, 0.80)
COLD = (0.84, 0.97, 1.18)
GREEN = (0.92, 1.08, 0.90)

SPECS: tuple[PhotoSpec, ...] = (
    # Tight crops: the face fills most of the frame; hair cut by the frame and running past the aligned crop.
    PhotoSpec("tight-blonde-long", 12, "tight", (680, 760), 1.55, centre=(0.5, 0.50),
              notes="light straight hair, light skin"),
    PhotoSpec("tight-dark-long", 55, "tight", (640, 800), 1.5, centre=(0.5, 0.46), notes="dark long hair, light skin"),
    PhotoSpec("tight-dark-fringe", 18, "tight", (720, 720), 1.65, centre=(0.5, 0.56),
              notes="dark hair, fringe at the frame"),
    PhotoSpec("tight-blonde-fringe", 23, "tight", (700, 760), 1.6, centre=(0.5, 0.56),
              notes="light hair, fringe at the frame"),
    PhotoSpec("tight-dark-curly", 53, "tight", (660, 760), 1.45, centre=(0.48, 0.52),
              notes="dark curly hair, medium skin"),
    PhotoSpec("tight-light-curly", 14, "tight", (720, 720), 1.4, centre=(0.5, 0.52),
              notes="light curly hair, light skin"),
    PhotoSpec("tight-black-fringe", 91, "tight", (640, 720), 1.5, centre=(0.5, 0.56),
              notes="black hair, fringe, medium skin"),
    PhotoSpec("tight-blonde-fringe-long", 48, "tight", (680, 800), 1.45, centre=(0.5, 0.5),
              notes="light hair, fringe, long"),
    # Off-centre and turned faces; the frame past the face is its mirror image.
    PhotoSpec("tilted-dark-skin", 1, "tilted", (760, 640), 1.15, angle=12, centre=(0.44, 0.56),
              notes="dark hair, dark skin"),
    PhotoSpec("tilted-auburn-curly", 20, "tilted", (740, 740), 1.2, angle=-9, centre=(0.6, 0.5),
              notes="auburn curly hair"),
    PhotoSpec("tilted-blonde", 80, "tilted", (640, 820), 1.25, angle=16, centre=(0.46, 0.45), notes="light long hair"),
    PhotoSpec("tilted-black-dark-skin", 59, "tilted", (760, 680), 1.15, angle=-7, centre=(0.62, 0.5),
              notes="black hair, dark skin"),
    PhotoSpec("tilted-brown", 40, "tilted", (700, 700), 1.2, angle=19, centre=(0.45, 0.52), notes="brown long hair"),
    # The background replaced (soft matte): dark, light, textured.
    PhotoSpec("dark-bg-blonde", 5, "background", (720, 760), 1.3, centre=(0.5, 0.5),
              background="dark", notes="light hair on dark"),
    PhotoSpec("dark-bg-light-bob", 63, "background", (640, 680), 1.15, centre=(0.5, 0.5),
              background="dark", notes="light bob on dark"),
    PhotoSpec("light-bg-black", 65, "background", (700, 760), 1.3, centre=(0.5, 0.5),
              background="light", notes="black long hair on light"),
    PhotoSpec("light-bg-curly-dark-skin", 90, "background", (720, 720), 1.2, angle=-5, centre=(0.52, 0.5),
              background="light", notes="black curly hair on light, darker skin"),
    PhotoSpec("busy-bg-dark-curly", 34, "background", (720, 800), 1.3, centre=(0.5, 0.48),
              background="textured", notes="dark curly hair on a busy background"),
    PhotoSpec("busy-bg-light-curly", 71, "background", (760, 700), 1.2, angle=6, centre=(0.55, 0.5),
              background="textured", notes="light curly hair on a busy background"),
    # Low-key light: exposure down, a darker tone curve, a vignette.
    PhotoSpec("low-key-dark-skin", 28, "low-key", (700, 760), 1.25, centre=(0.5, 0.5),
              grade=Grade(exposure=0.62, gamma=1.15, vignette=0.55), notes="black hair, dark skin"),
    PhotoSpec("low-key-blonde", 43, "low-key", (720, 760), 1.3, angle=-6, centre=(0.46, 0.5),
              grade=Grade(exposure=0.5, gamma=1.2, vignette=0.6), notes="wavy light hair"),
    PhotoSpec("low-key-dark", 22, "low-key", (680, 720), 1.35, centre=(0.5, 0.5),
              grade=Grade(exposure=0.55, gamma=1.1, vignette=0.5), notes="dark wavy hair"),
    # Colour casts and desaturated grading.
    PhotoSpec("warm-cast-dark", 19, "graded", (700, 720), 1.3, centre=(0.5, 0.5),
              grade=Grade(white_balance=WARM, saturation=0.9), notes="dark hair, light skin, warm cast"),
    PhotoSpec("cold-desaturated-brown", 62, "graded", (700, 760), 1.3, angle=5, centre=(0.5, 0.5),
              grade=Grade(white_balance=COLD, saturation=0.45, exposure=0.9), notes="light brown hair, cold, grey"),
    PhotoSpec("green-cast-blonde", 94, "graded", (720, 720), 1.3, centre=(0.5, 0.52),
              grade=Grade(white_balance=GREEN, saturation=0.85), notes="blonde short hair, green cast"),
    PhotoSpec("moody-desaturated-blonde", 57, "graded", (700, 760), 1.25, centre=(0.5, 0.5),
              grade=Grade(saturation=0.3, exposure=0.8, gamma=1.08, vignette=0.3), notes="light hair, moody, grey"),
    PhotoSpec("cold-desaturated-dark", 2, "graded", (680, 760), 1.35, centre=(0.5, 0.48),
              grade=Grade(white_balance=COLD, saturation=0.4), notes="dark hair, cold and desaturated"),
)

# Two small framed photos for the unit tests (tests/fixtures/framed): a tight crop with the hair
# cut by the frame, and one on a dark background.
FIXTURES: tuple[PhotoSpec, ...] = (
    PhotoSpec("tight-dark-fringe-small", 18, "tight", (352, 352), 1.65 * 352 / 720, centre=(0.5, 0.56),
              notes="dark hair, fringe at the frame"),
    PhotoSpec("dark-bg-blonde-small", 5, "background", (336, 352), 1.3 * 352 / 760, centre=(0.5, 0.5),
              background="dark", notes="light hair on dark"),
)


# ---------------------------------------------------------------- backgrounds


def new_background(kind: str, side: int, seed: int) -> np.ndarray:
    """A plausible studio or room background, float 0..1 (side, side, 3)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float64) / side
    if kind == "dark":  # a dark studio backdrop, lit a little from the upper left
        tone = 0.055 + 0.06 * np.exp(-((xs - 0.25) ** 2 + (ys - 0.2) ** 2) / 0.18)
        image = tone[..., None] * np.array([1.0, 1.0, 1.12])
    elif kind == "light":  # a light grey-white wall with a soft fall-off
        tone = 0.9 - 0.1 * ((xs - 0.6) ** 2 + (ys - 0.3) ** 2)
        image = tone[..., None] * np.array([1.0, 0.99, 0.96])
    elif kind == "textured":  # a room or foliage out of focus: muted colour patches at a few scales, some bokeh
        shade = sum(weight * cv2.GaussianBlur(rng.random((side, side)), (0, 0), blur)
                    for blur, weight in ((48, 0.5), (16, 0.3), (6, 0.2)))
        hue = cv2.GaussianBlur(rng.random((side, side)), (0, 0), 40)
        shade = (shade - shade.mean()) / max(shade.std(), 1e-6)
        hue = (hue - hue.min()) / max(np.ptp(hue), 1e-6)
        olive, wood, slate = np.array([0.33, 0.36, 0.24]), np.array([0.50, 0.40, 0.30]), np.array([0.30, 0.33, 0.37])
        colour = np.where(hue[..., None] < 0.5, olive + (wood - olive) * (2 * hue[..., None]),
                          wood + (slate - wood) * (2 * hue[..., None] - 1))
        image = colour * (1.0 + 0.35 * np.tanh(shade))[..., None]
        bokeh = np.zeros((side, side))
        for _ in range(30):
            cy, cx, r = rng.integers(0, side), rng.integers(0, side), rng.integers(6, 20)
            cv2.circle(bokeh, (int(cx), int(cy)), int(r), float(rng.uniform(0.1, 0.35)), -1)
        image = image + cv2.GaussianBlur(bokeh, (0, 0), 3)[..., None] * np.array([1.0, 0.95, 0.8])
    else:
        raise ValueError(f"unknown background {kind!r}")
    return np.clip(image, 0.0, 1.0)


def replace_background(face: np.ndarray, mask: np.ndarray, kind: str, seed: int) -> np.ndarray:
    """The face over a new background through an alpha matte estimated from the true mask."""
    from pymatting import estimate_alpha_cf, estimate_foreground_ml

    image = face.astype(np.float64) / 255.0
    person = (mask != BACKGROUND).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * MATTE_BAND + 1, 2 * MATTE_BAND + 1))
    trimap = np.full(mask.shape, 0.5)
    trimap[cv2.erode(person, kernel) > 0] = 1.0
    trimap[cv2.erode(1 - person, kernel) > 0] = 0.0
    alpha = np.clip(estimate_alpha_cf(image, trimap), 0.0, 1.0)
    foreground = estimate_foreground_ml(image, alpha)
    background = new_background(kind, face.shape[0], seed)
    return np.clip(foreground * alpha[..., None] + background * (1 - alpha[..., None]), 0.0, 1.0) * 255.0


# ---------------------------------------------------------------- framing


def face_to_photo(spec: PhotoSpec) -> np.ndarray:
    """(2, 3): face pixels to photo pixels. The spec's scale is raised (about the same centre)
    until the frame lies inside the face's crop at the top (a mirrored head top looks like
    horns) and at most ``MIRROR_SIDES`` / ``MIRROR_BOTTOM`` face pixels past it elsewhere
    (mirrored hair and clothes pass for more of them over that distance, not beyond)."""
    width, height = spec.size
    corners = np.array([[0, 0, 1], [width, 0, 1], [0, height, 1], [width, height, 1]], np.float64)
    scale = spec.scale
    while True:
        matrix = cv2.getRotationMatrix2D((FACE_SIDE / 2, FACE_SIDE / 2), spec.angle, scale)
        matrix[:, 2] += np.array([spec.centre[0] * width, spec.centre[1] * height]) - FACE_SIDE / 2
        at = corners @ cv2.invertAffineTransform(matrix).T  # the frame's corners in face pixels
        if (at[:2, 1].min() >= -MIRROR_TOP and at[:, 0].min() >= -MIRROR_SIDES
                and at[:, 0].max() <= FACE_SIDE + MIRROR_SIDES and at[2:, 1].max() <= FACE_SIDE + MIRROR_BOTTOM):
            return matrix
        scale *= 1.01


def make_photo(spec: PhotoSpec, face: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The framed photo (uint8 RGB) and its true mask."""
    pixels = face.astype(np.float64)
    if spec.background:
        pixels = replace_background(face, mask, spec.background, seed=spec.face)
    matrix = face_to_photo(spec)
    photo = cv2.warpAffine(pixels.astype(np.float32), matrix, spec.size, flags=cv2.INTER_LANCZOS4,
                           borderMode=cv2.BORDER_REFLECT_101)
    true_mask = cv2.warpAffine(mask, matrix, spec.size, flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT_101)
    if not spec.grade.is_identity:
        photo = grade_colours(np.clip(photo, 0, 255) / 255.0, spec.grade, vignette_gain(spec.grade, spec.size)) * 255.0
    return np.clip(photo + 0.5, 0, 255).astype(np.uint8), true_mask


def describe(spec: PhotoSpec, face_id: str) -> dict:
    record = asdict(spec)
    record["face_id"] = face_id
    record["face_to_photo"] = face_to_photo(spec).round(6).tolist()
    record["grade"] = asdict(spec.grade)
    return record


def build(data: Path, out: Path, specs: tuple[PhotoSpec, ...], quality: int = JPEG_QUALITY) -> list[dict]:
    faces = validation_faces()
    out.mkdir(parents=True, exist_ok=True)
    records = []
    for spec in specs:
        face_id = faces[spec.face]
        face = np.array(Image.open(data / "images" / f"{face_id}.jpg").convert("RGB"))
        mask = np.array(Image.open(data / "masks" / f"{face_id}.png"))
        photo, true_mask = make_photo(spec, face, mask)
        Image.fromarray(photo).save(out / f"{spec.name}.jpg", quality=quality)
        Image.fromarray(true_mask).save(out / f"{spec.name}.png", optimize=True)
        records.append(describe(spec, face_id))
        print(f"{spec.name}: {spec.size[0]}x{spec.size[1]} from {face_id}")
    (out / "photos.json").write_text(json.dumps({
        "made_by": "python benchmarks/framed_photos.py --data ../shared/data/celebamask-mini",
        "source": "celebamask-mini validation faces (assets/splits/celebamask-mini-val.txt), 512 px aligned",
        "grade": "linear light: rgb * exposure * white_balance; saturation about Rec. 709 luminance; "
                 "* vignette gain (1 - vignette * r^2, r = 1 at the corners); sRGB ** gamma",
        "photos": records}, indent=1) + "\n")
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="celebamask-mini: images/*.jpg and masks/*.png")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--only", nargs="*", help="build only these photos (names)")
    parser.add_argument("--fixtures", type=Path, help="write the two small test photos here instead")
    args = parser.parse_args()
    if args.fixtures:
        build(args.data, args.fixtures, FIXTURES, quality=88)
        return
    specs = tuple(spec for spec in SPECS if not args.only or spec.name in args.only)
    build(args.data, args.out, specs)


if __name__ == "__main__":
    main()
