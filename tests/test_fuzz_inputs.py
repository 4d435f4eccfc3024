"""Seeded fuzzing of everything a user can hand ca2sis (issues 18 and 26): a few hundred generated bad
inputs (random bytes, truncated files, wrong modes and sizes, odd masks, odd option values,
damaged weights and projects) fed to ca2sis-edit, ca2sis-parse, ca2sis-export, the Engine,
project loading and the training-data check, in-process; and (issue 26) odd numbers and
nesting in project files, tiny photos, outputs that are symlinks, and outputs that are
inputs, for every command; and (issue 39) outputs that are special files (a FIFO, a socket)
and abbreviated options, for every command.

Every case must end in exit code 0, 2 or 3 (or, for the Python APIs, a result or a
``CA2SISError``): never a traceback. No input file may change (checksums before and after)
and no temporary file may be left beside them.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import shutil
import socket
import stat
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from ca2sis.app.state.document import Studio
from ca2sis.app.state.gallery import gallery_entries
from ca2sis.app.state.project import load_project, save_project
from ca2sis.model.cli import edit as cli_edit
from ca2sis.model.cli import export as onnx_export
from ca2sis.model.cli import parse as cli_parse
from ca2sis.model.config import get_config
from ca2sis.model.errors import CA2SISError
from ca2sis.model.faces.parser import FaceParser, FaceParserConfig, FaceParserModel
from ca2sis.model.inference.edits import Edit, Reference
from ca2sis.model.inference.engine import Engine
from ca2sis.model.labels import CLASS_NAMES, COLORS
from ca2sis.model.training.data import open_dataset
from ca2sis.model.training.data_check import check_training_files

from conftest import styled_random_model

SEED = 18
EDIT_CASES, ENGINE_CASES, PARSE_CASES, PROJECT_CASES = 130, 100, 30, 60
ALLOWED_EXIT_CODES = (0, 2, 3)


# ---- the pool of inputs ---------------------------------------------------------------------------------
def _blocky_mask(rng: np.random.Generator, size: int) -> np.ndarray:
    coarse = rng.integers(0, 19, (8, 8)).astype(np.uint8)
    coarse[2:6, 2:6] = 1  # skin in the middle: a face to take styles from
    return np.asarray(Image.fromarray(coarse).resize((size, size), Image.Resampling.NEAREST))


def _smooth_face(rng: np.random.Generator, size: int) -> np.ndarray:
    coarse = rng.integers(0, 256, (6, 6, 3)).astype(np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC))


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` and that holds no pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))


def make_pool(folder: Path, rng: np.random.Generator) -> dict[str, list[Path]]:
    """Faces and masks, good and bad, written once; returns kind → paths."""
    folder.mkdir(parents=True)
    faces: list[Path] = []
    masks: list[Path] = []

    def face(name: str, image: Image.Image, **save) -> None:
        path = folder / name
        image.save(path, **save)
        faces.append(path)

    def mask(name: str, image: Image.Image) -> None:
        path = folder / name
        image.save(path)
        masks.append(path)

    def raw(name: str, data: bytes, kind: list[Path]) -> None:
        path = folder / name
        path.write_bytes(data)
        kind.append(path)

    rgb = Image.fromarray(_smooth_face(rng, 64))
    face("good.png", rgb)
    face("good.jpg", Image.fromarray(_smooth_face(rng, 96)), quality=90)
    face("grey.png", rgb.convert("L"))
    face("rgba.png", rgb.convert("RGBA"))
    face("la.png", rgb.convert("LA"))
    face("cmyk.jpg", rgb.convert("CMYK"))
    face("palette.png", rgb.convert("P"))
    face("onebit.png", rgb.convert("1"))
    face("sixteen.png", Image.fromarray(np.asarray(rgb.convert("L")).astype(np.uint16) * 257))
    face("float.tif", Image.fromarray(np.asarray(rgb.convert("L")).astype(np.float32)))
    face("tiny.png", rgb.resize((8, 8)))
    face("one.png", rgb.resize((1, 1)))
    face("almost.png", rgb.resize((63, 63)))
    face("wide.png", rgb.resize((96, 64)))
    face("tall.jpg", rgb.resize((64, 80)))
    face("big.png", rgb.resize((700, 700)))
    good_png = (folder / "good.png").read_bytes()
    good_jpg = (folder / "good.jpg").read_bytes()
    raw("truncated.png", good_png[: len(good_png) // 2], faces)
    raw("truncated.jpg", good_jpg[: len(good_jpg) - 300], faces)
    raw("noise.png", rng.bytes(3000), faces)
    raw("noise.jpg", b"\xff\xd8\xff" + rng.bytes(2000), faces)
    raw("empty.png", b"", faces)
    raw("text.png", b"just some words\n", faces)
    raw("bomb.png", _png_header_only(60_000, 60_000), faces)
    raw("zero.png", _png_header_only(0, 0), faces)
    flipped = bytearray(good_png)
    for index in rng.integers(40, len(flipped), 12):
        flipped[index] ^= 0xFF
    raw("flipped.png", bytes(flipped), faces)

    labels = _blocky_mask(rng, 64)
    mask("mask.png", Image.fromarray(labels))
    palette = Image.fromarray(labels, mode="L").convert("P")
    palette.putpalette([value for colour in COLORS for value in colour])
    mask("palette_mask.png", palette)
    mask("colour_mask.png", Image.fromarray(np.asarray(COLORS, np.uint8)[labels]))
    mask("mask128.png", Image.fromarray(_blocky_mask(rng, 128)))
    mask("background.png", Image.fromarray(np.zeros((64, 64), np.uint8)))
    mask("hair_only.png", Image.fromarray(np.where(labels > 0, CLASS_NAMES.index("hair"), 0).astype(np.uint8)))
    mask("labels40.png", Image.fromarray(np.full((64, 64), 40, np.uint8)))
    mask("labels255.png", Image.fromarray((labels.astype(np.int32) * 13 % 256).astype(np.uint8)))
    off_palette = np.asarray(COLORS, np.uint8)[labels].copy()
    off_palette[0, 0] = (1, 2, 3)
    mask("off_palette.png", Image.fromarray(off_palette))
    mask("grey_as_rgb.png", Image.fromarray(np.repeat(labels[..., None], 3, axis=-1)))
    mask("mask_sixteen.png", Image.fromarray(labels.astype(np.uint16) * 1000))
    mask("mask_wide.png", Image.fromarray(labels).resize((96, 64), Image.Resampling.NEAREST))
    mask("mask_tiny.png", Image.fromarray(labels).resize((8, 8), Image.Resampling.NEAREST))
    mask("mask_rgba.png", Image.fromarray(np.asarray(COLORS, np.uint8)[labels]).convert("RGBA"))
    mask("mask.jpg", Image.fromarray(np.asarray(COLORS, np.uint8)[labels]))
    raw("mask_truncated.png", (folder / "mask.png").read_bytes()[:200], masks)
    raw("mask_noise.png", rng.bytes(500), masks)
    (folder / "a_folder.png").mkdir()
    missing = folder / "missing.png"
    return {"faces": faces, "masks": masks, "odd": [folder / "a_folder.png", missing]}


def checksums(*folders: Path) -> dict[str, str]:
    """sha256 of every file under ``folders`` (names of folders too, so additions show)."""
    sums = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            sums[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "folder"
    return sums


def run_cli(main: Callable[[list[str]], int], argv: list[str]) -> tuple[int, str]:
    """An exit code and what went to stderr; an exception escaping ``main`` is a traceback."""
    stderr, stdout = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse's own usage errors
            code = exit_.code if isinstance(exit_.code, int) else 2
    return code, stderr.getvalue()


# ---- option values --------------------------------------------------------------------------------------
PART_NAMES = ["hair", "nose", "l_eye", "Left eye", "skin", "7", "18", "19", "-1", "", "tail", "HAIR", " hair "]
NUMBERS = ["0", "1", "0.5", ".5", "-1", "-0", "2", "1e3", "1e-9", "nan", "inf", "-inf", "abc", "", "0x1", "1.5.5"]
SEEDS = ["0", "7", "-1", "-5", "99999999999999999999999", "-99999999999999999999", "x", "", "1.5", "+3"]


class Cases:
    """Draws option values and files with one seeded generator."""

    def __init__(self, rng: np.random.Generator, pool: dict[str, list[Path]], out: Path):
        self.rng, self.pool, self.out = rng, pool, out
        self.count = 0

    def pick(self, items: list):
        return items[int(self.rng.integers(len(items)))]

    def file(self, kind: str, good_share: float = 0.6) -> str:
        """A good file of ``kind`` most of the time, else any file of the pool."""
        good = {"faces": self.pool["faces"][:2], "masks": self.pool["masks"][:4]}[kind]
        every = self.pool["faces"] + self.pool["masks"] + self.pool["odd"]
        return str(self.pick(good) if self.rng.random() < good_share else self.pick(every))

    def output(self, inputs: list[str]) -> str:
        """Where to write: a fresh file mostly, sometimes an input, a folder or under a file."""
        self.count += 1
        choice = self.rng.random()
        if choice < 0.7:
            return str(self.out / f"case{self.count}" / "result.png")
        return str(self.pick([*inputs, str(self.out), str(self.pool["faces"][0] / "x.png"),
                              str(self.pool["odd"][0]), str(self.out / "same.png")]))

    def edit_argv(self) -> list[str]:
        mask, style, style_mask = self.file("masks", 0.8), self.file("faces", 0.8), self.file("masks", 0.8)
        argv = ["--mask", mask, "--style", style]
        if self.rng.random() < 0.95:
            argv += ["--style-mask", style_mask]
        for _ in range(int(self.rng.integers(0, 3))):
            argv += self.edit_option()
        argv += ["--out", self.output([mask, style, style_mask])]
        return argv

    def edit_option(self) -> list[str]:
        kind = self.pick(["part", "shape", "random", "attention", "raw"])
        part = self.pick(PART_NAMES)
        if kind == "part":
            text = f"{part}={self.file('faces')}"
            if self.rng.random() < 0.7:
                text += f":{self.file('masks')}"
            if self.rng.random() < 0.5:
                text += f"@{self.pick(NUMBERS)}"
            return ["--part", text]
        if kind == "shape":
            text = f"{part}={self.file('masks')}" + (f":{self.pick(NUMBERS)}" if self.rng.random() < 0.6 else "")
            return ["--shape", text]
        if kind == "random":
            text = f"{part}:{self.pick(SEEDS)}" + (f":{self.pick(NUMBERS)}" if self.rng.random() < 0.5 else "")
            return ["--random-part", text]
        if kind == "attention":
            return ["--attention", f"{part}={self.output([])}"]
        return self.pick([["--backend", "onnx"], ["--backend", "tpu"], ["--device", "cpu"], ["--json"],
                          ["--part", "hair"], ["--shape", "=x"], ["--random-part", "hair"], ["--attention", "x"],
                          ["--bogus"], ["--part", "hair=:"], ["--random-part", "::"]])


@pytest.fixture(scope="module")
def fuzz_setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    rng = np.random.default_rng(SEED)
    pool = make_pool(root / "inputs", rng)
    weights = root / "weights" / "tiny"
    styled_random_model(get_config("tiny")).save_pretrained(weights)  # no ONNX export: fast to make
    # A tiny random face parser: ca2sis-parse's checks and files, not its accuracy, are under test.
    config = FaceParserConfig(input_size=64, widths=(4, 8))
    FaceParserModel(FaceParser.from_config(config), config).save_pretrained(weights.with_name("parser"))
    return root, rng, pool, weights


@pytest.fixture
def cached_engines(monkeypatch):
    """Engine.from_pretrained once per weights folder and backend: the CLI reloads nothing the
    fuzzing does not change (a tenth of the time). Folders that are changed are loaded fresh."""
    original = Engine.from_pretrained
    engines: dict[tuple, Engine] = {}

    def from_pretrained(folder, device="auto", backend="auto", **options):
        key = (str(folder), device, backend)
        if options or "damaged" in str(folder):
            return original(folder, device=device, backend=backend, **options)
        if key not in engines:
            engines[key] = original(folder, device=device, backend=backend)
            # Aligning a photo loads dlib's models (seconds): a face without its mask is an error here.
            engines[key].face_reader = None
        return engines[key]

    monkeypatch.setattr(Engine, "from_pretrained", staticmethod(from_pretrained))


def test_the_command_lines_survive_fuzzed_inputs(fuzz_setup, cached_engines):  # noqa: ARG001
    root, rng, pool, weights = fuzz_setup
    inputs = root / "inputs"
    parser = weights.with_name("parser")
    before = checksums(inputs, weights, parser)
    cases = Cases(rng, pool, root / "out")
    failures, codes = [], []

    def check(main, argv) -> None:
        code, stderr = run_cli(main, argv)
        codes.append(code)
        if code not in ALLOWED_EXIT_CODES or "Traceback" in stderr:
            failures.append(f"exit {code} for {argv}: {stderr[-300:]}")

    for _ in range(EDIT_CASES):
        check(cli_edit.main, [*cases.edit_argv(), "--weights", str(weights), "--device", "cpu"])
    for _ in range(PARSE_CASES):
        photo = cases.file("faces", 0.5)
        argv = [photo, "--out", cases.output([photo]), "--size", cases.pick(["64", "64", "96", "0", "-3", "x"]),
                "--no-align", "--weights", str(parser)]  # aligning would load dlib's models each time
        if rng.random() < 0.3:
            argv += [cases.pick(["--aligned-out", "--colour-out"]), cases.output([photo])]
        check(cli_parse.main, argv)
    for weights_case in damaged_weights(root / "damaged", weights, rng):
        check(cli_edit.main, ["--mask", str(pool["masks"][0]), "--style", str(pool["faces"][0]), "--style-mask",
                              str(pool["masks"][0]), "--out", str(root / "out" / "w.png"),
                              "--weights", str(weights_case), "--device", "cpu"])
        check(onnx_export.main, [str(weights_case)])

    assert not failures, f"{len(failures)} cases ended badly:\n" + "\n".join(failures[:10])
    assert set(codes) >= {0, 2, 3}, "the fuzzing should reach every exit code"
    assert checksums(inputs, weights, parser) == before, "an input file changed"


def damaged_weights(folder: Path, good: Path, rng: np.random.Generator) -> list[Path]:
    """Copies of ``good`` each broken in one way (none can be exported: ca2sis-export fails fast)."""
    folder.mkdir()
    config = json.loads((good / "config.json").read_text())
    cases = []

    def copy(name: str) -> Path:
        target = folder / name
        shutil.copytree(good, target)
        cases.append(target)
        return target

    for field, value in [("image_size", "abc"), ("image_size", 65), ("generator_channels", [8]),
                         ("style_dim", -1), ("num_classes", 1), ("attention_heads", None), ("format", "other"),
                         ("unknown_field", 1), ("version", 99), ("grouped_style_encoder", "no"),
                         ("mask_latent_dim", 63), ("name", ["x"]), ("extra", "text")]:
        (copy(f"config-{field}-{len(cases)}") / "config.json").write_text(json.dumps({**config, field: value}))
    (copy("config-garbage") / "config.json").write_bytes(rng.bytes(100))
    (copy("config-list") / "config.json").write_text("[1, 2]")
    (copy("config-empty") / "config.json").write_text("")
    generator = good / "generator.safetensors"
    data = generator.read_bytes()
    (copy("truncated") / "generator.safetensors").write_bytes(data[: len(data) // 2])
    (copy("noise") / "generator.safetensors").write_bytes(rng.bytes(5000))
    (copy("pickle") / "generator.safetensors").write_bytes(b"\x80\x04" + rng.bytes(100))
    (copy("missing") / "generator.safetensors").unlink()
    for value in (float("nan"), float("inf")):
        tensors = load_file(str(generator))
        name = sorted(tensors)[int(rng.integers(len(tensors)))]
        tensors[name] = torch.full_like(tensors[name], value)
        save_file(tensors, str(copy(f"nonfinite-{value}") / "generator.safetensors"))
    tensors = load_file(str(generator))
    tensors.pop(sorted(tensors)[0])
    save_file(tensors, str(copy("missing-tensor") / "generator.safetensors"))
    cases.append(folder / "does-not-exist")
    empty = folder / "empty"
    empty.mkdir()
    cases.append(empty)
    # Named "damaged": the engine cache of the CLI test loads these afresh.
    return [path.rename(path.with_name(f"damaged-{path.name}")) if path.exists() else path for path in cases]


def test_the_engine_survives_fuzzed_inputs(fuzz_setup):
    root, rng, pool, weights = fuzz_setup
    engine = Engine.from_pretrained(weights, device="cpu", backend="torch")
    engine.face_reader = None  # a reference without mask is then a DataError, not a slow parse
    inputs = root / "inputs"
    before = checksums(inputs)
    cases = Cases(rng, pool, root / "engine-out")
    arrays = [
        np.zeros((64, 64), np.uint8), np.full((64, 64), 18, np.int64), np.full((64, 64), -1, np.int16),
        np.full((64, 64), np.nan), np.ones((64, 64), bool), np.zeros((64, 64, 2), np.uint8),
        np.zeros((0, 0), np.uint8), np.zeros((64,), np.uint8), np.full((64, 64, 3), 1.5, np.float32),
        np.zeros((64, 64, 3), np.uint16), np.zeros((64, 64, 4), np.uint8), np.zeros((64, 80, 3), np.uint8),
        np.full((64, 64), 0.5, np.float64), np.zeros((64, 64, 3), np.complex64), np.zeros((8, 8), np.uint8),
    ]
    strengths = [0.0, 1.0, 0.5, -0.1, 1.1, float("nan"), float("inf")]
    seeds = [0, -1, -(2**70), 2**70, np.int64(-3), 7]
    failures = []

    def any_input(kind: str):
        return cases.pick(arrays) if rng.random() < 0.25 else cases.file(kind)

    for _ in range(ENGINE_CASES):
        edit = Edit(mask=any_input("masks"), style=Reference(any_input("faces"), any_input("masks")))
        for _ in range(int(rng.integers(0, 3))):
            part = cases.pick([*PART_NAMES, 0, 18, 19, -1])
            kind = cases.pick(["style", "shape", "random"])
            if kind == "style":
                edit.part_styles[part] = (Reference(any_input("faces"), any_input("masks")), cases.pick(strengths))
            elif kind == "shape":
                edit.part_shapes[part] = (any_input("masks"), cases.pick(strengths))
            else:
                edit.random_parts[part] = (cases.pick(seeds), cases.pick(strengths))
        try:
            result = engine.render(edit)
            assert result.image.shape == (64, 64, 3)
        except CA2SISError:
            pass
        except Exception as error:  # noqa: BLE001 - any other exception is the finding
            failures.append(f"{type(error).__name__}: {error} for {edit}")
    assert not failures, f"{len(failures)} edits raised:\n" + "\n".join(failures[:10])
    assert checksums(inputs) == before


def test_projects_and_training_folders_survive_fuzzed_files(fuzz_setup, tmp_path):
    _, rng, pool, _ = fuzz_setup
    path = save_project(Studio(gallery_entries()[0].load()).document, tmp_path / "p")
    good = json.loads(path.read_text())
    before = checksums(tmp_path / "p_files")
    values = [None, -5, 1.5, "..", ".", "", "x", [], {}, True, 10**30, "mask.png", "../p_files/mask.png"]
    failures = []
    for _ in range(PROJECT_CASES):
        content = json.loads(json.dumps(good))
        for _ in range(int(rng.integers(1, 4))):
            target = content
            keys = []
            while isinstance(target, dict) and target and rng.random() < 0.7:
                key = sorted(target, key=str)[int(rng.integers(len(target)))]
                keys.append(key)
                if not isinstance(target[key], dict):
                    break
                target = target[key]
            if isinstance(target, dict) and target:
                key = keys[-1] if keys and keys[-1] in target else sorted(target)[0]
                target[key] = values[int(rng.integers(len(values)))]
        text = json.dumps(content) if rng.random() < 0.9 else json.dumps(content)[: int(rng.integers(1, 50))]
        path.write_text(text)
        try:
            load_project(path)
        except CA2SISError:
            pass
        except Exception as error:  # noqa: BLE001
            failures.append(f"{type(error).__name__}: {error} for {text[:300]}")
    assert not failures, "\n".join(failures[:10])
    assert checksums(tmp_path / "p_files") == before

    # A training folder of the pool's faces and masks, paired at random: one error, or the good ids.
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    (data / "masks").mkdir()
    for index in range(40):
        image = pool["faces"][int(rng.integers(len(pool["faces"])))]
        mask = pool["masks"][int(rng.integers(len(pool["masks"])))]
        shutil.copyfile(image, data / "images" / f"{index}{image.suffix if image.suffix != '.tif' else '.png'}")
        shutil.copyfile(mask, data / "masks" / f"{index}.png")
    before = checksums(data)
    try:
        good_ids = check_training_files(open_dataset(data, 64), skip_bad=True, log=io.StringIO())
    except CA2SISError:
        good_ids = []
    dataset = open_dataset(data, 64, include=good_ids) if good_ids else None
    for face_id in good_ids:  # what the check lets through, training can load
        dataset.load_pair(face_id)
    assert checksums(data) == before


# ---- issue 26: project-file numbers, tiny photos, symlinked outputs, outputs onto inputs ------------------------
# Each test prints what it tried and how it held (pytest -s shows it): the figures of the report.
PROJECT_NUMBER_CASES, PROJECT_NUMBER_SAVES = 48, 8
ODD_LITERALS = [str(10**400), str(-10**400), "1" * 4301, "1e999", "-1e999", "NaN", "Infinity", "-0.0", "1e-400",
                "2", "-1", "true", "null", '"0.5"', "[0.5]", "{}", "[" * 5000 + "]" * 5000,
                '{"a": ' * 3000 + "1" + "}" * 3000, "0.5", "123456789012345678901234567890"]
NUMBER_SLOTS = [("version",), ("random_parts", "hair", "seed"), ("random_parts", "hair", "strength"),
                ("shape_alphas", "nose"), ("files",), ("ghost",)]


def test_project_file_numbers_and_nesting_survive(fuzz_setup, tmp_path):
    _, rng, _, _ = fuzz_setup
    document = Studio(gallery_entries()[0].load()).document
    path = save_project(document, tmp_path / "p")
    good = json.loads(path.read_text())
    good["random_parts"] = {"hair": {"seed": 3, "strength": 0.5}}
    good["shape_alphas"] = {"nose": 0.5}
    failures, outcomes = [], {"loaded": 0, "refused": 0, "saved over": 0, "save refused": 0}
    for case in range(PROJECT_NUMBER_CASES):
        content = json.loads(json.dumps(good))
        slot = NUMBER_SLOTS[int(rng.integers(len(NUMBER_SLOTS)))]
        target = content
        for key in slot[:-1]:
            target = target[key]
        target[slot[-1]] = "__ODD__"
        literal = ODD_LITERALS[case % len(ODD_LITERALS)]
        text = json.dumps(content).replace('"__ODD__"', literal)
        path.write_text(text)
        try:
            load_project(path)
            outcomes["loaded"] += 1
        except CA2SISError:
            outcomes["refused"] += 1
        except BaseException as error:  # noqa: BLE001 - RecursionError, OverflowError...: the finding
            failures.append(f"load: {type(error).__name__}: {error} for {slot}={literal[:40]}")
        if case < PROJECT_NUMBER_SAVES:
            try:
                save_project(document, path)
                outcomes["saved over"] += 1
            except FileExistsError:
                outcomes["save refused"] += 1
            except BaseException as error:  # noqa: BLE001
                failures.append(f"save: {type(error).__name__}: {error} for {slot}={literal[:40]}")
    print(f"\nproject-file numbers: {PROJECT_NUMBER_CASES} files ({len(ODD_LITERALS)} literals in "
          f"{len(NUMBER_SLOTS)} fields): {outcomes}, {len(failures)} failures")
    assert not failures, "\n".join(failures[:10])


TINY_SIDES = [(1, 1), (3, 3), (8, 8), (9, 9), (10, 10), (16, 16), (31, 31), (32, 32), (40, 40), (1, 200), (200, 1),
              (2, 400), (9, 3000), (31, 2000), (3000, 31), (40, 40_000), (33, 1), (64, 8)]


@pytest.mark.slow  # the face finder's CNN on the long strips: about 25 s
def test_tiny_photos_survive(fuzz_setup, tmp_path):
    from ca2sis.model.faces.align import FaceAligner

    root, _, _, weights = fuzz_setup
    aligner, failures = FaceAligner(), []
    for height, width in TINY_SIDES:  # dlib itself would fail on most, then abort the process
        try:
            aligner.landmarks(np.full((height, width, 3), 120, np.uint8))
        except CA2SISError:
            pass
        except BaseException as error:  # noqa: BLE001
            failures.append(f"{height}x{width}: {type(error).__name__}: {error}")
    photo = tmp_path / "tiny.png"
    Image.new("RGB", (8, 8), (130, 100, 90)).save(photo)
    commands = [(cli_parse.main, [str(photo), "--out", str(tmp_path / "mask.png"), "--weights",
                                  str(weights.with_name("parser"))]),
                (cli_edit.main, ["--paste-back", str(photo), "--random-part", "hair:1", "--out",
                                 str(tmp_path / "out.png"), "--weights", str(weights), "--device", "cpu"])]
    for main, argv in commands:
        code, stderr = run_cli(main, argv)
        if code != 2 or "too small to find a face" not in stderr:
            failures.append(f"exit {code} for {argv}: {stderr[-300:]}")
    print(f"\ntiny photos: {len(TINY_SIDES)} sizes to the face finder, {len(commands)} through ca2sis-parse and "
          f"ca2sis-edit --paste-back: {len(failures)} failures")
    assert not failures, "\n".join(failures)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.png"]


@pytest.mark.slow  # 27 writes, some of them whole edits and project saves: about 12 s
def test_outputs_never_write_through_symlinks(fuzz_setup, cached_engines, tmp_path):  # noqa: ARG001
    from ca2sis.model.io.atomic import write_text_atomic
    from ca2sis.model.io.images import save_pngs
    from ca2sis.model.io.weights import atomic_save_file
    from ca2sis.model.photo.source import save_image

    _, _, pool, weights = fuzz_setup
    victim = tmp_path / "victim.txt"
    face = np.full((16, 16, 3), 90, np.uint8)
    mask, style = str(pool["masks"][0]), str(pool["faces"][0])
    edit = ["--mask", mask, "--style", style, "--style-mask", mask, "--weights", str(weights), "--device", "cpu"]
    writers = {
        "save_pngs": lambda out: save_pngs([(face, out)]),
        "save_image jpg": lambda out: save_image(face, out.with_suffix(".jpg")),
        "save_image png": lambda out: save_image(face, out),
        "write_text_atomic": lambda out: write_text_atomic(out, "text"),
        "atomic_save_file": lambda out: atomic_save_file({"t": torch.zeros(2)}, out),
        "save_project": lambda out: save_project(Studio(gallery_entries()[0].load()).document, out),
        "ca2sis-edit --out": lambda out: cli_edit.main([*edit, "--out", str(out)]),
        "ca2sis-edit --attention": lambda out: cli_edit.main([*edit, "--out", str(out.with_name("r.png")),
                                                             "--attention", f"hair={out}"]),
        "ca2sis-parse --out": lambda out: cli_parse.main([style, "--no-align", "--size", "64", "--out", str(out),
                                                          "--weights", str(weights.with_name("parser"))]),
    }
    failures, held = [], 0
    for name, write in writers.items():
        # A link at the output, and links at the temporary names an older writer used.
        for planted in ("out", "out.tmp", ".out.tmp"):
            case = tmp_path / name.replace(" ", "_")
            shutil.rmtree(case, ignore_errors=True)
            case.mkdir()
            victim.write_text("mine")
            out = case / ("out.png" if name != "save_project" else "out.ca2sis.json")
            link = out if planted == "out" else out.with_name(planted.replace("out", out.name))
            if name == "save_image jpg":
                link = link.with_name(link.name.replace(".png", ".jpg"))
            link.symlink_to(victim)
            try:
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    write(out)
            except (CA2SISError, OSError):
                pass  # refused is held too
            if victim.read_text() != "mine":
                failures.append(f"{name} wrote through a link at {planted}")
            else:
                held += 1
    print(f"\nsymlinked outputs: {len(writers)} writers x 3 planted links: {held} held, {len(failures)} failures")
    assert not failures, "\n".join(failures)


def test_no_command_writes_over_its_inputs(fuzz_setup, cached_engines, tmp_path):  # noqa: ARG001
    from ca2sis.app.qt.main import main as studio_main
    from ca2sis.model.cli import bench as cli_bench
    from ca2sis.model.cli import eval as cli_eval
    from ca2sis.model.cli.train import main as train_main

    root, _, pool, weights = fuzz_setup
    parser = weights.with_name("parser")
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    (data / "masks").mkdir()
    shutil.copyfile(pool["faces"][0], data / "images" / f"a{pool['faces'][0].suffix}")
    shutil.copyfile(pool["masks"][0], data / "masks" / "a.png")
    ids = tmp_path / "ids.txt"
    ids.write_text("a\n")
    config = tmp_path / "config.json"
    config.write_text(get_config("tiny").to_json())
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.safetensors").write_bytes(b"a run's checkpoint")
    mask, face = str(pool["masks"][0]), str(pool["faces"][0])
    edit = ["--mask", mask, "--style", face, "--style-mask", mask, "--weights", str(weights), "--device", "cpu"]
    evaluate = ["--data", str(data), "--weights", str(weights), "--quiet"]
    cases = [
        *((cli_edit.main, [*edit, "--out", target]) for target in (mask, face, str(weights / "config.json"),
                                                                   str(weights / "generator.safetensors"))),
        (cli_edit.main, [*edit, "--out", str(tmp_path / "o.png"), "--attention", f"hair={mask}"]),
        (cli_edit.main, [*edit, "--out", str(tmp_path / "o.png"), "--attention", f"hair={tmp_path / 'o.png'}"]),
        (cli_parse.main, [face, "--no-align", "--out", face, "--weights", str(parser)]),
        (cli_parse.main, [face, "--no-align", "--out", str(tmp_path / "m.png"), "--colour-out",
                          str(parser / "face_parser.json"), "--weights", str(parser)]),
        (cli_eval.main, [*evaluate, "--json", str(weights / "config.json")]),
        (cli_eval.main, [*evaluate, "--markdown", str(data / "masks" / "a.png")]),
        (cli_eval.main, [*evaluate, "--list", str(ids), "--json", str(ids)]),
        (cli_bench.main, ["--weights", str(weights), "--json", str(weights / "style_encoder.safetensors")]),
        (cli_bench.main, ["--config", str(config), "--json", str(config)]),
        (train_main, ["export", str(run), "--out", str(run)]),
        (train_main, ["--data", str(data), "--out", str(weights), "--config", "tiny"]),
        (studio_main, [face, "--screenshot", face, "--weights", str(weights)]),
    ]
    before = checksums(root / "inputs", weights, parser, tmp_path)
    failures = []
    for main, argv in cases:
        code, stderr = run_cli(main, argv)
        if code != 2 or "Traceback" in stderr:
            failures.append(f"exit {code} for {argv}: {stderr[-300:]}")
    commands = sorted({main.__module__ for main, _ in cases})
    print(f"\noutputs onto inputs: {len(cases)} cases over {len(commands)} commands: {len(cases) - len(failures)} "
          f"refused with exit 2, {len(failures)} failures")
    assert not failures, "\n".join(failures)
    assert checksums(root / "inputs", weights, parser, tmp_path) == before


# ---- issue 39: special files as outputs, abbreviated options ----------------------------------------------------
def _special_file(path: Path, kind: str) -> Callable[[], None]:
    """Make a FIFO or a Unix socket at ``path`` (neither needs root); returns how to close it."""
    if kind == "fifo":
        os.mkfifo(path)
        return lambda: None
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # Bound by its name from its folder: a socket's path is limited to 107 bytes, and the temporary
    # folders of pytest-xdist's workers are longer.
    here = os.getcwd()
    os.chdir(path.parent)
    try:
        server.bind(path.name)
    finally:
        os.chdir(here)
    return server.close


SPECIAL_KINDS = {"fifo": stat.S_ISFIFO, "socket": stat.S_ISSOCK}


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not hasattr(socket, "AF_UNIX"), reason="no FIFOs or Unix sockets")
def test_special_files_as_outputs_are_refused_by_every_writer(fuzz_setup, cached_engines, tmp_path):  # noqa: ARG001
    from ca2sis.app.qt.main import main as studio_main
    from ca2sis.model.cli import bench as cli_bench
    from ca2sis.model.cli import eval as cli_eval
    from ca2sis.model.io.atomic import write_text_atomic
    from ca2sis.model.io.images import save_pngs
    from ca2sis.model.io.weights import atomic_save_file
    from ca2sis.model.photo.source import save_image

    _, _, pool, weights = fuzz_setup
    parser = weights.with_name("parser")
    data = tmp_path / "data"  # one face: what ca2sis-eval reads
    (data / "images").mkdir(parents=True)
    (data / "masks").mkdir()
    shutil.copyfile(pool["faces"][0], data / "images" / f"a{pool['faces'][0].suffix}")
    shutil.copyfile(pool["masks"][0], data / "masks" / "a.png")
    mask, face = str(pool["masks"][0]), str(pool["faces"][0])
    edit = ["--mask", mask, "--style", face, "--style-mask", mask, "--weights", str(weights), "--device", "cpu"]
    evaluate = ["--data", str(data), "--weights", str(weights), "--quiet", "--no-identity", "--limit", "1"]
    face_pixels = np.full((16, 16, 3), 90, np.uint8)

    def command(main, argv):
        code, stderr = run_cli(main, argv)
        if code != 2 or "Traceback" in stderr:
            raise AssertionError(f"exit {code}: {stderr[-200:]}")
        raise CA2SISError(stderr)  # refused with exit 2: judged below like a Python API's refusal

    writers = {  # each writes ``out``, another file beside it where it needs one
        "ca2sis-edit --out": lambda out: command(cli_edit.main, [*edit, "--out", str(out)]),
        "ca2sis-edit --attention": lambda out: command(cli_edit.main, [*edit, "--out", str(out.with_name("r.png")),
                                                                       "--attention", f"hair={out}"]),
        "ca2sis-parse --out": lambda out: command(cli_parse.main, [face, "--no-align", "--size", "64", "--out",
                                                                   str(out), "--weights", str(parser)]),
        "ca2sis-parse --colour-out": lambda out: command(cli_parse.main, [
            face, "--no-align", "--size", "64", "--out", str(out.with_name("m.png")), "--colour-out", str(out),
            "--weights", str(parser)]),
        "ca2sis-bench --json": lambda out: command(cli_bench.main, [
            "--weights", str(weights), "--variants", "torch-cpu", "--runs", "1", "--warmup", "0", "--json", str(out)]),
        "ca2sis-eval --markdown": lambda out: command(cli_eval.main, [*evaluate, "--markdown", str(out)]),
        "ca2sis --screenshot": lambda out: command(studio_main, ["--screenshot", str(out), "--weights", str(weights)]),
        "save_pngs": lambda out: save_pngs([(face_pixels, out)]),
        "save_image": lambda out: save_image(face_pixels, out),
        "write_text_atomic": lambda out: write_text_atomic(out, "text"),
        "atomic_save_file": lambda out: atomic_save_file({"t": torch.zeros(2)}, out),
    }
    failures, held = [], 0
    for name, write in writers.items():
        for kind, is_kind in SPECIAL_KINDS.items():
            case = tmp_path / f"{name.replace(' ', '_')}-{kind}"
            case.mkdir()
            out = case / "out.png"
            close = _special_file(out, kind)
            try:
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    write(out)
                failures.append(f"{name}: a {kind} at the output was written")
            except CA2SISError as error:
                if "not a regular file" not in str(error):
                    failures.append(f"{name}: {kind}: {error}")
            except AssertionError as error:
                failures.append(f"{name}: {kind}: {error}")
            finally:
                close()
            if not is_kind(os.lstat(out).st_mode):
                failures.append(f"{name}: the {kind} at the output was replaced")
            elif sorted(p.name for p in case.iterdir()) != ["out.png"]:
                failures.append(f"{name}: {kind}: left {sorted(p.name for p in case.iterdir())}")
            else:
                held += 1
    print(f"\nspecial files as outputs: {len(writers)} writers x {len(SPECIAL_KINDS)} kinds: {held} refused, "
          f"{len(failures)} failures")
    assert not failures, "\n".join(failures)


class _Parsed(BaseException):
    """Raised instead of parsing: carries the parser a console script built."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        super().__init__()
        self.parser = parser


def _console_parsers(monkeypatch) -> dict[str, argparse.ArgumentParser]:
    """The argument parser of every console script (and ``ca2sis-train``'s subcommands), as each
    builds it, caught at its parse_args."""
    from ca2sis.app.qt.main import main as studio_main
    from ca2sis.model.cli import bench as cli_bench
    from ca2sis.model.cli import eval as cli_eval
    from ca2sis.model.cli import train_parser as cli_train_parser
    from ca2sis.model.cli.train import main as train_main

    def catch(self, args=None, namespace=None):  # noqa: ARG001
        raise _Parsed(self)

    parsers = {}
    with monkeypatch.context() as patch:
        patch.setattr(argparse.ArgumentParser, "parse_args", catch)
        for main, argv in [(cli_edit.main, []), (cli_parse.main, []), (cli_bench.main, []), (onnx_export.main, []),
                           (cli_eval.main, []), (train_main, []), (train_main, ["export"]),
                           (train_main, ["fit-mapping"]), (train_main, ["info"]), (cli_train_parser.main, []),
                           (studio_main, [])]:
            try:
                main(argv)
            except _Parsed as parsed:
                parsers[parsed.parser.prog] = parsed.parser
    return parsers


ABBREVIATION_CASES_PER_OPTION = 2


def test_abbreviated_options_are_refused_by_every_command(monkeypatch):
    """Every long option of every console script, cut short at seeded lengths where argparse's
    default would take the cut for the option (it is no other option's prefix): exit 2 with
    "error:", the cut named as unrecognised. A misspelt or future option never runs silently."""
    rng = np.random.default_rng(SEED + 39)
    parsers = _console_parsers(monkeypatch)
    assert len(parsers) == 11, sorted(parsers)
    failures, tried = [], 0
    for prog, parser in parsers.items():
        options = [text for action in parser._actions for text in action.option_strings if text.startswith("--")]
        required = []  # what the parser needs besides the cut option, so that only the cut is wrong
        for action in parser._actions:
            if not action.option_strings:
                required.append("x")
            elif action.required:
                required += [action.option_strings[0], str(action.choices[0]) if action.choices else "x"]
        for option in options:
            action = parser._option_string_actions[option]
            for length in sorted(set(rng.integers(3, len(option), ABBREVIATION_CASES_PER_OPTION).tolist())):
                cut = option[:length]
                if sum(other.startswith(cut) for other in options) != 1 or length >= len(option):
                    continue  # ambiguous cuts were refused before too
                value = "" if action.nargs == 0 else f"={action.choices[0] if action.choices else '1'}"
                tried += 1
                stderr = io.StringIO()
                with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
                    try:
                        parser.parse_args([*required, cut + value])
                        code = 0
                    except SystemExit as exit_:
                        code = exit_.code
                said = stderr.getvalue()
                if code != 2 or not said.startswith(f"error: {prog}: unrecognized arguments: {cut}"):
                    failures.append(f"{prog} {cut}{value}: exit {code}: {said.strip()[:160]}")
    print(f"\nabbreviated options: {tried} cuts over {len(parsers)} commands: {tried - len(failures)} refused, "
          f"{len(failures)} failures")
    assert tried > 100 and not failures, "\n".join(failures[:10])
