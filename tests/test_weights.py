"""Weights folders: fp16 round trip, and clear refusals of everything that is not ours."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import stat
import time

import pytest
import torch
from safetensors.torch import load_file, save_file

from ca2sis.app.qt.main import main as studio_main
from ca2sis.model.cli import export as cli_export
from ca2sis.model.config import get_config
from ca2sis.model.errors import WeightsError
from ca2sis.model.inference.engine import Engine
from ca2sis.model.io.weights import atomic_save_file
from ca2sis.model.networks.composite import CA2SIS

from conftest import edit_on_torch, folder_listing, random_mask


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = CA2SIS(get_config("tiny"), with_mapping=True).eval()
    folder = tmp_path / "weights"
    model.save_pretrained(folder)
    return model, folder


def test_fp16_round_trip_generates_the_same_face(saved):
    model, folder = saved
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["config.json", "generator.safetensors", "mapping_network.safetensors",
                     "mask_embedder.safetensors", "style_encoder.safetensors"]
    loaded = CA2SIS.from_pretrained(folder, expected_config="tiny")
    assert loaded.mapping_network is not None
    size = model.config.image_size
    image, mask = torch.rand(1, 3, size, size) * 2 - 1, random_mask(1, size)
    with torch.no_grad():
        a, _ = model(image, mask)
        b, _ = loaded(image, mask)
    assert (a - b).abs().max() < 2e-2  # fp16 storage only


def test_weights_of_another_config_are_refused(saved):
    _, folder = saved
    with pytest.raises(WeightsError, match="config 'tiny', not 'lite'"):
        CA2SIS.from_pretrained(folder, expected_config="lite")
    # A folder whose config.json was swapped: the files say they were saved with another one.
    get_config("tiny").replace(style_dim=8).save(folder / "config.json")
    with pytest.raises(WeightsError, match="saved with another config.json"):
        CA2SIS.from_pretrained(folder)


def test_weights_saved_before_the_config_gained_a_field_still_load(saved):
    """A folder exported by an earlier ca2sis, whose config had no ``attention_mask_bias`` yet:
    its config.json lacks the field and its files are stamped with that config."""
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from ca2sis.model.io.weights import CONFIG_DIGEST_KEY, config_digest

    model, folder = saved
    old = json.loads((folder / "config.json").read_text())
    del old["attention_mask_bias"]
    (folder / "config.json").write_text(json.dumps(old, indent=2))
    for path in folder.glob("*.safetensors"):
        with safe_open(str(path), "pt") as handle:
            metadata = handle.metadata()
        save_file(load_file(str(path)), str(path), metadata={**metadata, CONFIG_DIGEST_KEY: config_digest(old)})
    loaded = CA2SIS.from_pretrained(folder, expected_config="tiny")
    assert loaded.config.attention_mask_bias == 0.0
    assert all(torch.equal(a.half(), b.half()) for a, b in zip(model.state_dict().values(),
                                                               loaded.state_dict().values(), strict=True))


def test_truncated_and_pickle_files_are_refused(saved):
    _, folder = saved
    generator = folder / "generator.safetensors"
    data = generator.read_bytes()
    generator.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="truncated or corrupt"):
        CA2SIS.from_pretrained(folder)
    torch.save({"weight": torch.zeros(1)}, generator)
    with pytest.raises(WeightsError, match="pickle"):
        CA2SIS.from_pretrained(folder)
    generator.write_bytes(pickle.dumps({"weight": [1, 2, 3]}))
    with pytest.raises(WeightsError, match="pickle"):
        CA2SIS.from_pretrained(folder)


def test_missing_folder_and_config_are_clear(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        CA2SIS.from_pretrained(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(WeightsError, match="no config.json"):
        CA2SIS.from_pretrained(tmp_path / "empty")


def test_a_safetensors_file_whose_header_length_starts_with_0x80_is_not_taken_for_a_pickle(tmp_path):
    # The first byte of a safetensors file is the low byte of its header length: 0x80 is
    # as legal as any other, and once made the lite generator unloadable.
    from safetensors.torch import save_file

    from ca2sis.model.io.weights import read_tensors

    path = tmp_path / "t.safetensors"
    for pad in range(300):
        save_file({"w": torch.zeros(2)}, str(path), metadata={"pad": "x" * pad})
        if path.read_bytes()[0] == 0x80:
            break
    assert path.read_bytes()[0] == 0x80
    assert torch.equal(read_tensors(path)["w"], torch.zeros(2))


@pytest.mark.parametrize("field, value", [("image_size", "abc"), ("generator_channels", [32, "x", 16, 8]),
                                          ("grouped_style_encoder", "yes"), ("style_dim", 0)])
def test_a_config_field_of_the_wrong_type_is_a_weights_error(tiny_weights, face_files, tmp_path, capsys,
                                                                   field, value):
    face, mask = face_files
    weights = tmp_path / "weights"
    shutil.copytree(tiny_weights, weights)
    config = json.loads((weights / "config.json").read_text())
    config[field] = value
    (weights / "config.json").write_text(json.dumps(config))
    with pytest.raises(WeightsError, match=field):
        Engine.from_pretrained(weights, device="cpu", backend="torch")
    assert edit_on_torch("--mask", str(mask), "--style", str(face), "--style-mask", str(mask), "--out",
                         str(tmp_path / "o.png"), weights=weights) == 3
    assert field in capsys.readouterr().err
    assert cli_export.main([str(weights)]) == 3
    assert field in capsys.readouterr().err
    assert studio_main(["--weights", str(weights), "--device", "cpu"]) == 3
    assert field in capsys.readouterr().err


def test_weights_with_nan_are_refused_naming_the_file_and_tensor(tiny_weights, face_files, tmp_path, capsys):
    face, mask = face_files
    weights = tmp_path / "weights"
    shutil.copytree(tiny_weights, weights, ignore=shutil.ignore_patterns("*.onnx"))
    tensors = load_file(str(weights / "generator.safetensors"))
    name = sorted(key for key, tensor in tensors.items() if tensor.is_floating_point())[0]
    tensors[name][..., 0] = float("nan")
    save_file(tensors, str(weights / "generator.safetensors"))
    with pytest.raises(WeightsError, match=f"generator.safetensors: tensor {name} holds"):
        Engine.from_pretrained(weights, device="cpu")
    assert edit_on_torch("--mask", str(mask), "--style", str(face), "--style-mask", str(mask), "--out",
                         str(tmp_path / "o.png"), weights=weights) == 3
    assert name in capsys.readouterr().err and not (tmp_path / "o.png").exists()


def test_a_config_with_huge_sizes_is_refused_before_building(tiny_weights, tmp_path):
    weights = tmp_path / "weights"
    shutil.copytree(tiny_weights, weights)
    config = json.loads((weights / "config.json").read_text())
    config["mapping_hidden"] = 200_000
    (weights / "config.json").write_text(json.dumps(config))
    started = time.perf_counter()
    with pytest.raises(WeightsError, match="mapping_hidden=200000: sizes and counts must be at most"):
        CA2SIS.from_pretrained(weights)
    assert time.perf_counter() - started < 1.0


def test_weights_written_onto_a_folder_leave_no_temporary(tmp_path):
    (tmp_path / "generator.safetensors").mkdir()
    with pytest.raises(OSError):
        atomic_save_file({"w": torch.zeros(2)}, tmp_path / "generator.safetensors")
    assert folder_listing(tmp_path) == ["generator.safetensors"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_exported_weights_get_the_permissions_of_any_new_file_of_the_user(tmp_path):
    # safetensors alone creates 0600 files: a weights folder others cannot read.
    umask = os.umask(0o022)
    os.umask(umask)
    atomic_save_file({"w": torch.zeros(2)}, tmp_path / "generator.safetensors")
    assert stat.S_IMODE((tmp_path / "generator.safetensors").stat().st_mode) == 0o666 & ~umask
