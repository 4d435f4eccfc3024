"""The training report (``ca2sis-train report``): the loss curves of a run and a grid of
validation faces through its exported weights.

Writes into the output folder:

- ``loss-synthesis.png`` (and ``loss-mapping.png`` when the run has ``log-mapping.jsonl``):
  one panel per logged loss, titled from ``training/log_keys.py`` (the keys the trainer logs),
  the raw curve light and a centred moving average dark;
- ``validation-grid.png``: one row per validation face, with the columns mask | real face |
  reconstruction | style swap (this mask, every style from the next face) | the part's shape
  interpolated towards the next face's at α = 0.5 and α = 1.0 (the rest unchanged). "Next
  face" is the row below; the last row takes the first row's.

Needs matplotlib (``pip install -e .[scripts]``), imported only here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import EngFormatter  # noqa: E402

from ..errors import CA2SISError  # noqa: E402
from ..inference.engine import Engine  # noqa: E402
from ..io.atomic import atomic_write  # noqa: E402
from ..io.weights import ensure_weights  # noqa: E402
from ..labels import CLASS_NAMES, DISPLAY_NAMES, colorize, part_index  # noqa: E402
from ..training.data import open_dataset, read_id_list  # noqa: E402
from ..training.log_keys import LOGGED_SCALARS, PROGRESS_KEYS, RENAMED_KEYS  # noqa: E402
from ..training.run_config import STAGES  # noqa: E402
from .image_quality import psnr  # noqa: E402

DPI = 100  # figure sizes below are in inches: 12 in = 1200 px


class ReportError(CA2SISError):
    """An input the report cannot use (exit 2)."""


@dataclass
class ReportSettings:
    """What ``ca2sis-train report`` draws, from what."""

    run: Path  # run folder with log-<stage>.jsonl
    weights: Path  # exported weights folder
    data: Path  # dataset folder
    id_list: Path  # validation ids, one per line
    out: Path  # folder for the PNGs
    faces: int = 6
    seed: int | None = None  # None: the first ids of the list
    cell: int | None = None  # None: the image size, within 128..256
    part: str = "hair"
    device: str = "auto"
    width: int = 1200


# --------------------------------------------------------------------------- logs


@dataclass
class LossLog:
    """One stage's JSONL log: steps and a series per drawn key (known keys in
    ``LOGGED_SCALARS`` order, then any others in first-seen order)."""

    path: Path
    steps: np.ndarray  # (N,) int
    epochs: np.ndarray  # (N,) float, NaN where not logged
    series: dict[str, np.ndarray]  # key → (N,) float, NaN where the line lacks the key
    img_per_s: np.ndarray  # (N,) float, NaN where not logged
    skipped: int  # lines that were not JSON objects with a step (e.g. a half-written last line)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def read_loss_log(path: Path) -> LossLog:
    """Parse ``log-<stage>.jsonl``; a repeated step keeps its last line, steps are sorted."""
    records: dict[int, dict] = {}
    skipped = 0
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"cannot read {path}: {exc}") from exc
    for line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            skipped += 1
            continue
        step = _number(record.get("step")) if isinstance(record, dict) else None
        if step is None:
            skipped += 1
            continue
        # a run resumed after a crash may log a step again; runs logged before the renaming use old keys
        records[int(step)] = {RENAMED_KEYS.get(key, key): value for key, value in record.items()}
    if not records:
        raise ReportError(f"{path}: no log lines with a step")
    logged: list[str] = []
    for record in records.values():
        for key, value in record.items():
            if key not in logged and key not in PROGRESS_KEYS and _number(value) is not None:
                logged.append(key)
    keys = [key for key in LOGGED_SCALARS if key in logged] + [key for key in logged if key not in LOGGED_SCALARS]
    steps = np.array(sorted(records), dtype=np.int64)
    ordered = [records[int(step)] for step in steps]

    def column(key: str) -> np.ndarray:
        values = [_number(record.get(key)) for record in ordered]
        return np.array([math.nan if value is None else value for value in values], dtype=np.float64)

    return LossLog(path, steps, column("epoch"), {key: column(key) for key in keys}, column("img_per_s"), skipped)


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over the finite values (the window shrinks at the ends)."""
    if window <= 1:
        return values.copy()
    finite = np.isfinite(values)
    filled = np.where(finite, values, 0.0)
    half = window // 2
    sums = np.concatenate([[0.0], np.cumsum(filled)])
    counts = np.concatenate([[0], np.cumsum(finite)])
    index = np.arange(len(values))
    lo, hi = np.clip(index - half, 0, len(values)), np.clip(index + half + 1, 0, len(values))
    number = counts[hi] - counts[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        average = (sums[hi] - sums[lo]) / number
    return np.where(finite, average, math.nan)


def smoothing_window(count: int) -> int:
    """An odd window of about 1/15 of the points (none for very short logs)."""
    if count < 6:
        return 1
    return max(3, round(count / 15)) | 1


# --------------------------------------------------------------------------- figures


def panel_grid(count: int, columns: int, width: int, panel_height: float, title: str, facts: list[str]
               ) -> tuple[Figure, list[plt.Axes]]:
    """A figure ``width`` px wide with ``count`` panels in rows of ``columns`` (constrained
    layout), the title and a line of facts above them; unused grid cells are hidden."""
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(width / DPI, 0.8 + rows * panel_height), dpi=DPI,
                                squeeze=False, layout="constrained")
    figure.suptitle(f"{title}\n{' · '.join(facts)}", x=0.01, ha="left", fontsize=12)
    flat = list(axes.flat)
    for unused in flat[count:]:
        unused.set_visible(False)
    return figure, flat[:count]


def plot_series(axes: plt.Axes, x: np.ndarray, raw: np.ndarray, window: int, title: str, x_label: str) -> None:
    """One series: the raw values light and their moving average dark (or, for a few points,
    the points themselves), the last value beside the x label, the y range fitted to all but the
    most extreme 1% of the raw values so that one early spike does not flatten the curve."""
    axes.set_title(title, loc="left", fontsize=10, fontweight="bold")
    axes.tick_params(labelsize=8)
    axes.grid(alpha=0.3)
    axes.xaxis.set_major_formatter(EngFormatter(sep=""))
    finite = np.isfinite(raw)
    if not finite.any():
        axes.text(0.5, 0.5, "no finite values logged", transform=axes.transAxes, ha="center", color="0.4")
        return
    last = int(np.flatnonzero(finite)[-1])
    reading = f"last {raw[last]:.4g}"
    if window > 1:
        smooth = moving_average(raw, window)
        (line,) = axes.plot(x, raw, linewidth=0.8, alpha=0.35)
        axes.plot(x, smooth, linewidth=1.6, color=line.get_color())
        reading += f"  avg {smooth[last]:.4g}"
    else:
        axes.plot(x, raw, marker="o", linewidth=1.6)
    axes.set_xlabel(f"{reading} · {x_label}", fontsize=8, loc="right")
    values = raw[finite]
    if len(values) >= 50:
        low, high = np.percentile(values, [1, 99])
        pad = (high - low) * 0.06 or abs(high) * 0.05 or 0.05
        axes.set_ylim(low - pad, high + pad)


def loss_figure(log: LossLog, stage: str, run_name: str, width: int = 1200, columns: int = 3) -> Figure:
    """The grid of loss panels for one stage's log, ``width`` pixels wide."""
    keys = list(log.series)
    if not keys:
        raise ReportError(f"{log.path}: no numeric loss values in the log")
    window = smoothing_window(len(log.steps))
    facts = [f"{log.path.name}: {len(log.steps)} lines", f"steps {log.steps.min():,}–{log.steps.max():,}"]
    epochs = log.epochs[np.isfinite(log.epochs)]
    if len(epochs):
        low, high = epochs.min(), epochs.max()
        facts.append(f"epoch {low:g}" if low == high else f"epochs {low:g}–{high:g}")
    speed = log.img_per_s[np.isfinite(log.img_per_s) & (log.img_per_s > 0)]
    if len(speed):
        facts.append(f"median {np.median(speed):.1f} img/s")
    if window > 1:
        facts.append(f"light: raw, dark: moving average of {window} log lines")
    if log.skipped:
        facts.append(f"{log.skipped} unreadable line{'s' if log.skipped > 1 else ''} skipped")
    figure, panels = panel_grid(len(keys), columns, width, 2.7, f"CA2-SIS {stage} stage · {run_name}", facts)
    for key, axes in zip(keys, panels):
        title = f"{key} · {LOGGED_SCALARS[key]}" if key in LOGGED_SCALARS else key
        plot_series(axes, log.steps, log.series[key], window, title, "step")
    return figure


# --------------------------------------------------------------------------- validation grid


def choose_ids(ids: list[str], count: int, seed: int | None) -> list[str]:
    """The first ``count`` ids, or ``count`` drawn with numpy's default_rng(seed)."""
    if count < 1:
        raise ReportError("--faces must be at least 1")
    if not ids:
        raise ReportError("the id list is empty")
    count = min(count, len(ids))
    if seed is None:
        return ids[:count]
    picks = np.random.default_rng(seed).choice(len(ids), size=count, replace=False)
    return [ids[int(i)] for i in picks]


def validation_rows(
    engine: Engine, faces: list[tuple[np.ndarray, np.ndarray]], part: int, alphas: Sequence[float]
) -> list[list[np.ndarray]]:
    """Per face: mask (colourised), real, reconstruction, style swap, shape interpolations."""
    images = [image for image, _ in faces]
    masks = [mask for _, mask in faces]
    latents = engine.embed_mask(masks)  # (B, C, latent)
    codes = engine.encode_styles(images, masks)  # (B, C, code)
    reconstructions = engine.generate(latents, codes, masks)[0]
    following = [(i + 1) % len(faces) for i in range(len(faces))]
    swaps = engine.generate(latents, codes[following], masks)[0]
    interpolated = []
    for alpha in alphas:
        mixed = np.stack([
            engine.interpolate_parts(latents[i], {part: (latents[j], alpha)}) for i, j in enumerate(following)
        ])
        interpolated.append(engine.generate(mixed, codes)[0])  # one latent moved: no mask describes it
    return [
        [colorize(masks[i]), images[i], reconstructions[i], swaps[i], *(result[i] for result in interpolated)]
        for i in range(len(faces))
    ]


def grid_figure(
    rows: list[list[np.ndarray]],
    headers: list[tuple[str, str]],
    row_labels: list[tuple[str, str]],
    title: str,
    subtitle: str,
    cell: int,
) -> Figure:
    """The images in a grid of ``cell`` px cells under two-line column headers, each row
    labelled on the left; the mask column is drawn with nearest-neighbour pixels."""
    columns = len(headers)
    inches = cell / DPI
    figure, axes = plt.subplots(len(rows), columns, figsize=(columns * inches + 1.2, len(rows) * inches + 1.4),
                                dpi=DPI, squeeze=False, layout="constrained")
    figure.suptitle(title, x=0.01, ha="left", fontsize=12, fontweight="bold")
    figure.supxlabel(subtitle, fontsize=8, color="0.4", wrap=True)
    for row_index, (row, (name, detail)) in enumerate(zip(rows, row_labels)):
        for col, picture in enumerate(row):
            ax = axes[row_index, col]
            ax.imshow(picture, interpolation="nearest" if col == 0 else "antialiased")
            ax.set_xticks([])
            ax.set_yticks([])
            if row_index == 0:
                ax.set_title(f"{headers[col][0]}\n{headers[col][1]}", fontsize=8)
        axes[row_index, 0].set_ylabel(f"{name}\n{detail}", fontsize=8, rotation=0, ha="right", va="center")
    return figure


def save_figure(figure: Figure, path: Path) -> None:
    """Write ``figure`` as a PNG, atomically, and free it."""
    try:
        with atomic_write(path) as temporary:
            figure.savefig(temporary, format="png", dpi=DPI, facecolor="white")
    finally:
        plt.close(figure)


# --------------------------------------------------------------------------- the report


def find_logs(run: Path) -> dict[str, Path]:
    """The stage logs of a run folder; a ReportError when there are none."""
    if not run.is_dir():
        raise ReportError(f"run folder not found: {run}")
    logs = {stage: run / f"log-{stage}.jsonl" for stage in STAGES if (run / f"log-{stage}.jsonl").is_file()}
    if not logs:
        raise ReportError(f"{run}: no training logs (log-synthesis.jsonl or log-mapping.jsonl) in the run folder")
    return logs


def make_report(args: ReportSettings) -> list[Path]:
    """Check every input, then write the figures; returns the paths written."""
    logs = {stage: read_loss_log(path) for stage, path in find_logs(args.run).items()}
    if not args.weights.is_dir():
        raise ReportError(f"weights folder not found: {args.weights}")
    ensure_weights(args.weights)
    if args.cell is not None and not 16 <= args.cell <= 1024:
        raise ReportError("--cell must be between 16 and 1024")
    if args.width < 400:
        raise ReportError("--width must be at least 400")
    part = part_index(args.part)
    ids = choose_ids(read_id_list(args.id_list), args.faces, args.seed)
    engine = Engine.from_pretrained(args.weights, device=args.device)
    size = engine.image_size
    dataset = open_dataset(args.data, size, include=ids)
    faces = [dataset.load_pair(face_id) for face_id in ids]

    written = []
    run_name = args.run.resolve().name
    for stage, log in logs.items():
        path = args.out / f"loss-{stage}.png"
        save_figure(loss_figure(log, stage, run_name, args.width), path)
        written.append(path)

    alphas = (0.5, 1.0)
    rows = validation_rows(engine, faces, part, alphas)
    cell = args.cell or max(128, min(size, 256))
    name = DISPLAY_NAMES[part].lower()
    headers = [
        ("mask", "input"),
        ("real", "ground truth"),
        ("reconstruction", "own mask + styles"),
        ("style swap", "next face's styles"),
        *((f"{name} shape", f"→ next, α = {alpha:g}") for alpha in alphas),
    ]
    row_labels = []
    for face_id, row in zip(ids, rows):
        short = face_id if len(face_id) <= 12 else face_id[:10] + "…"
        row_labels.append((short, f"PSNR {psnr(row[1], row[2]):.1f} dB"))
    config = engine.config
    title = f"CA2-SIS validation faces · {args.weights.resolve().name} ({config.name}, {size} px)"
    subtitle = (f"{len(ids)} faces of {args.id_list.name}; next face = the row below (the last row takes the first's); "
                f"{CLASS_NAMES[part]} latent interpolated, all else this face's; PSNR: reconstruction vs real · "
                f"{engine.description}")
    path = args.out / "validation-grid.png"
    save_figure(grid_figure(rows, headers, row_labels, title, subtitle, cell), path)
    written.append(path)
    return written
