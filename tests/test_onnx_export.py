"""The ONNX export (`model/inference/onnx_export.py`): graphs never stamped current for other weights."""

from __future__ import annotations

import shutil

import pytest

from ca2sis.model.errors import CA2SISError
from ca2sis.model.networks.composite import CA2SIS

from conftest import styled_random_model


@pytest.mark.slow
def test_weights_replaced_during_an_export_are_not_marked_current(tiny_onnx_weights, tmp_path, monkeypatch):
    from ca2sis.model.inference import onnx_export
    from ca2sis.model.inference.backends import onnx_export_current

    weights, other = tmp_path / "weights", tmp_path / "other"
    shutil.copytree(tiny_onnx_weights, weights)  # with a current ONNX export
    assert onnx_export_current(weights)
    styled_random_model(CA2SIS.from_pretrained(tiny_onnx_weights).config, seed=5).save_pretrained(other)
    real = CA2SIS.from_pretrained

    def load_then_replace(folder, *args, **kwargs):
        model = real(folder, *args, **kwargs)
        # Another export (the studio's, say) replaces E_m while this one builds its graph.
        shutil.copyfile(other / "mask_embedder.safetensors", weights / "mask_embedder.safetensors")
        return model

    monkeypatch.setattr(onnx_export.CA2SIS, "from_pretrained", load_then_replace)
    try:
        onnx_export.export_onnx(weights, names=["mask_embedder"])  # E_m: the graph quickest to export
    except CA2SISError as error:
        assert "changed during the export" in str(error)
    # The graph holds the old E_m: it must not pass for an export of the new one.
    assert not onnx_export_current(weights)
