"""Reading and writing weights folders: one safetensors file per network + config.json.

A folder looks like::

    config.json                  the CA2SISConfig the networks were built from
    style_encoder.safetensors    E_s
    mask_embedder.safetensors    E_m
    generator.safetensors        G
    mapping_network.safetensors  M_s (optional)

Loading is strict: a file of another config (missing or extra tensors, other shapes), a
truncated file, or a pickle offered in place of safetensors is refused with a message that
says what is wrong. Nothing here ever unpickles.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import secrets
import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from ..config import CA2SISConfig, get_config
from ..errors import WeightsError
from .atomic import atomic_write
from .bundled import bundled_weights

WEIGHT_FILES = {
    "style_encoder": "style_encoder.safetensors",
    "mask_embedder": "mask_embedder.safetensors",
    "generator": "generator.safetensors",
    "mapping_network": "mapping_network.safetensors",
}
# Files besides WEIGHT_FILES that belong to one exported set (D, kept for fine-tuning).
SET_MEMBERS = ("training/discriminator.safetensors",)
SET_KEY, CONFIG_DIGEST_KEY = "ca2sis_set", "ca2sis_config_sha256"


def _looks_like_pickle(path: Path) -> bool:
    with open(path, "rb") as file:
        head = file.read(9)
    # safetensors: an 8-byte little-endian header length, then the JSON header's "{". Its
    # first byte can be anything, 0x80 included, so that layout is recognised first.
    if len(head) == 9 and head[8:9] == b"{":
        return False
    # Protocol-2+ pickles start with 0x80 and the protocol number; torch.save zips them.
    return (head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")) or head[:4] == b"PK\x03\x04"


def atomic_save_file(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str] | None = None) -> None:
    """safetensors save that never leaves a half-written file under ``path``."""
    with atomic_write(path) as temporary:
        try:
            save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(temporary),
                      metadata=metadata)
        except SafetensorError as error:  # a failed write (disk full) is an OSError like any other
            code = re.search(r"code: (\d+)", str(error))
            number = int(code.group(1)) if code else errno.EIO
            raise OSError(number, os.strerror(number), str(path)) from error


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """All tensors of one safetensors file, with clear errors for everything else."""
    if not path.is_file():
        raise WeightsError(f"missing weights file {path}")
    if _looks_like_pickle(path):
        raise WeightsError(
            f"{path} is a pickle (torch.save) file, not safetensors; ca2sis does not load "
            "pickles because they can run code. Convert it with `ca2sis-train export`."
        )
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"{path} is not a readable safetensors file (truncated or corrupt?): {exc}") from exc


def load_module_tensors(module: nn.Module, tensors: dict[str, torch.Tensor], source: str) -> None:
    """Copy ``tensors`` into ``module``, refusing any missing, extra or mis-shaped tensor."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    wrong = sorted(k for k in set(expected) & set(tensors) if expected[k].shape != tensors[k].shape)
    if missing or extra or wrong:
        details = []
        if missing:
            details.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if extra:
            details.append(f"{len(extra)} unexpected (e.g. {extra[0]})")
        if wrong:
            k = wrong[0]
            details.append(
                f"{len(wrong)} of another shape (e.g. {k}: {tuple(tensors[k].shape)} "
                f"instead of {tuple(expected[k].shape)})"
            )
        raise WeightsError(f"{source} does not fit this config: " + "; ".join(details))
    # NaN or Inf in a weight makes every output black (or NaN) without any error: refuse it.
    for key, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            raise WeightsError(f"{source}: tensor {key} holds {bad} NaN or infinite values; the file is damaged")
    dtype_fixed = {k: v.to(expected[k].dtype) for k, v in tensors.items()}
    module.load_state_dict(dtype_fixed, strict=True)


def save_weights_folder(
    folder: str | Path,
    config: CA2SISConfig,
    networks: dict[str, nn.Module],
    dtype: torch.dtype = torch.float16,
) -> list[Path]:
    """Write config.json and one safetensors file per network (floating tensors as ``dtype``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    # Every file of one save carries the same set id and its config's digest: a folder whose
    # files come from two saves (an export that failed half-way over an older one) is refused.
    stamp = {SET_KEY: secrets.token_hex(8), CONFIG_DIGEST_KEY: config_digest(config)}
    for name, module in networks.items():
        if name not in WEIGHT_FILES:
            raise ValueError(f"unknown network '{name}'")
        tensors = {
            k: v.to(dtype) if v.is_floating_point() else v for k, v in module.state_dict().items()
        }
        path = folder / WEIGHT_FILES[name]
        atomic_save_file(tensors, path, metadata={"network": name, "config": config.name, **stamp})
        written.append(path)
    config.save(folder / "config.json")
    written.append(folder / "config.json")
    return written


def config_digest(config: CA2SISConfig | dict) -> str:
    """The digest a save stamps into each weights file: of the config's fields as saved."""
    data = config if isinstance(config, dict) else config.to_dict()
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _saved_config_digest(path: Path) -> str | None:
    """The digest of a config.json as it is on disk: a folder saved before the config gained a
    field (written without it, stamped without it) still matches its own file."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):
        return None
    return config_digest(data) if isinstance(data, dict) else None


def _stamp(path: Path) -> tuple[str | None, str | None]:
    """The set id and config digest a weights file was saved with (None, None: before they existed)."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"{path} is not a readable safetensors file (truncated or corrupt?): {exc}") from exc
    return metadata.get(SET_KEY), metadata.get(CONFIG_DIGEST_KEY)


def check_weights_set(folder: Path, config: CA2SISConfig, files: list[Path]) -> None:
    """Refuse weights files that were not saved together, or not with this config.json."""
    stamps = {path: _stamp(path) for path in files}
    sets = {set_id for set_id, _ in stamps.values() if set_id is not None}  # unstamped: older saves, any tool
    if len(sets) > 1:
        raise WeightsError(f"{folder} mixes files of different saves ({', '.join(sorted(p.name for p in files))}): "
                           "an export or copy was interrupted; export the weights again")
    digests = {config_digest(config), _saved_config_digest(folder / "config.json")}
    for path, (set_id, file_digest) in stamps.items():
        if set_id is not None and file_digest not in digests:
            raise WeightsError(f"{path} was saved with another config.json than {folder / 'config.json'}: "
                               "an export or copy was interrupted; export the weights again")


def install_weights_folder(staging: Path, folder: Path) -> None:
    """Move a complete weights folder written at ``staging`` to ``folder``: renamed whole when
    ``folder`` is new; else the old set goes first (config.json, then every weights file, also
    those the new set lacks, which would not fit its config), then the new files come in with
    config.json last, so an interruption leaves a folder that says it is incomplete, never one
    that loads two sets. Other files in ``folder`` are left alone."""
    if not folder.exists():
        staging.rename(folder)
        return
    new_files = sorted((p for p in staging.rglob("*") if p.is_file()), key=lambda p: p.name == "config.json")
    for old_name in ("config.json", *WEIGHT_FILES.values(), *SET_MEMBERS):
        (folder / old_name).unlink(missing_ok=True)
    for path in new_files:
        target = folder / path.relative_to(staging)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
    shutil.rmtree(staging, ignore_errors=True)


def read_weights_config(folder: str | Path, expected_config: str | CA2SISConfig | None = None) -> CA2SISConfig:
    """The config of a weights folder. ``expected_config`` (a preset name or config) makes a
    folder of another config an error instead of a silent switch."""
    folder = Path(folder)
    if not folder.is_dir():
        raise WeightsError(f"weights folder not found: {folder}")
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise WeightsError(f"{folder} has no config.json; is it a ca2sis weights folder?")
    try:
        config = CA2SISConfig.load(config_path)
    except ValueError as exc:
        raise WeightsError(str(exc)) from exc
    if expected_config is not None:
        wanted = get_config(expected_config) if isinstance(expected_config, str) else expected_config
        if wanted.to_dict() != config.to_dict():
            raise WeightsError(f"{folder} holds weights of config '{config.name}', not '{wanted.name}'")
    return config


def read_weights_folder(
    folder: str | Path, expected_config: str | CA2SISConfig | None = None
) -> tuple[CA2SISConfig, dict[str, dict[str, torch.Tensor]]]:
    """The config and the tensors of every network file present in ``folder``."""
    folder = Path(folder)
    config = read_weights_config(folder, expected_config)
    files = {name: folder / filename for name, filename in WEIGHT_FILES.items() if (folder / filename).exists()}
    tensors = {name: read_tensors(path) for name, path in files.items()}
    check_weights_set(folder, config, list(files.values()))
    return config, tensors


def default_weights() -> Path:
    """The bundled ``lite`` weights (package data), unless CA2SIS_WEIGHTS names a folder."""
    override = os.environ.get("CA2SIS_WEIGHTS")
    return Path(override) if override else bundled_weights()


def ensure_weights(folder: str | Path) -> Path:
    """``folder`` if it is a weights folder, else a WeightsError that says how to get one."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise WeightsError(
            f"no ca2sis weights in {folder}: pass --weights DIR, or train and export them with "
            "`ca2sis-train --data DATA --config lite --out runs/lite` then "
            "`ca2sis-train export runs/lite --out weights/lite`"
        )
    return folder
