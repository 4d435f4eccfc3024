"""`ca2sis-edit --paste-back` over several faces of a photo (``--face N`` / ``--face all``) and
over a folder of photos (``--paste-back DIR --out OUTDIR``).

Faces are numbered left to right (``ca2sis-parse --list-faces`` prints them). With
``--face all`` the same edit is applied to each face in turn, each one's result pasted into
the photo before the next, and every edit is kept to its own face's share of the photo
(``faces/group.py``): the other faces keep their bytes.

A folder is edited with one engine and one pipeline (the networks and the references'
styles are loaded once). A photo that fails is reported and skipped; the rest go on. Exit
codes: 0 every photo written (or its result kept), ``EXIT_SOME_FAILED`` some failed, 2 none
written and some failed (or the folder has no photos).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import CA2SISError, DataError, describe_error
from ..inference.edits import Edit, Reference
from ..io.images import photo_format, save_images
from .common import EXIT_INPUT, EXIT_OK, EXIT_SOME_FAILED, check_outputs

if TYPE_CHECKING:  # imported where they are used: torch loads only once a request has been checked
    from ..inference.engine import Engine
    from ..photo.pipeline import PhotoPipeline, Rendered
    from ..photo.source import SourcePhoto

# The photos of a folder that are edited (by name; hidden files are left alone).
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
# Results keep their photo's format when it is one ca2sis writes; any other is written as PNG.
WRITTEN_SUFFIXES = (".jpg", ".jpeg", ".png")

EditFromArgs = Callable[[argparse.Namespace, object, Reference], Edit]


def add_photo_arguments(group: argparse._ArgumentGroup) -> None:
    """``--face`` and ``--overwrite`` in ``ca2sis-edit``'s photo options."""
    group.add_argument("--face", metavar="N|all",
                       help="with --paste-back: edit face N (1 is the leftmost; `ca2sis-parse --list-faces PHOTO` "
                       "numbers them) or every face in turn ('all'); default: the largest face. Every other face "
                       "keeps its exact pixels")
    group.add_argument("--overwrite", action="store_true",
                       help="with --paste-back DIR: replace results that exist already in --out (default: keep them)")


def photo_reader(engine: Engine, reader=None):
    """One face reader for the photos and the engine's references: the engine's bundled reader
    (its aligner and parser load on first use) parses the references given without a mask, and
    the photo read with ``reader`` before the engine loaded is read with the same aligner and
    parser. Two readers loaded dlib's landmark model and the parser twice (0.9 s more a photo edit)."""
    from ..faces.reader import FaceReader

    bundled = engine.face_reader
    if reader is None:
        return bundled if isinstance(bundled, FaceReader) else FaceReader()
    if isinstance(bundled, FaceReader) and (bundled.weights, bundled.size) == (reader.weights, reader.size):
        engine.face_reader = reader
    return reader


def is_folder(path: str | Path) -> bool:
    return Path(path).is_dir()


@dataclass
class EditedPhoto:
    """A photo with the chosen faces edited: its ``pixels``, ICC ``profile``, the ``faces``
    edited (numbers), why the others were left (``left``), and the last face's render."""

    pixels: np.ndarray
    profile: bytes | None
    faces: list[int]
    left: list[str] = field(default_factory=list)
    last: Rendered | None = None


def edit_photo(pipeline: PhotoPipeline, reader, args: argparse.Namespace, photo: str | Path,
               edit_from_args: EditFromArgs) -> EditedPhoto:
    """``photo`` with the faces ``args.face`` names edited as the options say, one after the other."""
    from ..faces.group import chosen_faces, faces_in_photo, keep_to_territory, skipped_faces
    from ..photo.source import SourcePhoto, read_photo, read_photo_faces

    if args.whole_picture:  # the picture is the face: one face, nothing else in it
        parsed, source = read_photo(reader, photo, whole_picture=True)
        rendered = _render(pipeline, args, edit_from_args, parsed, source)
        return EditedPhoto(rendered.photo, source.icc_profile, [1], last=rendered)
    pixels, alignments, name, profile = read_photo_faces(reader, photo)
    faces = faces_in_photo(alignments)
    chosen = chosen_faces(faces, args.face, name)
    current, rendered = pixels, None
    for index in chosen:
        parsed = reader.parse_aligned(alignments[index])
        source = SourcePhoto(current, alignments[index].matrix, reader.size, name, profile)
        rendered = _render(pipeline, args, edit_from_args, parsed, source)
        current = keep_to_territory(current, rendered.photo, faces, index)
    left = skipped_faces(faces) if args.face == "all" else []
    return EditedPhoto(current, profile, [index + 1 for index in chosen], left, rendered)


def _render(pipeline: PhotoPipeline, args: argparse.Namespace, edit_from_args: EditFromArgs, parsed,
            source: SourcePhoto) -> Rendered:
    from ..photo.paste import PhotoTarget

    mask = args.mask if args.mask is not None else parsed.mask
    style = Reference(args.style, args.style_mask) if args.style is not None else Reference(parsed.image, parsed.mask)
    target = PhotoTarget(source, parsed.mask, args.paste_region, style_from_photo=args.style is None)
    rendered = pipeline.render(edit_from_args(args, mask, style), target, full_photo=True)
    for note in rendered.finish.notes if rendered.finish is not None else ():
        print(f"note: {note}", file=sys.stderr)
    return rendered


def check_face_option(args: argparse.Namespace, several: bool) -> None:
    """Options that name one face's files cannot go with several faces or photos."""
    if args.face is not None and args.face != "all":
        from ..faces.group import parse_face_number

        parse_face_number(args.face)  # a bad number is refused before anything is loaded
    if args.face is not None and args.whole_picture:
        raise DataError("--face picks a face the finder found: it cannot go with --whole-picture")
    if several:
        for option, value in (("--mask", args.mask), ("--face-out", args.face_out), ("--attention", args.attention)):
            if value:
                raise DataError(f"{option} is about one face: it cannot go with --face all or a folder of photos")


def run_faces(args: argparse.Namespace, edit_from_args: EditFromArgs) -> dict:
    """``ca2sis-edit --paste-back PHOTO --face N|all``: the summary ``ca2sis-edit`` prints."""
    from ..devices import resolve_device
    from ..inference.engine import Engine
    from ..inference.visualise import attention_overlay
    from ..io.weights import default_weights, ensure_weights
    from ..labels import CLASS_NAMES, part_index
    from ..photo.pipeline import PhotoPipeline

    check_face_option(args, several=args.face == "all")
    attention_outputs = [(part_index(part), Path(path)) for part, _, path in
                         (text.partition("=") for text in args.attention)]
    resolve_device(args.device)
    weights = ensure_weights(args.weights or default_weights())
    outputs = [("--out", args.out), *((f"--attention {CLASS_NAMES[part]}", path) for part, path in attention_outputs)]
    if args.face_out is not None:
        outputs.append(("--face-out", args.face_out))
    check_outputs(outputs, [args.paste_back, args.style, args.style_mask, args.mask, weights])
    engine = Engine.from_pretrained(weights, device=args.device, backend=args.backend)
    edited = edit_photo(PhotoPipeline(engine), photo_reader(engine), args, args.paste_back, edit_from_args)
    for line in edited.left:
        print(f"warning: {line}", file=sys.stderr)
    last = edited.last
    pngs = [(attention_overlay(last.image, last.attention, part), path, "PNG") for part, path in attention_outputs]
    if args.face_out is not None:
        pngs.append((last.raw, args.face_out, "PNG"))
    save_images([(edited.pixels, args.out, photo_format(args.out)), *pngs], icc_profile=edited.profile)
    height, width = edited.pixels.shape[:2]
    return {"out": str(args.out), "size": engine.image_size, "backend": engine.description, "weights": str(weights),
            "milliseconds": {key: round(value, 1) for key, value in last.milliseconds.items()},
            "attention": [str(path) for _, path in attention_outputs],
            "pasted_into": {"photo": str(args.paste_back), "size": [width, height]},
            "faces": edited.faces, "faces_left": edited.left}


def result_path(photo: Path, out_folder: Path) -> Path:
    """Where the edit of ``photo`` goes: OUTDIR/<stem>-edited.<ext> (PNG for a format ca2sis does not write)."""
    suffix = photo.suffix if photo.suffix.lower() in WRITTEN_SUFFIXES else ".png"
    return out_folder / f"{photo.stem}-edited{suffix}"


def folder_photos(folder: Path) -> list[Path]:
    """The photos of ``folder`` (not its subfolders), by name."""
    return sorted(path for path in folder.iterdir()
                  if path.suffix.lower() in PHOTO_SUFFIXES and not path.name.startswith(".") and path.is_file())


def edit_folder(args: argparse.Namespace, edit_from_args: EditFromArgs,
                input_files: Callable[[Edit], list[object]]) -> int:
    """``ca2sis-edit --paste-back DIR --out OUTDIR``: the same edit for every photo of DIR."""
    from tqdm import tqdm

    from ..devices import resolve_device
    from ..inference.engine import Engine
    from ..io.weights import default_weights, ensure_weights
    from ..photo.pipeline import PhotoPipeline


    folder, out_folder = Path(args.paste_back), Path(args.out)
    check_face_option(args, several=True)
    if out_folder.exists() and not out_folder.is_dir():
        raise DataError(f"--out {out_folder}: with a folder of photos, --out is the folder the results go to")
    if out_folder.resolve() == folder.resolve():
        raise DataError(f"--out {out_folder}: the results go to a folder of their own, not among the photos")
    photos = folder_photos(folder)
    if not photos:
        raise DataError(f"{folder}: no photos in the folder ({', '.join(PHOTO_SUFFIXES)})")
    load_start = time.perf_counter()
    resolve_device(args.device)
    weights = ensure_weights(args.weights or default_weights())
    # The references every photo's edit reads (an empty style stands for each photo's own face).
    template = edit_from_args(args, None, Reference(args.style, args.style_mask))
    references = [file for file in input_files(template) if isinstance(file, (str, Path))]
    engine = Engine.from_pretrained(weights, device=args.device, backend=args.backend)
    pipeline, reader = PhotoPipeline(engine), photo_reader(engine)
    load_seconds = time.perf_counter() - load_start
    out_folder.mkdir(parents=True, exist_ok=True)
    written: list[dict] = []
    kept: list[dict] = []
    failed: list[dict] = []
    taken: dict[Path, Path] = {}  # result → the photo it is the result of (two photos, one name)
    start = time.perf_counter()
    with tqdm(photos, desc="editing", unit="photo", file=sys.stderr, dynamic_ncols=True) as progress:
        for photo in progress:
            out = result_path(photo, out_folder)
            if out in taken:
                failed.append({"photo": str(photo), "reason": f"its result {out.name} is also {taken[out].name}'s"})
                progress.write(f"skipped {photo.name}: {failed[-1]['reason']}", file=sys.stderr)
                continue
            taken[out] = photo
            if out.exists() and not args.overwrite:
                kept.append({"photo": str(photo), "out": str(out)})
                continue
            try:
                check_outputs([("--out", out)], [photo, *references, weights])
                edited = edit_photo(pipeline, reader, args, photo, edit_from_args)
                save_images([(edited.pixels, out, photo_format(out))], icc_profile=edited.profile)
            except (CA2SISError, OSError) as error:  # this photo is skipped; the others go on
                failed.append({"photo": str(photo), "reason": _reason(error, photo)})
                progress.write(f"skipped {photo.name}: {failed[-1]['reason']}", file=sys.stderr)
                continue
            written.append({"photo": str(photo), "out": str(out), "faces": edited.faces, "faces_left": edited.left})
    seconds = time.perf_counter() - start
    summary = {"folder": str(folder), "out": str(out_folder), "photos": len(photos), "written": written,
               "kept": kept, "skipped": failed, "seconds": round(seconds, 2), "load_seconds": round(load_seconds, 2),
               "photos_per_minute": round(60 * len(written) / seconds, 2) if written and seconds > 0 else None,
               "backend": engine.description, "weights": str(weights)}
    _print_folder_summary(summary, args.json)
    if not failed:
        return EXIT_OK
    return EXIT_SOME_FAILED if written or kept else EXIT_INPUT


def _reason(error: BaseException, photo: Path) -> str:
    """Why ``photo`` failed, without its name in front (the summary says it once)."""
    reason = describe_error(error)
    for name in (f"{photo}: ", f"{photo.name}: "):
        if reason.startswith(name):
            return reason[len(name):]
    return reason


def _print_folder_summary(summary: dict, as_json: bool) -> None:
    if as_json:
        import json

        print(json.dumps(summary, indent=2))
        return
    rate = f", {summary['photos_per_minute']} photos/min" if summary["photos_per_minute"] else ""
    print(f"wrote {len(summary['written'])} of {summary['photos']} photos to {summary['out']} "
          f"({len(summary['skipped'])} skipped, {len(summary['kept'])} kept; {summary['seconds']:.0f} s{rate})")
    for entry in summary["written"]:
        faces = ", ".join(str(number) for number in entry["faces"])
        print(f"  wrote {entry['out']} (face{'s' if len(entry['faces']) > 1 else ''} {faces})")
    for entry in summary["kept"]:
        print(f"  kept {entry['out']} (it exists: --overwrite replaces it)")
    for entry in summary["skipped"]:
        print(f"  skipped {entry['photo']}: {entry['reason']}")
