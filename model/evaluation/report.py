"""The evaluation report: the metrics' names and directions, strict JSON, the markdown table."""

from __future__ import annotations

import numpy as np

from .image_quality import PSNR_CAP_DB
from .leakage import LEAKAGE_MIN_AREA
from .metrics import METRIC_REGISTRY
from .swd import SWD_PATCH, SWD_PATCHES_PER_IMAGE, SWD_PROJECTIONS, SWD_REPEATS

FRS_NOTE = (
    "FRS uses dlib's face-recognition ResNet (dlib_face_recognition_resnet_model_v1, from "
    "face-recognition-models) in place of the paper's VGGFace2-trained network, so its values are not "
    "comparable with the paper's Table 2; frs_unrelated (real faces of different people) gives the scale."
)

# key → (label, direction); the direction says which way is better.
METRICS: dict[str, tuple[str, str]] = {
    "psnr": ("PSNR of reconstructions (dB)", "↑"),
    "ssim": ("SSIM of reconstructions", "↑"),
    "swd": ("SWD ×1e3, reconstructions vs real", "↓"),
    "swd_sh": ("SWD-Sh ×1e3, one part's shape swapped vs real", "↓"),
    "miou": ("mIoU, face parser on reconstructions vs input masks", "↑"),
    "miou_real": ("mIoU, face parser on the real faces (the scale for the line above)", "·"),
    "pixel_accuracy": ("Pixel accuracy (%), face parser on reconstructions", "↑"),
    "frs": ("FRS, identity cosine similarity real vs reconstruction (dlib)", "↑"),
    "frs_unrelated": ("FRS between different people (reference, not a score)", "·"),
    "identity_match": ("Identity kept: share of reconstructions within dlib's same-person distance 0.6", "↑"),
    "style_leakage": ("Style leakage of one-part style swaps (share outside the part)", "↓"),
    "style_transfer": ("Style transfer of one-part swaps (share of the colour gap to the reference closed)", "↑"),
    "random_part_leakage": ("Style leakage of one random part style from M_s (share outside the part)", "↓"),
    "ms_per_image": ("ms per image (reconstruction, batch 1)", "↓"),
}


def clean_json(value: object) -> object:
    """NaN and inf → None, numpy scalars → Python: the report must be strict JSON."""
    if isinstance(value, dict):
        return {k: clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def build_report(
    metrics: dict,
    per_face: list[dict],
    shape_swaps: list,
    counts: dict[str, int | None],
    *,
    selected: list[str],
    config: str,
    image_size: int,
    compared_at: int,
    weights: object,
    backend: str,
    device: str,
    data: str,
    seed: int,
    level_sizes: list[str],
    dilation: int,
    parser_input_size: int | None,
    per_class_iou: dict | None,
    seconds: float,
) -> dict:
    """The report ``evaluate`` returns (before ``clean_json``): the metrics with the counts,
    settings and notes a reader needs to judge them. ``selected``: the metrics measured (names
    of ``METRIC_REGISTRY``); ``counts``: what the metrics counted (identity fallbacks, faces timed)."""
    leakages = [face["style_swap"]["leakage"] for face in per_face if "leakage" in face.get("style_swap", {})]
    identity = "identity" in selected
    return {
        "metrics": metrics,
        "selected_metrics": selected,
        "counts": {
            "faces": len(per_face),
            "shape_swaps": sum(swap is not None for swap in shape_swaps),
            "style_swaps": len(leakages),
            "style_swaps_without_change": sum(not np.isfinite(v) for v in leakages),
            "identity_fallback_real": counts.get("identity_fallback_real"),
            "identity_fallback_generated": counts.get("identity_fallback_generated"),
            "timing_faces": counts.get("timing_faces", 0),
        },
        "config": config,
        "image_size": image_size,
        "compared_at": compared_at,
        "weights": str(weights) if weights is not None else None,
        "backend": backend,
        "device": device,
        "data": data,
        "faces": len(per_face),
        "seed": seed,
        "settings": {
            "psnr_cap_db": PSNR_CAP_DB,
            "ssim": {"window": 11, "sigma": 1.5, "k1": 0.01, "k2": 0.03},
            "swd": {"levels": level_sizes, "patch": SWD_PATCH, "patches_per_image": SWD_PATCHES_PER_IMAGE,
                    "projections": SWD_PROJECTIONS, "repeats": SWD_REPEATS},
            "leakage_dilation_px": dilation,
            "leakage_min_part_area": LEAKAGE_MIN_AREA,
            "parser_input_size": parser_input_size,
        },
        "notes": {
            "frs": FRS_NOTE if identity else "identity not measured (not selected, or --no-identity)",
            "swd": "Karras et al. 2018: 7x7 patches of each Laplacian level down to 16 px, normalised per "
                   "channel over both sets, 512 random projections x 4; x1e3.",
            "style_leakage": f"part region dilated by {dilation} px: its boundary pixels legitimately change",
            "ms_per_image": "median wall time of one reconstruction (E_s + E_m + G, caches cleared), batch 1",
        },
        "per_class_iou": per_class_iou,
        "seconds": seconds,
        "per_face": per_face,
    }


def _format(key: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if key in ("ssim", "miou", "miou_real", "frs", "frs_unrelated", "identity_match", "style_leakage", "style_transfer",
               "random_part_leakage"):
        return f"{value:.4f}"
    if key in ("ms_per_image",):
        return f"{value:.1f}"
    return f"{value:.2f}"


def _compared(report: dict) -> str:
    compared_at = report.get("compared_at", report["image_size"])
    return "" if compared_at == report["image_size"] else f", compared at {compared_at} px"


def _measured_keys(report: dict) -> set[str]:
    """The metric keys the report measured: those of its selected metrics (every key in a
    report from before the metrics could be selected)."""
    selected = report.get("selected_metrics", list(METRIC_REGISTRY))
    return {key for name in selected for key in METRIC_REGISTRY[name].keys}


def markdown_table(report: dict) -> str:
    """The report as one markdown table (metric | value | direction) with its notes; metrics
    that were not selected are left out."""
    metrics, counts = report["metrics"], report["counts"]
    measured = _measured_keys(report)
    lines = [
        f"CA2-SIS evaluation: {counts['faces']} faces of {report['data']}, config `{report['config']}` "
        f"({report['image_size']} px{_compared(report)}), {report['backend']} on {report['device']}, "
        f"seed {report['seed']}",
        "",
        "| metric | value | direction |",
        "|---|---|---|",
    ]
    for key, (label, direction) in METRICS.items():
        if key not in measured:
            continue
        value = _format(key, metrics.get(key))
        levels = metrics.get(f"{key}_levels")
        if levels:
            value += " (" + ", ".join(f"{side} px: {v:.2f}" for side, v in levels.items()) + ")"
        lines.append(f"| {label} | {value} | {direction} |")
    lines.append("")
    notes = report["notes"]
    if "frs" in measured:
        lines.append(f"- {notes['frs']}")
    if counts.get("identity_fallback_real") is not None:
        lines.append(
            f"- dlib found no face in {counts['identity_fallback_real']} real and "
            f"{counts['identity_fallback_generated']} reconstructed faces of {counts['faces']}; "
            "those were embedded from a fixed central box."
        )
    if measured & {"swd", "swd_sh"}:
        lines.append(f"- SWD: {notes['swd']} SWD-Sh: one random part's shape from a random other face "
                     f"({counts['shape_swaps']} swaps, the paper's FID-Sh setting).")
    if "style_leakage" in measured:
        lines.append(f"- Style leakage: {counts['style_swaps']} one-part style swaps; {notes['style_leakage']}.")
    if "ms_per_image" in measured:
        lines.append(f"- ms per image: {notes['ms_per_image']}, over {counts['timing_faces']} faces.")
    per_part = metrics.get("per_part")
    if per_part:
        lines += ["", "Per part: a swap of the part's style from the next face of the list, and two M_s draws of it "
                  "(diversity: distance between the part's mean colours, RGB 0..255; real: the same between the "
                  "face's and the next face's real parts).", "",
                  "| part | faces | leakage ↓ | transfer ↑ | random leakage ↓ | random diversity ↑ | real diversity |",
                  "|---|---|---|---|---|---|---|"]
        for name, found in per_part.items():
            cells = [_format("style_leakage", found[key]) for key in ("leakage", "transfer", "random_leakage")]
            cells += [_format("swd", found[key]) for key in ("random_diversity", "real_diversity")]
            lines.append(f"| {name} | {found['faces']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
