"""`ca2sis-parse`: a portrait photo → its 19-class mask (and the aligned face).

    ca2sis-parse PHOTO.jpg --out MASK.png [--aligned-out FACE.png] [--colour-out VIEW.png]
    ca2sis-parse PHOTO.jpg --list-faces [--json]     (every face, numbered left to right, with its box)

The mask is a palette PNG: each pixel's value is its class index (what every ca2sis tool
reads) and it shows in the CelebAMask-HQ colours in any image viewer. It is the mask of
the aligned face (CelebA-HQ framing), not of the photo. Exit codes: 0 written; 2 a photo
that cannot be used (unreadable, no face); 3 parser weights missing or unusable.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import DataError
from ..faces.align import NoFaceFound, load_photo
from ..faces.reader import FaceReader, default_parser_weights
from ..io.images import MIN_INPUT_SIZE, mask_image, save_pngs
from ..labels import CLASS_NAMES, DISPLAY_NAMES, colorize
from .common import EXIT_OK, ArgumentParser, check_outputs, run_cli

MAX_SIZE = 4096  # side of the aligned face: beyond it the parser's upsampled logits alone take gigabytes


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(
        prog="ca2sis-parse",
        description="Find the face in a photo, align it to the CelebA-HQ framing and parse it into 19 classes.",
        epilog="Exit codes: 0 written, 2 unusable photo (unreadable, no face), 3 parser weights missing or unusable.",
    )
    parser.add_argument("photo", help="a portrait photo (any size and format Pillow reads)")
    parser.add_argument("--out", type=Path, help="where to write the mask (palette PNG); required unless --list-faces")
    parser.add_argument("--list-faces", action="store_true",
                        help="list every face found in PHOTO, numbered left to right as `ca2sis-edit --face N` takes "
                        "them, with its box (left, top, width, height in photo pixels); writes nothing")
    parser.add_argument("--aligned-out", type=Path, help="also write the aligned face the mask belongs to")
    parser.add_argument("--colour-out", type=Path, help="also write the mask in colour over the aligned face")
    parser.add_argument("--size", type=int, default=512, help="side of the aligned face and mask (default 512)")
    parser.add_argument("--no-align", action="store_true", help="the photo is already an aligned square face")
    parser.add_argument("--whole-if-no-face", action="store_true",
                        help="when no face is found in a square picture, use the whole picture as the aligned face")
    parser.add_argument("--weights", type=Path, help="parser weights folder (default: the bundled one)")
    parser.add_argument("--json", action="store_true", help="print what was found as JSON")
    args = parser.parse_args(argv)
    if args.list_faces:
        if args.out or args.aligned_out or args.colour_out:
            parser.error("--list-faces writes nothing: leave out --out, --aligned-out and --colour-out")
        return run_cli(lambda: _list_faces(args))
    if args.out is None:
        parser.error("--out is required (unless --list-faces)")
    return run_cli(lambda: _parse(args))


def _list_faces(args: argparse.Namespace) -> int:
    """Every face of the photo with its number, box and whether it can be edited alone."""
    from ..faces.align import FaceAligner
    from ..faces.group import faces_in_photo

    start = time.perf_counter()
    name = Path(args.photo).name
    pixels = load_photo(args.photo)
    try:
        faces = faces_in_photo(FaceAligner().align_all(pixels, args.size))
    except NoFaceFound as error:  # said with the photo's name
        raise NoFaceFound(f"{name}: {str(error).split(': ', 1)[-1]}") from None
    milliseconds = (time.perf_counter() - start) * 1000
    if args.json:
        print(json.dumps({"photo": str(args.photo), "size": [pixels.shape[1], pixels.shape[0]],
                          "faces": [face.as_dict() for face in faces], "milliseconds": round(milliseconds, 1)},
                         indent=2))
        return EXIT_OK
    count = f"{len(faces)} face{'s' if len(faces) > 1 else ''}"
    print(f"{name}: {count}, numbered left to right (ca2sis-edit --paste-back PHOTO --face N edits one)")
    for face in faces:
        left, top, right, bottom = face.box
        notes = [note for note in ("cut by the frame" if face.cut_by_frame else "",
                                   f"cannot be edited alone: {face.problem}" if face.problem else "") if note]
        print(f"  face {face.number}: box {left},{top} {right - left}x{bottom - top}"
              + (f" ({'; '.join(notes)})" if notes else ""))
    return EXIT_OK


def _parse(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    if not MIN_INPUT_SIZE <= args.size <= MAX_SIZE:
        raise DataError(f"--size {args.size}: choose a side between {MIN_INPUT_SIZE} and {MAX_SIZE}")
    weights = Path(args.weights or default_parser_weights())
    outputs = [(option, path) for option, path in
               (("--out", args.out), ("--aligned-out", args.aligned_out), ("--colour-out", args.colour_out))
               if path is not None]
    # All outputs checked before any is written: none may be the photo, a weights file or another output.
    check_outputs(outputs, [args.photo, weights if weights.is_dir() else None])
    reader = FaceReader(weights, size=args.size)
    try:
        parsed = reader.read(args.photo, align=not args.no_align)
    except NoFaceFound as exc:
        side = _square_side(args.photo)
        # The whole picture is a usable face only if square and not below the smallest face size.
        usable_whole = side is not None and side >= MIN_INPUT_SIZE
        if not (usable_whole and args.whole_if_no_face):
            hint = ""
            if usable_whole:
                hint = " (it is square: --whole-if-no-face uses the whole picture as the aligned face)"
            elif side is not None and args.whole_if_no_face:
                hint = f" (--whole-if-no-face needs a picture of at least {MIN_INPUT_SIZE}x{MIN_INPUT_SIZE} pixels)"
            raise NoFaceFound(f"{exc}{hint}") from None
        print("no face found: using the whole picture as the aligned face", file=sys.stderr)
        parsed = reader.read(args.photo, align=False)
    images = [(mask_image(parsed.mask), args.out)]
    if args.aligned_out:
        images.append((Image.fromarray(parsed.image), args.aligned_out))
    if args.colour_out:
        overlay = (0.5 * parsed.image + 0.5 * colorize(parsed.mask)).astype(np.uint8)
        images.append((Image.fromarray(overlay), args.colour_out))
    save_pngs(images)
    milliseconds = (time.perf_counter() - start) * 1000
    present = [CLASS_NAMES[c] for c in np.unique(parsed.mask)]
    if args.json:
        # "classes": the dataset's names, for scripts; "parts": the names a person reads ("Earring", not "ear_r").
        parts = [DISPLAY_NAMES[c] for c in np.unique(parsed.mask)]
        summary = {"out": str(args.out), "size": args.size, "classes": present, "parts": parts,
                   "aligned": parsed.alignment is not None, "milliseconds": round(milliseconds, 1)}
        if parsed.alignment is not None:
            summary["photo_to_face"] = np.round(parsed.alignment.matrix, 6).tolist()
        print(json.dumps(summary, indent=2))
    else:
        print(f"wrote {args.out} ({args.size}x{args.size}, {len(present)} classes, {milliseconds:.0f} ms)")
    return EXIT_OK


def _square_side(photo: str) -> int | None:
    """The side of a square picture; None when it is not square or does not open."""
    try:
        with Image.open(photo) as image:
            return image.width if image.width == image.height else None
    except OSError:
        return None


if __name__ == "__main__":
    sys.exit(main())
