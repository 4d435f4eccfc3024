"""M_s fitted to E_s's codes (``ca2sis-train fit-mapping``): random styles that vary as real ones do."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from ca2sis.model.cli.train import main as train_main
from ca2sis.model.config import get_config
from ca2sis.model.networks.composite import CA2SIS
from ca2sis.model.networks.mapping_network import MappingNetwork
from ca2sis.model.training.mapping_fit import MappingFit, code_spread, fit_mapping, sliced_wasserstein


def test_sliced_wasserstein_is_zero_for_the_same_set_and_grows_with_a_shift():
    generator = torch.Generator().manual_seed(0)
    points = torch.randn(64, 8, generator=generator)
    directions = torch.nn.functional.normalize(torch.randn(8, 32, generator=generator), dim=0)
    shuffled = points[torch.randperm(64, generator=generator)]
    assert float(sliced_wasserstein(points, shuffled, directions)) == pytest.approx(0.0, abs=1e-10)
    assert float(sliced_wasserstein(points + 0.5, points, directions)) > float(
        sliced_wasserstein(points + 0.1, points, directions)) > 0


def test_a_collapsed_mapping_learns_the_spread_of_the_real_codes():
    """Real codes of each class vary along two directions around a class centre; a collapsed
    M_s (all draws alike) ends with draws that spread like them, around the right centre."""
    classes, code_dim = 3, 12
    generator = torch.Generator().manual_seed(1)
    centres = torch.rand(classes, code_dim, generator=generator) - 0.5
    loadings = 0.3 * torch.randn(classes, 2, code_dim, generator=generator)
    factors = torch.randn(400, classes, 2, generator=generator)
    real = (centres + torch.einsum("ncf,cfd->ncd", factors, loadings)).tanh()
    present = torch.ones(400, classes, dtype=torch.bool)
    present[::2, 2] = False  # a class present on only some faces is fitted on those
    torch.manual_seed(0)
    mapping = MappingNetwork(classes, code_dim, z_dim=8, hidden=32, branch_hidden=32)
    with torch.no_grad():  # collapse: every draw gives the same codes
        mapping.shared[0][0].weight.zero_()
    z = torch.randn(256, 8, generator=generator)
    real_spread = code_spread(real)
    assert float(code_spread(mapping(z).detach()).max()) < 0.05 * float(real_spread.min())
    fit_mapping(mapping, real, present, MappingFit(steps=150, batch_size=64, learning_rate=5e-3, projections=32))
    with torch.no_grad():
        drawn = mapping(z)
    assert torch.allclose(code_spread(drawn), real_spread, rtol=0.25)
    assert (drawn.mean(0) - real.mean(0)).abs().mean() < 0.05


def test_fit_mapping_cli_writes_a_new_folder_and_keeps_the_other_networks(face_data, tiny_weights, tmp_path, capsys):
    out = tmp_path / "fitted"
    assert train_main(["fit-mapping", str(tiny_weights), "--data", str(face_data), "--out", str(out),
                       "--steps", "3", "--batch-size", "8", "--min-faces", "2"]) == 0
    assert "M_s fitted on" in capsys.readouterr().out
    before, after = CA2SIS.from_pretrained(tiny_weights), CA2SIS.from_pretrained(out)
    for name in ("style_encoder", "mask_embedder", "generator"):
        ours, theirs = after.networks()[name].state_dict(), before.networks()[name].state_dict()
        assert all(torch.equal(ours[key], theirs[key]) for key in ours)
    changed = [not torch.equal(a, b) for a, b in zip(after.mapping_network.parameters(),
                                                   before.mapping_network.parameters())]
    assert any(changed)
    assert after.config == get_config("tiny")
    # Nothing is overwritten: the same --out again, or the input folder itself, is refused.
    for target in (out, tiny_weights):
        assert train_main(["fit-mapping", str(tiny_weights), "--data", str(face_data), "--out", str(target),
                           "--steps", "1"]) == 2


def test_fit_mapping_flags_take_their_help_and_defaults_from_the_settings(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "10000")
    with pytest.raises(SystemExit):
        train_main(["fit-mapping", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    flags = [f for f in dataclasses.fields(MappingFit) if "help" in f.metadata]
    assert {f.name for f in flags} == {"steps", "batch_size", "learning_rate", "min_faces", "seed"}
    for field in flags:
        flag = "--" + field.name.replace("_", "-")
        assert f"{flag} {field.name.upper()} {field.metadata['help']} (default: {field.default})" in help_text
