"""A run → a weights folder: the inference networks (their weight averages when the run kept
them) and D beside them for fine-tuning, written all or nothing."""

from __future__ import annotations

import re
import secrets
import shutil
import time
from pathlib import Path

import torch

from ..errors import CA2SISError
from ..io.atomic import STALE_SECONDS
from ..io.checkpoint import checkpoint_config, checkpoint_path, network_tensors, read_checkpoint_meta
from ..io.weights import (
    WEIGHT_FILES,
    atomic_save_file,
    install_weights_folder,
    load_module_tensors,
    read_tensors,
    read_weights_folder,
)
from ..networks.composite import CA2SIS
from .grow import appended_blocks
from .warm_start import DISC_EXPORT, averaged_or_live, require_same_tensors


def export_weights(
    run_dir: str | Path, out: str | Path, dtype: torch.dtype = torch.float16, mapping_from: str | Path | None = None
) -> list[Path]:
    """Inference weights of a run (E_s, E_m, G, and M_s if trained; the weight averages when
    the run kept them) → a weights folder, with D in ``training/`` for fine-tuning.

    A run of the mapping stage alone (``--init`` from a weights folder) exports too: its
    checkpoint holds the frozen E_s, E_m and G it trained M_s against, and D is taken from
    the ``--init`` folder when it has one.

    ``mapping_from``: a weights folder with the same tensor layout whose M_s a synthesis-only run
    ships with (e.g. the folder it was warm-started from), so random part styles keep
    working until a mapping stage is trained against the new E_s."""
    run_dir = Path(run_dir)
    synthesis = checkpoint_path(run_dir) if run_dir.is_dir() else run_dir
    mapping = checkpoint_path(run_dir, "mapping") if run_dir.is_dir() else None
    has_mapping = mapping is not None and mapping.exists()
    if not synthesis.exists() and not has_mapping:
        raise CA2SISError(f"no training checkpoint at {synthesis}")
    source = synthesis if synthesis.exists() else mapping
    meta = read_checkpoint_meta(source)
    config = checkpoint_config(source, meta)
    if has_mapping and mapping_from is not None:
        raise CA2SISError(f"{run_dir} trained its own M_s: export it without --mapping-from")
    model = CA2SIS(config, with_mapping=has_mapping or mapping_from is not None)
    tensors = read_tensors(source)

    for name in ("style_encoder", "mask_embedder", "generator"):
        load_module_tensors(getattr(model, name), averaged_or_live(tensors, name), f"{source} [{name}]")
    if has_mapping:
        mapping_tensors = tensors if source == mapping else read_tensors(mapping)
        load_module_tensors(model.mapping_network, averaged_or_live(mapping_tensors, "mapping_network"), f"{mapping}")
    elif mapping_from is not None:
        other_config, other = read_weights_folder(mapping_from)
        if not appended_blocks(other_config, config):  # G's norm or its size may differ, M_s not
            require_same_tensors(other_config, config, f"--mapping-from {mapping_from}")
        if "mapping_network" not in other:
            raise CA2SISError(f"--mapping-from {mapping_from}: the folder has no {WEIGHT_FILES['mapping_network']}")
        load_module_tensors(model.mapping_network, other["mapping_network"], f"{mapping_from} [mapping_network]")
    if source == synthesis:
        disc = network_tensors(tensors, "discriminator")
    else:  # the mapping stage's D judged M_s's faces; the synthesis D is the one to fine-tune with
        init = meta["train"].get("init")
        init_disc = Path(init) / DISC_EXPORT if init else None
        disc = read_tensors(init_disc) if init_disc is not None and init_disc.exists() else {}
    # The whole set is written to a folder of its own first: a failure (a full disk) leaves
    # --out as it was, and the set goes in only once every file is written.
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(out)
    staging = out.with_name(f"{_staging_prefix(out)}{secrets.token_hex(6)}")
    try:
        written = model.save_pretrained(staging, dtype=dtype)
        if disc:
            disc_path = staging / DISC_EXPORT
            atomic_save_file({k: v.to(dtype) if v.is_floating_point() else v for k, v in disc.items()}, disc_path,
                             metadata={"network": "discriminator", "config": config.name})
            written.append(disc_path)
        install_weights_folder(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [out / path.relative_to(staging) for path in written]


def _staging_prefix(out: Path) -> str:
    return f".{out.name}.exporting-"


def remove_stale_staging(out: Path, now: float | None = None) -> list[Path]:
    """Remove the staging folders of exports to ``out`` that were killed (``.NAME.exporting-`` and
    12 hex digits, untouched for ``STALE_SECONDS``: a running export's stays). Nothing else:
    no other name, no link. Returns what was removed."""
    pattern = re.compile(re.escape(_staging_prefix(out)) + r"[0-9a-f]{12}")
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(out.parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        try:
            if not pattern.fullmatch(entry.name) or entry.is_symlink() or not entry.is_dir() \
                    or now - entry.stat().st_mtime <= STALE_SECONDS:
                continue
            shutil.rmtree(entry)
        except OSError:
            continue
        removed.append(entry)
    return removed
