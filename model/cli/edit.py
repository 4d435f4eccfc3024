"""`ca2sis-edit`: generate or edit one face from the command line, no window needed.

    ca2sis-edit --mask M.png --style FACE.jpg --style-mask M.png --global --out OUT.png     (reconstruct)
    ca2sis-edit --mask M.png --style A.jpg --style-mask A.png \\
        --part hair=B.jpg:B.png --part l_eye=C.jpg:C.png@0.5 \\
        --shape nose=D.png:0.5 --random-part u_lip:7 --out OUT.png
    ca2sis-edit --paste-back PHOTO.jpg --part hair=B.jpg --out EDITED.jpg     (edit a face inside its photo)
    ca2sis-edit --paste-back GROUP.jpg --face all --part hair=B.jpg --out EDITED.jpg     (each face in turn)
    ca2sis-edit --paste-back FOLDER --part hair=B.jpg --out OUTFOLDER     (every photo of a folder)
    ca2sis-edit --style B.jpg --save-style hair=B-hair.ca2style         (keep a part's style as a file)
    ca2sis-edit --paste-back PHOTO.jpg --part hair=B-hair.ca2style@0.7 --out EDITED.jpg     (and use it)

Exit codes a script can rely on: 0 written; 2 bad arguments or an input that cannot be
used (corrupt file, mask out of range, unknown part...); 3 weights missing or unusable;
1 anything unexpected; 6 some photos of a folder failed (the others were written). Errors are
one line on stderr starting with "error:".
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

# Only what parsing and checking a request needs is imported here: torch and the networks
# (1-2 s of imports) load after the request is known to be good, so a typo is refused at once.
from ..errors import DataError, check_fraction
from ..inference.edits import Edit, Reference
from ..io.images import photo_format, save_images, save_pngs
from ..io.styles import STYLE_SUFFIX, SavedStyle, is_style_path, read_style, save_styles
from ..labels import CLASS_NAMES, has_face_parts, part_index, part_indices
from .common import EXIT_OK, ArgumentParser, check_outputs, run_cli
from .photos import add_photo_arguments, check_face_option, edit_folder, is_folder, photo_reader, run_faces

# A trailing @NUMBER is a strength; signs, exponents, inf and nan are matched too so that
# "@-1" is reported as a strength outside 0..1, not as part of a file name.
_NUMBER = r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?(?:inf|infinity|nan)"
_STRENGTH = re.compile(rf"^(.*)@({_NUMBER})$", re.IGNORECASE)


class UsageError(DataError):
    """A command-line value that cannot be parsed."""


def _split_part(text: str, option: str) -> tuple[str, str]:
    part, sep, rest = text.partition("=")
    if not sep or not part or not rest:
        raise UsageError(f"{option} {text!r}: expected PART=VALUE, e.g. {option} hair=face.jpg")
    return part, rest


def _split_files(text: str, option: str) -> tuple[str, str | None]:
    """"FACE" or "FACE:MASK"; a colon inside a path (C:\\...) is kept when FACE exists."""
    if ":" not in text:
        return text, None
    for position in [i for i, char in enumerate(text) if char == ":"]:
        left, right = text[:position], text[position + 1 :]
        if left and right and Path(left).is_file():
            return left, right
    if Path(text).exists():
        return text, None
    left, _, right = text.rpartition(":")
    if not Path(left).exists():
        raise DataError(f"{option}: file not found: {left}")
    return left, right


def _fraction(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{what}: {text!r} is not a number") from None
    return check_fraction(value, what)


def parse_part_style(text: str) -> tuple[str, Reference | SavedStyle, float]:
    """hair=REF.jpg[:REF_MASK.png][@STRENGTH], or hair=STYLE.ca2style[@STRENGTH] (a saved style)"""
    part, rest = _split_part(text, "--part")
    strength = 1.0
    match = _STRENGTH.match(rest)
    if match:
        rest, strength = match.group(1), _fraction(match.group(2), f"--part {part} strength")
    if is_style_path(rest):
        return part, read_style(rest), strength
    image, mask = _split_files(rest, f"--part {part}")
    return part, Reference(image, mask), strength


def parse_shape(text: str) -> tuple[str, str, float]:
    """nose=OTHER_MASK.png[:ALPHA] (ALPHA 1 by default: take the other shape whole)."""
    part, rest = _split_part(text, "--shape")
    path, sep, alpha = rest.rpartition(":")
    if sep and path and re.fullmatch(_NUMBER, alpha, re.IGNORECASE):
        return part, path, _fraction(alpha, f"--shape {part} alpha")
    return part, rest, 1.0


def parse_random_part(text: str) -> tuple[str, int, float]:
    """hair:SEED[:STRENGTH]"""
    pieces = text.split(":")
    if len(pieces) not in (2, 3) or not pieces[0]:
        raise UsageError(f"--random-part {text!r}: expected PART:SEED or PART:SEED:STRENGTH")
    try:
        seed = int(pieces[1])
    except ValueError:
        raise UsageError(f"--random-part {text!r}: the seed must be a whole number") from None
    strength = _fraction(pieces[2], f"--random-part {pieces[0]} strength") if len(pieces) == 3 else 1.0
    return pieces[0], seed, strength


def _input_files(edit: Edit) -> list[object]:
    """Every file an edit reads (faces, masks, shape sources)."""
    references = [edit.style, *(reference for reference, _ in edit.part_styles.values())]
    files = [edit.mask, *(mask for mask, _ in edit.part_shapes.values())]
    for reference in references:
        files += [reference.path] if isinstance(reference, SavedStyle) else [reference.image, reference.mask]
    return [file for file in files if file is not None]


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="ca2sis-edit",
        description="Generate a face from a semantic mask and reference faces with CA2-SIS.",
        epilog="Exit codes: 0 written, 2 bad arguments or input, 3 weights missing or unusable, 1 unexpected, "
        "6 some photos of a folder failed (the others were written).",
    )
    parser.add_argument("--mask", help="semantic mask to generate (index PNG or palette-coloured RGB); required "
                        "unless --paste-back gives it")
    parser.add_argument("--style", help="face every part takes its style from (any portrait photo); required unless "
                        "--paste-back gives it")
    parser.add_argument(
        "--style-mask", help="mask of the --style face (default: found by the face parser, which also aligns the photo)"
    )
    parser.add_argument(
        "--part", action="append", default=[], metavar="PART=FACE[:MASK][@STRENGTH]",
        help="take PART's style from another face (mask parsed if not given; strength 0..1, default 1), or from "
        f"a style saved with --save-style (PART=FILE{STYLE_SUFFIX}[@STRENGTH]); PART is a "
        "class (hair, u_lip, ...) or a pair (lips, eyes, brows, ears); repeatable",
    )
    parser.add_argument(
        "--shape", action="append", default=[], metavar="PART=MASK[:ALPHA]",
        help="interpolate PART's shape towards the same part of another mask (alpha 0..1, default 1); repeatable",
    )
    parser.add_argument(
        "--random-part", action="append", default=[], metavar="PART:SEED[:STRENGTH]",
        help="a random style for PART from the mapping network M_s; repeatable",
    )
    parser.add_argument("--out", type=Path, help="where to write the generated face (PNG); required unless "
                        "--save-style is given")
    parser.add_argument(
        "--attention", action="append", default=[], metavar="PART=FILE",
        help="also write PART's cross-attention map over the result to FILE; repeatable",
    )
    parser.add_argument("--weights", type=Path, default=None, help="weights folder (default: the bundled lite weights)")
    parser.add_argument("--backend", choices=("auto", "torch", "onnx"), default="auto",
                        help="auto: ONNX Runtime on the CPU when exported, else PyTorch (default)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="default: CUDA when present")
    parser.add_argument("--json", action="store_true", help="print what was done as JSON on stdout")
    paste = parser.add_argument_group("editing a face inside its photo")
    paste.add_argument("--paste-back", metavar="PHOTO|DIR", help="edit the face of PHOTO (a folder DIR: every photo in "
                       "it, with --out the folder the results go to, OUTDIR/NAME-edited.EXT): it is found, aligned "
                       "and parsed "
                       "(its mask and face are the default --mask and --style), and --out is the whole photo with "
                       "the generated face blended back in, at the photo's resolution (.jpg: JPEG, else PNG)")
    paste.add_argument("--paste-region", choices=("edited", "face"), default="edited",
                       help="what to paste back: only the restyled parts and repainted pixels (default: the "
                       "photo keeps its own pixels wherever nothing changed), or the whole face")
    paste.add_argument("--whole-picture", action="store_true",
                       help="with --paste-back: PHOTO is a square crop taken whole as the aligned face")
    add_photo_arguments(paste)
    finish = parser.add_argument_group("finishing (on by default: an edit looks like a photograph)")
    finish.add_argument("--global", dest="global_edit", action="store_true",
                        help="the network's raw output: every pixel generated, no confinement to the edited parts, "
                        "no detail transfer, no reference colour (the paper's global consistency)")
    finish.add_argument("--no-detail", action="store_true",
                        help="do not keep the photo's (or style face's) fine detail in restyled parts")
    finish.add_argument("--no-colour-match", action="store_true",
                        help="do not move a part restyled from a reference to the reference part's colour")
    paste.add_argument("--face-out", type=Path, help="with --paste-back: also write the generated aligned face")
    saved = parser.add_argument_group("part styles as files")
    saved.add_argument("--save-style", action="append", default=[], metavar=f"PART=FILE{STYLE_SUFFIX}",
                       help="write the style of the --style face's PART (a class or a pair) to FILE, to use later "
                       f"as --part PART=FILE{STYLE_SUFFIX}; no --out needed; repeatable")
    return parser


def edit_from_args(args: argparse.Namespace, mask, style: Reference) -> Edit:
    """The edit the options ask for, of the face with ``mask`` in the style of ``style``."""
    edit = Edit(mask=mask, style=style, confine=not args.global_edit,
                keep_detail=not (args.global_edit or args.no_detail),
                match_colour=not (args.global_edit or args.no_colour_match))
    for text in args.part:
        part, reference, strength = parse_part_style(text)
        edit.part_styles.update(dict.fromkeys(part_indices(part), (reference, strength)))
    for text in args.shape:
        part, mask, alpha = parse_shape(text)
        edit.part_shapes.update(dict.fromkeys(part_indices(part), (mask, alpha)))
    for text in args.random_part:
        part, seed, strength = parse_random_part(text)
        edit.random_parts.update(dict.fromkeys(part_indices(part), (seed, strength)))
    return edit


def _check_readable(option: str, file: str | Path) -> None:
    path = Path(file)
    if path.is_dir():
        raise DataError(f"{option}: {path} is a folder, not a file")
    if not path.exists():
        raise DataError(f"{option}: file not found: {path}")
    if not os.access(path, os.R_OK):  # no open(): a FIFO given as a file would block it
        raise DataError(f"{option}: {path} cannot be read (permission denied)")


def check_request(args: argparse.Namespace) -> None:
    """Everything about a request that can be checked without the networks: part names, that
    every input file exists and can be read, style files whole, and the outputs. A typo is
    reported at once instead of after the networks and the face reader have loaded (3.6-6 s)."""
    folder = args.paste_back is not None and is_folder(args.paste_back)
    if args.paste_back is not None:
        check_face_option(args, several=folder or args.face == "all")
    styles_written = {Path(path) for _, path in (parse_save_style(text) for text in args.save_style)}
    files: list[tuple[str, str | Path | None]] = [("--mask", args.mask), ("--style", args.style),
                                                   ("--style-mask", args.style_mask)]
    if args.paste_back is not None and not folder:
        files.append(("--paste-back", args.paste_back))
    for text in args.part:
        part, rest = _split_part(text, "--part")
        part_indices(part)
        match = _STRENGTH.match(rest)
        if Path(match.group(1) if match else rest) in styles_written:  # written by this very command first
            continue
        part, reference, _ = parse_part_style(text)  # a style file is read whole here: it is a few KiB
        if isinstance(reference, Reference):
            files += [(f"--part {part}", reference.image), (f"--part {part} mask", reference.mask)]
    for text in args.shape:
        part, mask, _ = parse_shape(text)
        part_indices(part)
        files.append((f"--shape {part}", mask))
    for text in args.random_part:
        part_indices(parse_random_part(text)[0])
    attention = [(part_index(part), Path(path)) for part, path in
                 (_split_part(text, "--attention") for text in args.attention)]
    for option, file in files:
        if file is not None:
            _check_readable(option, file)
    if folder or args.out is None:  # a folder's outputs are checked photo by photo; --save-style alone: its own
        return
    outputs = [("--out", args.out), *((f"--attention {CLASS_NAMES[part]}", path) for part, path in attention)]
    if args.face_out is not None:
        outputs.append(("--face-out", args.face_out))
    # The bundled weights' folder is checked with the rest by ``run`` (naming it imports torch).
    check_outputs(outputs, [file for _, file in files if file is not None] + [args.weights])


def run(args: argparse.Namespace) -> dict:
    if args.paste_back is not None and args.face is not None:  # faces chosen by number (or all of them)
        return run_faces(args, edit_from_args)
    from ..devices import resolve_device
    from ..inference.engine import Engine
    from ..inference.visualise import attention_overlay
    from ..io.weights import default_weights, ensure_weights
    from ..photo.paste import PhotoTarget
    from ..photo.pipeline import PhotoPipeline

    photo_face = photo = reader = None
    started = time.perf_counter()
    if args.paste_back is not None:
        from ..faces.reader import FaceReader
        from ..photo.source import read_photo

        reader = FaceReader()
        photo_face, photo = read_photo(reader, args.paste_back, args.whole_picture)
    read_seconds = time.perf_counter() - started
    mask = args.mask if args.mask is not None else photo_face.mask
    style = Reference(args.style, args.style_mask) if args.style is not None else Reference(
        photo_face.image, photo_face.mask)
    edit = edit_from_args(args, mask, style)
    attention_outputs = []
    for text in args.attention:
        part, path = _split_part(text, "--attention")
        attention_outputs.append((part_index(part), Path(path)))

    resolve_device(args.device)
    weights = ensure_weights(args.weights or default_weights())
    # Every output is checked before anything is read or written: none may be an input
    # (the weights' files included) or another output.
    outputs = [("--out", args.out), *((f"--attention {CLASS_NAMES[part]}", path) for part, path in attention_outputs)]
    if args.face_out is not None:
        outputs.append(("--face-out", args.face_out))
    photo_input = [args.paste_back] if args.paste_back is not None else []
    check_outputs(outputs, [*(file for file in _input_files(edit) if isinstance(file, (str, Path))), *photo_input,
                            weights])
    started = time.perf_counter()
    engine = Engine.from_pretrained(weights, device=args.device, backend=args.backend)
    load_seconds = time.perf_counter() - started
    if reader is not None:
        photo_reader(engine, reader)  # the references are parsed with the photo's reader: loaded once
    if args.style_mask is not None and not has_face_parts(engine.load_mask(args.style_mask)):
        print(f"warning: --style-mask {args.style_mask} has no face parts (no skin, eyes, brows, nose or "
              "mouth): the face generated with its styles will not look like a face", file=sys.stderr)
    target = None if photo is None else PhotoTarget(photo, photo_face.mask, args.paste_region,
                                                    style_from_photo=args.style is None)
    started = time.perf_counter()
    result = PhotoPipeline(engine).render(edit, target, full_photo=True)
    render_seconds = time.perf_counter() - started
    for note in result.finish.notes if result.finish is not None else ():
        print(f"note: {note}", file=sys.stderr)
    started = time.perf_counter()
    # All files or none: the images are made first, and nothing is written when any of them fails.
    pngs = [(attention_overlay(result.image, result.attention, part), path) for part, path in attention_outputs]
    if photo is not None:
        pasted = result.photo
        if args.face_out is not None:
            pngs.append((result.raw, args.face_out))
        # All or nothing, in the photo's colour space (its ICC profile) like the photo itself.
        save_images([(pasted, args.out, photo_format(args.out)), *((image, path, "PNG") for image, path in pngs)],
                    icc_profile=photo.icc_profile)
    else:
        save_pngs([(result.image, args.out), *pngs])
    summary = {
        "out": str(args.out),
        # The face written: the networks' side, or a painted face's at its style face's side.
        "size": engine.image_size if photo is not None else int(result.image.shape[0]),
        "backend": engine.description,
        "weights": str(weights),
        "milliseconds": {k: round(v, 1) for k, v in result.milliseconds.items()},
        # Where a run's time goes besides the engine's render (docs/speed.md: "A photo edit's wait").
        "seconds": {"read_photo": round(read_seconds, 3), "load_networks": round(load_seconds, 3),
                    "render": round(render_seconds, 3), "write": round(time.perf_counter() - started, 3)},
        "attention": [str(path) for _, path in attention_outputs],
    }
    if photo is not None:
        summary["pasted_into"] = {"photo": str(args.paste_back), "size": list(photo.size)}
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.save_style:
        if args.style is None:
            parser.error("--save-style takes the styles of the --style face: give --style FACE")
        if args.out is None:
            return run_cli(lambda: _checked(args, lambda: _save_styles(args)), _hint)
    if args.out is None:
        parser.error("--out is required (unless --save-style PART=FILE writes part styles only)")
    if args.paste_back is None and (args.mask is None or args.style is None):
        parser.error("--mask and --style are required, unless --paste-back PHOTO gives them")
    if args.face is not None and args.paste_back is None:
        parser.error(f"--face {args.face} picks a face of the --paste-back photo: give --paste-back PHOTO")
    if args.overwrite and not (args.paste_back is not None and is_folder(args.paste_back)):
        parser.error("--overwrite is for a folder of photos (--paste-back DIR): a single --out is always written")
    if args.paste_back is not None and is_folder(args.paste_back):  # the same edit for every photo of a folder
        if args.save_style:
            parser.error("--save-style cannot go with a folder of photos: save the style first, then use it with "
                         f"--part PART=FILE{STYLE_SUFFIX}")
        return run_cli(lambda: _checked(args, lambda: edit_folder(args, edit_from_args, _input_files)), _hint)
    return run_cli(lambda: _checked(args, lambda: _edit(args)), _hint)


def _checked(args: argparse.Namespace, body: Callable[[], int]) -> int:
    check_request(args)  # before anything slow is loaded
    return body()


def _hint(error: BaseException) -> str:
    return " (--style-mask MASK for --style, PART=FACE:MASK for --part)" if "no mask was given" in str(error) else ""


# ---- part styles as files (--save-style) -----------------------------------------------------
def parse_save_style(text: str) -> tuple[str, Path]:
    """hair=FILE.ca2style"""
    part, path = _split_part(text, "--save-style")
    part_indices(part)  # an unknown part is refused before anything is loaded
    if not is_style_path(path):
        raise UsageError(f"--save-style {text!r}: a style file's name ends in {STYLE_SUFFIX}, e.g. "
                         f"{part}={Path(path).stem}{STYLE_SUFFIX}")
    return part, Path(path)


def save_part_styles(args: argparse.Namespace) -> list[dict]:
    """Write the style of each --save-style part of the --style face: all files or none."""
    from ..devices import resolve_device
    from ..inference.engine import Engine
    from ..io.weights import default_weights, ensure_weights
    from ..photo.styles import part_style

    requests = [parse_save_style(text) for text in args.save_style]
    resolve_device(args.device)
    weights = ensure_weights(args.weights or default_weights())
    outputs = [(f"--save-style {part}", path) for part, path in requests]
    if args.out is not None:  # the edit run after it writes --out: the two must differ
        outputs.append(("--out", args.out))
    check_outputs(outputs, [args.style, args.style_mask, weights])
    engine = Engine.from_pretrained(weights, device=args.device, backend=args.backend)
    reference = Reference(args.style, args.style_mask)
    styles = [(part_style(engine, reference, part), path) for part, path in requests]
    save_styles(styles)
    return [{"file": str(path), "parts": [CLASS_NAMES[index] for index in style.parts], "source": str(args.style),
             "weights": style.weights_name, "weights_digest": style.weights_digest} for style, path in styles]


def _print_styles(written: list[dict]) -> None:
    for entry in written:
        print(f"wrote {entry['file']} (the {' + '.join(entry['parts'])} style of {entry['source']}, "
              f"weights {entry['weights']} {entry['weights_digest']})")


def _save_styles(args: argparse.Namespace) -> int:
    written = save_part_styles(args)
    if args.json:
        print(json.dumps({"styles": written}, indent=2))
    else:
        _print_styles(written)
    return EXIT_OK


def _edit(args: argparse.Namespace) -> int:
    written = save_part_styles(args) if args.save_style else None  # with --out too: the styles, then the edit
    summary = run(args)
    if written is not None:
        summary["styles"] = written
        if not args.json:
            _print_styles(written)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        pasted = summary.get("pasted_into")
        # With --paste-back the file is the whole photo; the face was generated at the networks' size.
        width, height = pasted["size"] if pasted else (summary["size"], summary["size"])
        into = f", the {summary['size']} px face pasted back" if pasted else ""
        print(f"wrote {summary['out']} ({width}x{height}{into}, {summary['backend']}, "
              f"{summary['milliseconds']['total']:.0f} ms)")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
