"""Figures of the training report (docs/training.md) for one CA2-SIS run.

Usage:
    python scripts/training_report.py --run runs/NAME --weights WEIGHTS_DIR \\
        --data ../shared/data/celebamask-mini --list assets/splits/celebamask-mini-val.txt \\
        --out docs/training [--faces 6] [--seed 0] [--cell 160] [--part hair] [--device auto] \
        [--curve docs/training/campaign-curve-128.jsonl ...]

Writes into --out:

- ``loss-synthesis.png`` (and ``loss-mapping.png`` when the run has ``log-mapping.jsonl``):
  one panel per logged loss, the raw curve light and a centred moving average dark, drawn
  with PIL alone (no matplotlib);
- ``validation-curve-<size>.png`` for each ``--curve campaign-curve-<size>.jsonl``: the
  campaign's validation figures against kimg, measured at that size;
- ``validation-grid.png``: one row per validation face, with the columns mask | real face |
  reconstruction | style swap (this mask, every style from the next face) | the hair's shape
  interpolated towards the next face's hair at α = 0.5 and α = 1.0 (the rest unchanged).
  "Next face" is the row below; the last row takes the first row's.

Exit status: 0 written; 2 bad arguments or unusable inputs (no logs, no weights, unknown ids);
1 unexpected. Errors are one line on stderr starting with ``error:``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ca2sis.model.errors import CA2SISError
from ca2sis.model.evaluation.image_quality import psnr
from ca2sis.model.inference.engine import Engine, ensure_weights
from ca2sis.model.io.images import save_png
from ca2sis.model.labels import CLASS_NAMES, DISPLAY_NAMES, colorize, part_index
from ca2sis.model.training.data import open_dataset, read_id_list

EXIT_OK, EXIT_UNEXPECTED, EXIT_BAD_INPUT = 0, 1, 2
STAGES = ("synthesis", "mapping")
NOT_LOSSES = {"step", "epoch", "img_per_s"}
TIME_WORDS = ("time", "sec", "second", "elapsed", "eta", "wall", "per_s", "ms", "duration", "clock", "speed")

# What each logged key of model/training/train.py is (synthesis: adv fm l1 [vgg] [att] d; mapping: adv dv d).
LOSS_NAMES = {
    "adv": "adversarial (G hinge)",
    "fm": "feature matching",
    "l1": "L1 reconstruction",
    "vgg": "perceptual (VGG19)",
    "att": "attention L_att",
    "dv": "diversity L_dv",
    "d": "discriminator hinge",
    "lr": "learning rate",
}
# A tab10-like palette: one colour per panel.
PALETTE = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
)
INK, MUTED, GRID, FRAME = (25, 25, 25), (100, 100, 100), (228, 228, 228), (150, 150, 150)
SUPERSAMPLE = 2  # the loss figure is drawn twice as large, then shrunk: smooth lines and text


class ReportError(Exception):
    """An input the report cannot use; reported as one line, exit status 2."""


# --------------------------------------------------------------------------- fonts


_FONT_FILES = {False: ("DejaVuSans.ttf", "LiberationSans-Regular.ttf", "Arial.ttf"),
               True: ("DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf", "Arial Bold.ttf")}


def load_font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A sans-serif font of ``size`` pixels: DejaVu (or Liberation/Arial), else PIL's default."""
    for name in _FONT_FILES[bold]:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size=size)  # PIL >= 10.1
    except TypeError:
        return ImageFont.load_default()


def has_greek(font: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> bool:
    """Whether ``font`` is one of the fonts known to draw "α" (else the label spells "alpha")."""
    path = getattr(font, "path", "")
    return isinstance(path, str) and ("DejaVu" in path or "Liberation" in path)


def text_size(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.ImageFont) -> tuple[int, int]:
    """Width and height of ``text`` as drawn with ``font``."""
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    return right - left, bottom - top


def fitting_font(
    draw: ImageDraw.ImageDraw, text: str, width: float, size: int, bold: bool = False, smallest: int = 8
) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The font of ``size`` px, or a smaller one (down to ``smallest``) if ``text`` is wider than ``width``."""
    font = load_font(size, bold)
    while size > smallest and text_size(draw, text, font)[0] > width:
        size -= 1
        font = load_font(size, bold)
    return font


def wrap(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.ImageFont, width: float) -> list[str]:
    """``text`` broken at spaces into lines no wider than ``width`` (a long word stays whole)."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and text_size(draw, f"{lines[-1]} {word}", font)[0] <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


# --------------------------------------------------------------------------- logs


@dataclass
class LossLog:
    """One stage's JSONL log: steps and a series per loss key, in first-seen key order."""

    path: Path
    steps: np.ndarray  # (N,) int
    epochs: np.ndarray  # (N,) float, NaN where not logged
    series: dict[str, np.ndarray]  # key → (N,) float, NaN where the line lacks the key
    img_per_s: np.ndarray  # (N,) float, NaN where not logged
    skipped: int  # lines that were not JSON objects with a step (e.g. a half-written last line)


def is_time_like(key: str) -> bool:
    """Keys that measure time or speed rather than a loss (img_per_s, seconds, eta, ...)."""
    lowered = key.lower()
    return lowered.endswith("_s") or any(word in lowered for word in TIME_WORDS)


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
        records[int(step)] = record  # a run resumed after a crash may log a step again
    if not records:
        raise ReportError(f"{path}: no log lines with a step")
    keys: list[str] = []
    for record in records.values():
        for key, value in record.items():
            if key not in keys and key not in NOT_LOSSES and not is_time_like(key) and _number(value) is not None:
                keys.append(key)
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


# --------------------------------------------------------------------------- axes


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5, 5 x 10^k steps) covering [lo, hi] with about ``target`` ticks."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(1, target - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    value = first
    while value <= hi + step * 1e-9:
        ticks.append(0.0 if abs(value) < step * 1e-9 else value)
        value += step
    return ticks


def format_value(value: float, ticks: Sequence[float]) -> str:
    """A tick label with the fewest decimals that tell all ``ticks`` apart exactly."""
    if max(abs(t) for t in ticks) >= 1e5 or (len(ticks) > 1 and abs(ticks[1] - ticks[0]) < 1e-5):
        return f"{value:.3g}"
    spacing = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    decimals = next(
        (d for d in range(7) if all(abs(t - round(t, d)) < spacing * 1e-6 for t in ticks)), 6
    )
    return f"{value:.{decimals}f}"


def format_step(value: float) -> str:
    """Step tick labels: 500, 1.5k, 20k, 1.2M."""
    if abs(value) >= 1e6:
        return f"{value / 1e6:g}M"
    if abs(value) >= 1e4 or (abs(value) >= 1000 and value % 1000 == 0):
        return f"{value / 1e3:g}k"
    return f"{value:g}"


def format_reading(value: float) -> str:
    """A loss value for a panel's "last" reading: 4 significant digits."""
    return "n/a" if not math.isfinite(value) else f"{value:.4g}"


# --------------------------------------------------------------------------- loss figure


def _lighten(color: tuple[int, int, int], amount: float) -> tuple[int, int, int]:
    return tuple(round(c + (255 - c) * amount) for c in color)  # type: ignore[return-value]


def _darken(color: tuple[int, int, int], amount: float) -> tuple[int, int, int]:
    return tuple(round(c * (1 - amount)) for c in color)  # type: ignore[return-value]


def _value_range(raw: np.ndarray, smooth: np.ndarray) -> tuple[float, float]:
    """The y range: the raw values between their 1st and 99th percentiles and all of the
    average, so that one early spike does not flatten the rest of the curve."""
    finite = raw[np.isfinite(raw)]
    lo, hi = np.percentile(finite, [1, 99]) if len(finite) >= 50 else (finite.min(), finite.max())
    smooth = smooth[np.isfinite(smooth)]
    if len(smooth):
        lo, hi = min(lo, smooth.min()), max(hi, smooth.max())
    if hi - lo < 1e-12:
        pad = abs(hi) * 0.05 or 0.05
        return lo - pad, hi + pad
    pad = (hi - lo) * 0.06
    return lo - pad, hi + pad


def draw_panel(
    draw: ImageDraw.ImageDraw,
    box: tuple[int, int, int, int],
    key: str,
    steps: np.ndarray,
    raw: np.ndarray,
    window: int,
    color: tuple[int, int, int],
    scale: int,
    x_label: str = "step",
    title: str | None = None,
) -> None:
    """One loss: title, last value, grid, tick labels, raw curve (light) and moving average (dark).
    Without averaging (``window`` 1) each point also gets a dot, as a curve of a few points should."""
    left, top, right, bottom = box
    s = scale
    title_font, label_font, small_font = load_font(15 * s, bold=True), load_font(12 * s), load_font(11 * s)
    if title is None:
        title = key if key not in LOSS_NAMES else f"{key} · {LOSS_NAMES[key]}"
    draw.text((left + 8 * s, top + 6 * s), title, font=title_font, fill=INK)
    finite = np.isfinite(raw)
    smooth = moving_average(raw, window)
    if not finite.any():
        draw.text((left + 8 * s, top + 40 * s), "no finite values logged", font=label_font, fill=MUTED)
        return
    last_index = int(np.flatnonzero(finite)[-1])
    reading = f"last {format_reading(raw[last_index])}"
    if window > 1 and math.isfinite(smooth[last_index]):
        reading += f"  avg {format_reading(smooth[last_index])}"
    width, _ = text_size(draw, reading, small_font)
    draw.text((right - 8 * s - width, top + 9 * s), reading, font=small_font, fill=MUTED)

    # Plot area inside the panel, leaving room for the value labels (left) and steps (below).
    y_lo, y_hi = _value_range(raw, smooth)
    y_ticks = [t for t in nice_ticks(y_lo, y_hi) if y_lo <= t <= y_hi]
    y_labels = [format_value(t, y_ticks) for t in y_ticks]
    label_width = max((text_size(draw, label, label_font)[0] for label in y_labels), default=0)
    plot = (left + label_width + 14 * s, top + 32 * s, right - 10 * s, bottom - 34 * s)
    px0, py0, px1, py1 = plot
    x_lo, x_hi = float(steps.min()), float(steps.max())
    if x_hi <= x_lo:
        x_lo, x_hi = x_lo - 1, x_hi + 1

    def to_x(step: float) -> float:
        return px0 + (step - x_lo) / (x_hi - x_lo) * (px1 - px0)

    def to_y(value: float) -> float:
        return py1 - (value - y_lo) / (y_hi - y_lo) * (py1 - py0)

    for tick, label in zip(y_ticks, y_labels):
        y = to_y(tick)
        draw.line([(px0, y), (px1, y)], fill=GRID, width=s)
        w, h = text_size(draw, label, label_font)
        draw.text((px0 - 6 * s - w, y - h / 2 - 2 * s), label, font=label_font, fill=MUTED)
    x_ticks = [t for t in nice_ticks(x_lo, x_hi, 6) if x_lo <= t <= x_hi]
    for tick in x_ticks:
        x = to_x(tick)
        draw.line([(x, py0), (x, py1)], fill=GRID, width=s)
        draw.line([(x, py1), (x, py1 + 4 * s)], fill=FRAME, width=s)
        label = format_step(tick)
        w, _ = text_size(draw, label, label_font)
        draw.text((min(max(x - w / 2, px0 - 4 * s), right - w), py1 + 6 * s), label, font=label_font, fill=MUTED)
    w, h = text_size(draw, x_label, small_font)
    draw.text((px1 - w, bottom - h - 6 * s), x_label, font=small_font, fill=MUTED)
    draw.rectangle(plot, outline=FRAME, width=s)

    def polyline(values: np.ndarray, fill: tuple[int, int, int], width: int) -> None:
        """The curve through the finite points, broken at NaNs and clipped to the plot."""
        run: list[tuple[float, float]] = []
        for step, value in zip(steps, values):
            if math.isfinite(value):
                run.append((to_x(float(step)), min(max(to_y(float(value)), py0), py1)))
                continue
            if run:
                _stroke(draw, run, fill, width)
            run = []
        if run:
            _stroke(draw, run, fill, width)

    polyline(raw, _lighten(color, 0.62) if window > 1 else color, (1 if window > 1 else 2) * s)
    if window > 1:
        polyline(smooth, _darken(color, 0.25), 2 * s)
    else:
        for step, value in zip(steps, raw):
            if math.isfinite(value):
                x, y = to_x(float(step)), to_y(float(value))
                draw.ellipse([x - 4 * s, y - 4 * s, x + 4 * s, y + 4 * s], fill=color)


def _stroke(
    draw: ImageDraw.ImageDraw, points: list[tuple[float, float]], fill: tuple[int, int, int], width: int
) -> None:
    """A polyline, or a dot for a single point."""
    if len(points) == 1:
        x, y = points[0]
        draw.ellipse([x - width, y - width, x + width, y + width], fill=fill)
    else:
        draw.line(points, fill=fill, width=width, joint="curve")


# Layout of the panel figures (loss curves, campaign curve), in output pixels.
FIGURE_MARGIN, FIGURE_HEADER, PANEL_GAP = 16, 74, 12


def panel_figure(
    count: int, columns: int, width: int, panel_height: int, title: str, facts: list[str]
) -> tuple[Image.Image, ImageDraw.ImageDraw, list[tuple[int, int, int, int]]]:
    """A supersampled white figure ``width`` pixels wide with ``title``, the ``facts`` line
    below it and ``count`` empty framed panels in rows of ``columns``; returns the image, its
    drawing context and the panels' boxes (in supersampled pixels). ``finish`` scales it down."""
    s, margin, header, gap = SUPERSAMPLE, FIGURE_MARGIN, FIGURE_HEADER, PANEL_GAP
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    height = header + rows * panel_height + (rows - 1) * gap + margin
    image = Image.new("RGB", (width * s, height * s), "white")
    draw = ImageDraw.Draw(image)
    draw.text((margin * s, 10 * s), title, font=load_font(22 * s, bold=True), fill=INK)
    draw.text((margin * s, 42 * s), " · ".join(facts), font=load_font(13 * s), fill=MUTED)
    panel_width = (width - 2 * margin - (columns - 1) * gap) / columns
    boxes = []
    for index in range(count):
        row, col = divmod(index, columns)
        left = margin + col * (panel_width + gap)
        top = header + row * (panel_height + gap)
        box = (round(left * s), round(top * s), round((left + panel_width) * s), round((top + panel_height) * s))
        draw.rectangle(box, fill=(252, 252, 252), outline=(215, 215, 215), width=s)
        boxes.append(box)
    return image, draw, boxes


def finish(image: Image.Image) -> Image.Image:
    """A supersampled figure scaled down to its output size."""
    return image.resize((image.width // SUPERSAMPLE, image.height // SUPERSAMPLE), Image.Resampling.LANCZOS)


def loss_figure(log: LossLog, stage: str, run_name: str, width: int = 1200, columns: int = 3) -> Image.Image:
    """The grid of loss panels for one stage's log, ``width`` pixels wide."""
    s = SUPERSAMPLE
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
    if log.skipped:
        facts.append(f"{log.skipped} unreadable line{'s' if log.skipped > 1 else ''} skipped")
    image, draw, boxes = panel_figure(len(keys), columns, width, 270, f"CA2-SIS {stage} stage · {run_name}", facts)

    # Legend, top right: light = raw, dark = moving average.
    legend_font = load_font(13 * s)
    entries = [((150, 150, 150) if window > 1 else (60, 60, 60), "raw")]
    if window > 1:
        entries.append(((40, 40, 40), f"moving average ({window} log lines)"))
    x = width * s - FIGURE_MARGIN * s
    for color, label in reversed(entries):
        w, h = text_size(draw, label, legend_font)
        x -= w
        draw.text((x, 44 * s), label, font=legend_font, fill=INK)
        x -= 30 * s
        y = 44 * s + h / 2 + 3 * s
        draw.line([(x, y), (x + 24 * s, y)], fill=color, width=(2 if color[0] < 100 else 1) * s * 2)
        x -= 20 * s

    for index, (key, box) in enumerate(zip(keys, boxes)):
        draw_panel(draw, box, key, log.steps, log.series[key], window, PALETTE[index % len(PALETTE)], s)
    return finish(image)


# --------------------------------------------------------------------------- campaign curve

# The validation figures scripts/campaign_eval.sh appends to the campaign's curve, and which way is better.
CURVE_METRICS = {
    "psnr": "PSNR dB ↑",
    "ssim": "SSIM ↑",
    "swd": "SWD ×1e3 ↓",
    "miou": "parser mIoU ↑",
    "identity_match": "identity kept ↑",
    "style_leakage": "swap leakage ↓",
    "style_transfer": "swap transfer ↑",
    "random_part_leakage": "random-part leakage ↓",
}


def read_curve(path: Path) -> list[dict]:
    """The points of a campaign curve (JSON lines with ``kimg`` and metrics), in kimg order."""
    if not path.is_file():
        raise ReportError(f"curve file not found: {path}")
    points = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            point = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ReportError(f"{path}:{number}: not a JSON line ({exc.msg})") from exc
        if not isinstance(point, dict) or _number(point.get("kimg")) is None:
            raise ReportError(f"{path}:{number}: a point needs a numeric 'kimg'")
        points.append(point)
    if not points:
        raise ReportError(f"{path}: no points")
    return sorted(points, key=lambda point: float(point["kimg"]))


def curve_figure_name(curve: Path) -> str:
    """campaign-curve-256.jsonl → validation-curve-256.png."""
    return f"validation-{curve.stem.removeprefix('campaign-')}.png"


def curve_figure(points: list[dict], name: str, width: int = 1200, columns: int = 4) -> Image.Image:
    """One panel per validation metric against the kimg the weights had seen."""
    s = SUPERSAMPLE
    keys = [key for key in CURVE_METRICS if any(_number(point.get(key)) is not None for point in points)]
    if not keys:
        raise ReportError("the curve has no validation metrics")
    kimg = np.array([float(point["kimg"]) for point in points])
    facts = [f"{len(points)} point{'s' if len(points) > 1 else ''}", f"{kimg.min():.1f}–{kimg.max():.1f} kimg",
             "validation list, EMA weights, ca2sis-eval"]
    hours = [_number(point.get("cpu_hours")) for point in points]
    if hours[-1] is not None:
        facts.append(f"{hours[-1]:.1f} CPU-hours at the last point")
    image, draw, boxes = panel_figure(len(keys), columns, width, 230, f"CA2-SIS training campaign · {name}", facts)
    for index, (key, box) in enumerate(zip(keys, boxes)):
        values = np.array([_number(point.get(key)) if _number(point.get(key)) is not None else math.nan
                           for point in points])
        draw_panel(draw, box, key, kimg, values, 1, PALETTE[index % len(PALETTE)], s,
                   x_label="kimg", title=CURVE_METRICS[key])
    return finish(image)


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


def _cell(image: np.ndarray, size: int, nearest: bool = False) -> Image.Image:
    picture = Image.fromarray(np.ascontiguousarray(image))
    if picture.size == (size, size):
        return picture
    if nearest:
        resample = Image.Resampling.NEAREST
    else:
        resample = Image.Resampling.BICUBIC if size > picture.width else Image.Resampling.LANCZOS
    return picture.resize((size, size), resample)


def validation_rows(
    engine: Engine, faces: list[tuple[np.ndarray, np.ndarray]], part: int, alphas: Sequence[float]
) -> list[list[np.ndarray]]:
    """Per face: mask (colourised), real, reconstruction, style swap, shape interpolations."""
    images = [image for image, _ in faces]
    masks = [mask for _, mask in faces]
    latents = engine.embed_mask(masks)  # (B, C, latent)
    codes = engine.encode_styles(images, masks)  # (B, C, code)
    reconstructions = engine.generate(latents, codes)[0]
    following = [(i + 1) % len(faces) for i in range(len(faces))]
    swaps = engine.generate(latents, codes[following])[0]
    interpolated = []
    for alpha in alphas:
        mixed = np.stack([
            engine.interpolate_parts(latents[i], {part: (latents[j], alpha)}) for i, j in enumerate(following)
        ])
        interpolated.append(engine.generate(mixed, codes)[0])
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
) -> Image.Image:
    """Cells of ``cell`` px under two-line column headers, with a label column on the left."""
    gap, margin, label_width, header_height = 4, 12, 96, 44
    columns = len(headers)
    width = margin * 2 + label_width + columns * cell + (columns - 1) * gap
    title_font, subtitle_font = load_font(18, bold=True), load_font(12)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    width = max(width, min(text_size(measure, title, title_font)[0] + 2 * margin, 1600))
    subtitle_lines = wrap(measure, subtitle, subtitle_font, width - 2 * margin)
    title_height = 36 + 16 * len(subtitle_lines) + 6
    height = title_height + header_height + len(rows) * cell + (len(rows) - 1) * gap + margin
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((margin, 8), title, font=title_font, fill=INK)
    for index, line in enumerate(subtitle_lines):
        draw.text((margin, 34 + 16 * index), line, font=subtitle_font, fill=MUTED)
    label_font = load_font(11)
    x0 = margin + label_width
    y0 = title_height + header_height
    for col, (head, sub) in enumerate(headers):
        center = x0 + col * (cell + gap) + cell / 2
        head_font = fitting_font(draw, head, cell, 13, bold=True)
        sub_font = fitting_font(draw, sub, cell, 11)
        lines = ((head, head_font, title_height + 4, INK), (sub, sub_font, title_height + 22, MUTED))
        for text, font, y, fill in lines:
            w, _ = text_size(draw, text, font)
            draw.text((center - w / 2, y), text, font=font, fill=fill)
    for row_index, (row, (name, detail)) in enumerate(zip(rows, row_labels)):
        top = y0 + row_index * (cell + gap)
        draw.text((margin, top + cell / 2 - 16), name, font=load_font(12, bold=True), fill=INK)
        draw.text((margin, top + cell / 2 + 2), detail, font=label_font, fill=MUTED)
        for col, picture in enumerate(row):
            image.paste(_cell(picture, cell, nearest=col == 0), (x0 + col * (cell + gap), top))
    return image


# --------------------------------------------------------------------------- main


def find_logs(run: Path) -> dict[str, Path]:
    """The stage logs of a run folder; a ReportError when there are none."""
    if not run.is_dir():
        raise ReportError(f"run folder not found: {run}")
    logs = {stage: run / f"log-{stage}.jsonl" for stage in STAGES if (run / f"log-{stage}.jsonl").is_file()}
    if not logs:
        raise ReportError(f"{run}: no training logs (log-synthesis.jsonl or log-mapping.jsonl) in the run folder")
    return logs


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description="Figures of the CA2-SIS training report: loss curves and a "
                                     "validation grid.")
    parser.add_argument("--run", type=Path, required=True, help="run folder with log-<stage>.jsonl")
    parser.add_argument("--weights", type=Path, required=True, help="exported weights folder (ca2sis-train export)")
    parser.add_argument("--data", type=Path, required=True, help="dataset folder (images/ + masks/ or official)")
    parser.add_argument("--list", type=Path, required=True, help="validation id list, one id per line")
    parser.add_argument("--out", type=Path, required=True, help="folder for the PNGs")
    parser.add_argument("--faces", type=int, default=6, help="validation faces, one row each (default: 6)")
    parser.add_argument("--seed", type=int, default=None, help="draw the faces at random with this seed "
                        "(default: the first ids of the list)")
    parser.add_argument("--cell", type=int, default=None, help="cell size in px (default: the image size, "
                        "at least 128 and at most 256)")
    parser.add_argument("--part", default="hair", help="part whose shape is interpolated (default: hair)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--width", type=int, default=1200, help="width of the loss figures in px (default: 1200)")
    parser.add_argument("--curve", type=Path, action="append", default=[], help="campaign curve (JSON lines of "
                        "scripts/campaign_eval.sh), may be given once per curve: also draw "
                        "validation-<name>.png, e.g. validation-curve-256.png for campaign-curve-256.jsonl")
    return parser.parse_args(argv)


def make_report(args: argparse.Namespace) -> list[Path]:
    """Check every input, then write the figures; returns the paths written."""
    logs = {stage: read_loss_log(path) for stage, path in find_logs(args.run).items()}
    if not args.weights.is_dir():
        raise ReportError(f"weights folder not found: {args.weights}")
    ensure_weights(args.weights)
    curves = {path: read_curve(path) for path in args.curve}
    if args.cell is not None and not 16 <= args.cell <= 1024:
        raise ReportError("--cell must be between 16 and 1024")
    if args.width < 400:
        raise ReportError("--width must be at least 400")
    part = part_index(args.part)
    ids = choose_ids(read_id_list(args.list), args.faces, args.seed)
    engine = Engine.from_pretrained(args.weights, device=args.device)
    size = engine.image_size
    dataset = open_dataset(args.data, size, include=ids)
    faces = [dataset.load_pair(face_id) for face_id in ids]

    written = []
    run_name = args.run.resolve().name
    for stage, log in logs.items():
        path = args.out / f"loss-{stage}.png"
        save_png(loss_figure(log, stage, run_name, args.width), path)
        written.append(path)
    for curve_path, curve in curves.items():
        path = args.out / curve_figure_name(curve_path)
        save_png(curve_figure(curve, curve_path.name, args.width), path)
        written.append(path)

    alphas = (0.5, 1.0)
    rows = validation_rows(engine, faces, part, alphas)
    cell = args.cell or max(128, min(size, 256))
    greek = has_greek(load_font(11))
    name = DISPLAY_NAMES[part].lower()
    headers = [
        ("mask", "input"),
        ("real", "ground truth"),
        ("reconstruction", "own mask + styles"),
        ("style swap", "next face's styles"),
        *((f"{name} shape", f"→ next, {'α' if greek else 'alpha'} = {alpha:g}") for alpha in alphas),
    ]
    row_labels = []
    for face_id, row in zip(ids, rows):
        short = face_id if len(face_id) <= 12 else face_id[:10] + "…"
        row_labels.append((short, f"PSNR {psnr(row[1], row[2]):.1f} dB"))
    config = engine.config
    title = f"CA2-SIS validation faces · {args.weights.resolve().name} ({config.name}, {size} px)"
    subtitle = (f"{len(ids)} faces of {args.list.name}; next face = the row below (the last row takes the first's); "
                f"{CLASS_NAMES[part]} latent interpolated, all else this face's; PSNR: reconstruction vs real · "
                f"{engine.description}")
    path = args.out / "validation-grid.png"
    save_png(grid_figure(rows, headers, row_labels, title, subtitle, cell), path)
    written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: write the figures and print their paths; one-line errors, exit 2."""
    args = parse_args(argv)
    try:
        written = make_report(args)
    except (ReportError, CA2SISError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for path in written:
        print(path)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
