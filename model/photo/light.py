"""The exposure of a photo's light, read on its highlights.

A photo taken in low-key light (exposure down, a darker tone curve) shows every part darker than
the person's, and a reference's part given to it at the reference's own exposure came out far
too light (hair planned at L 40-57 where the photo's light makes the reference's hair L 23-31).
The exposure is read on the photo's highlights: the ``HIGHLIGHT_PERCENTILE`` of the lightness of
the whole face crop (whites, teeth, lit skin, a lit background). The whites alone do not tell it
(their lightness spreads from 46 to 83 over the 10th-90th percentiles of 300 training faces, and
a low-key dark-skinned photo's whites read 69, a normal face's), nor the skin (a dark skin
normally lit is as dark as a light skin in low light). The highlights of 300 training faces at
512 px: 1st, 5th, 50th percentiles 69.9, 76.3, 90.5; the framed set's low-key photos 56-65, its
others 77-97 (``docs/photo-edits/exposure.md``). Only the part of the light
below ``LOW_KEY_HIGHLIGHT`` (the 5th percentile) is read as exposure, so a normally lit photo
reads 1 and keeps a reference's colour as it is; brighter light is not read (highlights clip:
an overexposed photo cannot tell by how much).
"""

from __future__ import annotations

import numpy as np

from .regions import strided

HIGHLIGHT_PERCENTILE = 99.5
LOW_KEY_HIGHLIGHT = 76.3
MIN_EXPOSURE = 0.35  # the darkest light read: below, the highlight is no white nor lit skin


def luminance_of(lightness: float) -> float:
    """CIELAB lightness → relative luminance (0..1)."""
    value = (lightness + 16.0) / 116.0
    return value ** 3 if value > 6.0 / 29.0 else 3 * (6.0 / 29.0) ** 2 * (value - 4.0 / 29.0)


def highlight_exposure(lightness: np.ndarray) -> float:
    """The exposure of a face photo's light (its aligned crop's CIELAB ``lightness``) as a
    luminance factor relative to a normally lit photo's: 1 when normally lit or brighter, 0.5
    under half the light (``LOW_KEY_HIGHLIGHT``), at least ``MIN_EXPOSURE``."""
    step = strided(lightness.shape[0])
    highlight = float(np.percentile(lightness[::step, ::step], HIGHLIGHT_PERCENTILE))
    return float(np.clip(luminance_of(highlight) / luminance_of(LOW_KEY_HIGHLIGHT), MIN_EXPOSURE, 1.0))
