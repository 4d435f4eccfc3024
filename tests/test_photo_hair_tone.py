"""The lightness curve that gives dark hair made light its light and shade (``model/photo/hair_tone.py``)."""

from __future__ import annotations

import numpy as np

from ca2sis.model.photo.hair_tone import LIGHTEN_STEP, MAX_SLOPE, MIN_LIGHTENING, lightness_curve, shading_of


def black_hair_shading(count: int = 5000) -> np.ndarray:
    """Black hair's shading: most pixels a few units above black, a thin tail of sheen."""
    rng = np.random.default_rng(1)
    return np.concatenate([rng.gamma(2.0, 2.0, int(count * 0.9)), rng.uniform(15, 30, count - int(count * 0.9))])


def test_dark_hair_given_a_blonde_spreads_to_the_blondes_lightness_keeping_its_order():
    shading = black_hair_shading()
    curve = lightness_curve(shading, 65.0, 12.0, 1.5)
    assert curve is not None
    new = np.interp(shading, curve.shading, curve.lightness)
    assert abs(new.mean() - 65.0) < 1.0
    assert new.std() > 9.0  # the blonde's light and shade, not a wash
    assert (np.diff(curve.lightness) > 0).all()  # the sheen stays the lightest, the shade the darkest


def test_the_curve_never_stretches_the_photos_shading_past_its_bound():
    """A nearly flat patch (grain, not shading) is not blown up into blotches."""
    shading = np.random.default_rng(2).normal(5.0, 0.3, 4000)
    curve = lightness_curve(shading, 65.0, 12.0, 1.5)
    assert curve is not None
    slopes = np.diff(curve.lightness) / np.diff(curve.shading)
    assert slopes.max() <= MAX_SLOPE * 1.001
    assert np.interp(shading, curve.shading, curve.lightness).std() < 6 * 0.3 * 1.5


def test_no_curve_for_light_to_dark_or_a_small_step():
    shading = np.random.default_rng(3).normal(60.0, 10.0, 4000)
    assert lightness_curve(shading, 25.0, 8.0, 1.0) is None  # light to dark keeps the affine change
    assert lightness_curve(shading, 60.0 + LIGHTEN_STEP - 1.0, 8.0, 1.0) is None
    assert lightness_curve(shading[:50], 90.0, 8.0, 1.0) is None  # too few pixels to read a shading


def test_apply_keeps_the_fine_detail_scaled_and_the_shape():
    curve = lightness_curve(black_hair_shading(), 65.0, 12.0, 2.0)
    assert curve is not None
    plane = np.full((40, 40), 6.0, np.float32)
    plane[:, 20] = 10.0  # one strand
    new = curve.apply(plane, plane + 50.0, 300.0)
    assert new.shape == plane.shape and new.dtype == np.float32
    assert new[:, 20].mean() > new[:, 5].mean() + 4.0  # the strand stands out more, not less
    assert (new >= plane + MIN_LIGHTENING * 50.0 - 1e-3).all()  # no shade left behind the rest
    assert np.allclose(shading_of(plane, 300.0)[:, 5], 6.0, atol=0.01)
