"""Light and shade for dark hair made light: a lightness curve on the hair's own shading.

Black hair holds little light and shade: most of its pixels sit a few CIELAB units above
black, with a thin tail of sheen. Carried to a blonde by an affine change of lightness (within
its gain bounds), that mass lands on one lightness, a flat wash with a few bright streaks.
Here the hair's smooth shading (its lightness blurred over a few pixels, so the noise of a
dark photo is not what is stretched) is mapped rank for rank onto the target's spread of
lightness (a normal distribution of the target's mean and spread): where the photo's hair is
darker than most of it, the new hair is darker than most of it, and the sheen stays the
lightest. The curve's slope is bounded (it never stretches a CIELAB unit of the photo's
shading over more than ``MAX_SLOPE``), so the grain of a nearly black patch is not blown up
into blotches; the fine detail (lightness less its blurred shading) is stretched with the
shading under it, at least by the affine change's gain and at most by ``MAX_DETAIL_GAIN``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.special import ndtri

# The hair's shading: its lightness blurred by this share of the face's side (2 pixels for a
# face 700 pixels across), fine enough to keep strands, coarse enough to leave out the grain.
SHADING_BLUR_SHARE = 0.003
# A curve is used when the target is at least this much lighter than the photo's hair (CIELAB
# lightness): dark to light. Light to dark keeps the affine change, which looks like a photograph.
LIGHTEN_STEP = 15.0
# The curve's slope: at most MAX_SLOPE (noise-aware: the grain of black hair is not stretched
# into blotches), at least MIN_SLOPE (it stays increasing: the sheen stays the lightest).
MAX_SLOPE = 6.0
MIN_SLOPE = 0.5
# The fine detail (strands, grain) is stretched as the shading under it is, up to this factor.
MAX_DETAIL_GAIN = 2.5
# Every pixel is lightened by at least this share of what the affine change lightens it: a
# shade left near black in hair made blonde reads as hair the edit missed.
MIN_LIGHTENING = 0.6
KNOTS = 48  # quantiles the curve is drawn through
MIN_SAMPLE = 200


@dataclass(frozen=True)
class LightnessCurve:
    """The new lightness of a part from the photo's: its blurred shading through the curve
    (``shading`` → ``lightness`` knots, CIELAB), plus its fine detail stretched by the curve's
    slope there, at least ``detail_gain`` (the affine change's)."""

    shading: np.ndarray
    lightness: np.ndarray
    detail_gain: float

    def apply(self, lightness: np.ndarray, affine: np.ndarray, face_side: float) -> np.ndarray:
        """The new lightness (float32, the shape of ``lightness``: a CIELAB lightness plane of a
        picture whose face is ``face_side`` pixels across; ``affine``: the lightness the affine
        change gives it, which each pixel reaches at least ``MIN_LIGHTENING`` of the way to)."""
        lightness = np.asarray(lightness, np.float32)
        shading = shading_of(lightness, face_side)
        # The fine detail is stretched with the shading under it (bounded: it carries the grain).
        slopes = np.diff(self.lightness) / np.maximum(np.diff(self.shading), 1e-6)
        detail_gain = np.clip(np.interp(shading, self.shading[1:], slopes), self.detail_gain,
                              max(self.detail_gain, MAX_DETAIL_GAIN))
        shaded = np.interp(shading, self.shading, self.lightness) + detail_gain * (lightness - shading)
        return np.maximum(shaded, lightness + MIN_LIGHTENING * (np.asarray(affine, np.float32) - lightness)
                          ).astype(np.float32)


def shading_of(lightness: np.ndarray, face_side: float) -> np.ndarray:
    """A lightness plane's smooth shading (float32): blurred by ``SHADING_BLUR_SHARE`` of the face."""
    sigma = max(0.5, SHADING_BLUR_SHARE * face_side)
    return cv2.GaussianBlur(np.asarray(lightness, np.float32), (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def lightness_curve(shading: np.ndarray, target_mean: float, target_spread: float, detail_gain: float
                    ) -> LightnessCurve | None:
    """The curve taking the photo's part, whose pixels' shading is ``shading`` (a sample, CIELAB
    lightness), to the target's lightness (``target_mean``, ``target_spread``); None when the
    target is not ``LIGHTEN_STEP`` lighter or the sample is too small."""
    shading = np.asarray(shading, np.float64).ravel()
    if shading.size < MIN_SAMPLE or target_mean - shading.mean() < LIGHTEN_STEP:
        return None
    shares = np.linspace(0.5 / KNOTS, 1.0 - 0.5 / KNOTS, KNOTS)
    knots = np.quantile(shading, shares)
    wanted = target_mean + target_spread * ndtri(shares)
    runs = np.maximum(np.diff(knots), 1e-3)
    rises = np.clip(np.diff(wanted), MIN_SLOPE * runs, MAX_SLOPE * runs)
    curve = wanted[0] + np.concatenate([[0.0], np.cumsum(rises)])
    # The bounded slope moves the mean: the whole curve is shifted back onto the target's mean.
    curve += target_mean - np.interp(shading, knots, curve).mean()
    # Knots must increase for np.interp: ties (a flat sample) are spread by a hair's breadth.
    knots = knots + np.arange(KNOTS) * 1e-6
    return LightnessCurve(knots.astype(np.float32), curve.astype(np.float32), float(detail_gain))


__all__ = ["LIGHTEN_STEP", "LightnessCurve", "lightness_curve", "shading_of"]
