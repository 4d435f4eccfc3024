"""Live editing speed (issue 25): the cheaper inference forms compute what training computes,
and ONNX Runtime sessions are set up for a shared CPU."""

from __future__ import annotations

import pytest
import torch

from ca2sis.model.config import get_config
from ca2sis.model.devices import instruction_set, physical_cores
from ca2sis.model.networks.attention import Attention, FeedForward
from ca2sis.model.networks.composite import CA2SIS
from ca2sis.model.networks.layers import PixelNorm


def _in_both_modes(module: torch.nn.Module, *inputs, **kwargs):
    with torch.no_grad():
        inference = module.eval()(*inputs, **kwargs)
        training = module.train()(*inputs, **kwargs)
    return inference, training


def test_folded_cross_attention_gives_the_same_output_and_map():
    torch.manual_seed(0)
    attention = Attention(32, 80, heads=2, head_dim=16)
    torch.nn.init.normal_(attention.to_out.bias)
    x, codes = torch.randn(2, 100, 32), torch.randn(2, 19, 80)
    (out, attention_map), (expected_out, expected_map) = _in_both_modes(attention, x, codes, return_map=True)
    assert attention_map.shape == expected_map.shape == (2, 2, 100, 19)
    torch.testing.assert_close(out, expected_out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(attention_map, expected_map, atol=1e-6, rtol=1e-5)


def test_geglu_without_its_split_and_the_fused_pixel_norm_change_nothing():
    torch.manual_seed(0)
    feed_forward = FeedForward(16)
    tokens = torch.randn(2, 50, 16)
    torch.testing.assert_close(*_in_both_modes(feed_forward, tokens), atol=1e-5, rtol=1e-5)
    norm = PixelNorm(24)
    torch.nn.init.normal_(norm.weight)
    torch.nn.init.normal_(norm.bias)
    features = torch.randn(2, 24, 8, 8) * 3 + 1
    torch.testing.assert_close(*_in_both_modes(norm, features), atol=1e-5, rtol=1e-5)


def test_a_pixel_norm_generator_gives_the_same_image_in_both_modes():
    torch.manual_seed(0)
    config = get_config("tiny").replace(generator_norm="pixel")
    model = CA2SIS(config)
    for module in model.generator.modules():  # proj_out starts at zero: open the transformer path
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.normal_(module.weight, std=0.2)
    latents = torch.randn(1, config.num_classes, config.mask_latent_dim)
    codes = torch.randn(1, config.num_classes, config.code_dim)
    grid = model.mask_embedder.to_grid(latents)
    (image, maps), (expected_image, expected_maps) = _in_both_modes(model.generator, grid, codes)
    torch.testing.assert_close(image, expected_image, atol=1e-4, rtol=1e-4)
    for attention_map, expected_map in zip(maps, expected_maps):
        torch.testing.assert_close(attention_map, expected_map, atol=1e-5, rtol=1e-4)


CPUINFO_TWO_CORES_FOUR_THREADS = "".join(
    f"processor\t: {cpu}\nphysical id\t: 0\ncore id\t\t: {cpu % 2}\nflags\t\t: fpu avx2 avx512f avx512_vnni\n\n"
    for cpu in range(4)
)


def test_physical_cores_count_hyper_threads_once(tmp_path, monkeypatch):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO_TWO_CORES_FOUR_THREADS)
    monkeypatch.setattr("os.sched_getaffinity", lambda _pid: {0, 1, 2, 3})
    assert physical_cores(cpuinfo) == 2
    monkeypatch.setattr("os.sched_getaffinity", lambda _pid: {0})  # pinned to one CPU
    assert physical_cores(cpuinfo) == 1
    assert physical_cores(tmp_path / "missing") == 1


def test_instruction_set_names_vnni_and_bf16():
    assert instruction_set(frozenset({"avx2", "avx512f"})) == "avx512 (no vnni, no bf16)"
    assert instruction_set(frozenset({"avx512f", "avx512_vnni", "avx512_bf16"})) == "avx512 +vnni +bf16"
    assert instruction_set(frozenset({"avx2"})) == "avx2 (no vnni, no bf16)"


def test_onnx_sessions_use_the_physical_cores_and_never_spin():
    pytest.importorskip("onnxruntime")
    from ca2sis.model.inference.backends import onnx_session_options

    options = onnx_session_options()
    assert options.intra_op_num_threads == physical_cores()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert onnx_session_options(threads=1).intra_op_num_threads == 1
