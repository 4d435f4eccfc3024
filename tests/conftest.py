"""Shared fixtures. Tests run on the CPU with few threads, as CI does."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
# Eight CelebAMask-HQ faces at 256 px, committed with the tests (see its README for the
# terms): five of the held-out validation list, three training faces.
FACE_DATA = REPO / "tests" / "fixtures" / "celebamask-tiny"

# Two threads; one per process when pytest-xdist runs the tests in several (`-n 2`).
torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else min(2, os.cpu_count() or 1))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # the studio's tests need no display


@pytest.fixture
def face_data() -> Path:
    """The committed face fixture: images/ + masks/, 256 x 256."""
    return FACE_DATA


@pytest.fixture
def face_files(face_data, tmp_path) -> tuple[Path, Path]:
    """A copy of one fixture face and its mask, at 64 px (what the tiny weights work at)."""
    from PIL import Image

    name = sorted(p.stem for p in (face_data / "images").glob("*.jpg"))[0]
    face, mask = tmp_path / "face.png", tmp_path / "mask.png"
    Image.open(face_data / "images" / f"{name}.jpg").resize((64, 64)).save(face)
    Image.open(face_data / "masks" / f"{name}.png").resize((64, 64), Image.Resampling.NEAREST).save(mask)
    return face, mask


def edit_on_torch(*args: str, weights: Path) -> int:
    """``ca2sis-edit`` with ``args`` on ``weights``, PyTorch on the CPU: its exit code."""
    from ca2sis.model.cli import edit as cli_edit

    return cli_edit.main([*args, "--weights", str(weights), "--device", "cpu", "--backend", "torch"])


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def folder_digests(folder: Path) -> dict[str, str]:
    """Each file under ``folder`` (relative path) → its digest: what a test checks is left alone."""
    return {str(p.relative_to(folder)): file_digest(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def folder_listing(folder: Path) -> list[str]:
    """Everything under ``folder``, files and folders, as sorted relative paths (stray files show)."""
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


@pytest.fixture
def tiny_config():
    from ca2sis.model.config import get_config

    return get_config("tiny")


def random_mask(batch: int, size: int, classes: int = 19, seed: int = 0) -> torch.Tensor:
    """A one-hot mask of blocky random regions (every pixel exactly one class)."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.randint(0, classes, (batch, 1, size // 8, size // 8), generator=generator).float()
    labels = torch.nn.functional.interpolate(coarse, size=(size, size), mode="nearest").long()[:, 0]
    return torch.nn.functional.one_hot(labels, classes).permute(0, 3, 1, 2).float()


def styled_random_model(config, with_mapping: bool = True, seed: int = 0):
    """Random networks in which styles matter: a fresh G starts as a plain CNN (its
    attention outputs are zero-initialised), which would make every style test vacuous."""
    from ca2sis.model.networks.composite import CA2SIS

    torch.manual_seed(seed)
    model = CA2SIS(config, with_mapping=with_mapping)
    with torch.no_grad():
        for parameter in model.parameters():
            if not parameter.any():
                parameter.normal_(0.0, 0.2)
    return model.eval()


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """Styled random tiny weights with M_s, stored in fp16 like shipped ones, without an ONNX
    export (the engine runs them on PyTorch). Shared by the session: tests copy it before
    changing anything."""
    from ca2sis.model.config import get_config

    folder = tmp_path_factory.mktemp("weights") / "tiny"
    styled_random_model(get_config("tiny")).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_export_run(tiny_weights, tmp_path_factory) -> tuple[Path, str]:
    """``ca2sis-export --check --int8`` run once on a copy of the tiny weights (int8 G checked on two
    fixture faces): the folder it leaves and what it printed. The export takes about a minute on a
    loaded 2-core CPU, so every test that asks for it is marked slow (``pytest_collection_modifyitems``);
    the tests of ONNX share this one and export again only the graph they test."""
    import contextlib
    import io
    import shutil

    from ca2sis.model.cli.export import main

    folder = tmp_path_factory.mktemp("weights") / "tiny-int8"
    shutil.copytree(tiny_weights, folder)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main([str(folder), "--check", "--int8", "--int8-faces", str(FACE_DATA), "--int8-limit", "2"])
    assert code == 0, printed.getvalue()
    return folder, printed.getvalue()


@pytest.fixture(scope="session")
def tiny_onnx_weights(tiny_export_run, tmp_path_factory) -> Path:
    """The tiny weights exported to ONNX as plain ``ca2sis-export`` leaves them (fp32 graphs, no int8 G):
    the engine's "auto" backend picks ONNX Runtime on the CPU. Tests copy it before changing anything."""
    import shutil

    from ca2sis.model.inference.backends import INT8_GENERATOR_FILE

    folder = tmp_path_factory.mktemp("weights") / "tiny-onnx"
    shutil.copytree(tiny_export_run[0], folder, ignore=shutil.ignore_patterns(INT8_GENERATOR_FILE))
    return folder


def export_with_new_generator(exported: Path, folder: Path, config) -> Path:
    """``folder``: a copy of the exported weights ``exported`` whose G is replaced by a styled random G of
    ``config`` (a config that differs from theirs in G only), with only G exported again.

    E_s, E_m and M_s keep their tensors, so their graphs still compute what the new weights do; saving
    the set stamps new safetensors files, so those graphs get the new files' digests (what an export would
    write). A test of G's ONNX export thus pays for G alone; ``check_parity`` still compares all four."""
    import shutil

    import onnx

    from ca2sis.model.inference.backends import ONNX_FILES, WEIGHTS_DIGEST_KEY, weights_digest
    from ca2sis.model.inference.onnx_export import export_onnx
    from ca2sis.model.networks.composite import CA2SIS

    shutil.copytree(exported, folder)
    old = CA2SIS.from_pretrained(exported)
    model = styled_random_model(config, with_mapping=old.mapping_network is not None)
    kept = [name for name in old.networks() if name != "generator"]
    for name in kept:
        model.networks()[name].load_state_dict(old.networks()[name].state_dict())
    model.save_pretrained(folder)
    for name in kept:
        graph = onnx.load(str(folder / ONNX_FILES[name]))
        for entry in graph.metadata_props:
            if entry.key == WEIGHTS_DIGEST_KEY:
                entry.value = weights_digest(folder, name)
        onnx.save(graph, str(folder / ONNX_FILES[name]))
    export_onnx(folder, names=["generator"])
    return folder


@pytest.hookimpl(tryfirst=True)  # before "-m 'not slow'" deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tiny_export_run" in getattr(item, "fixturenames", ()):  # tiny_onnx_weights too
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.xdist_group("tiny-export"))  # with `-n`: one worker exports, once
