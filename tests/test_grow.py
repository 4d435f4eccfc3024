"""Growing G from a smaller output size (128 → 256 px for the bundled weights): the larger
model starts from the smaller one's face and every other network is kept as trained."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from ca2sis.model.config import get_config
from ca2sis.model.errors import WeightsError
from ca2sis.model.io.pixels import one_hot
from ca2sis.model.networks.composite import CA2SIS, build_generator
from ca2sis.model.training.data import load_image, load_mask
from ca2sis.model.training.export import export_weights
from ca2sis.model.training.grow import appended_blocks, grow_generator
from ca2sis.model.training.run_config import TrainConfig
from ca2sis.model.training.train import Trainer
from ca2sis.model.training.warm_start import DISC_EXPORT

from conftest import random_mask

ROOT = Path(__file__).resolve().parents[1]
BUNDLED, DEMO_FACES = ROOT / "weights" / "lite", ROOT / "assets" / "faces"

# The tiny preset at 64 px with a last block as wide as the one before it (as lite's is), and
# the same networks one block smaller at 32 px.
BIG = get_config("tiny").replace(name="tiny-grown", generator_channels=(32, 16, 16, 16),
                                 attention_heads=(2, 2, 2, 1), attention_head_dim=(8, 8, 8, 8))
SMALL = BIG.replace(name="tiny-32", image_size=32, generator_channels=(32, 16, 16),
                    attention_heads=(2, 2, 2), attention_head_dim=(8, 8, 8))


def test_a_config_grows_another_only_by_appended_blocks_at_a_doubled_side():
    assert appended_blocks(SMALL, BIG) == 1
    assert appended_blocks(SMALL, SMALL) == 0
    assert appended_blocks(BIG, SMALL) == 0
    assert appended_blocks(SMALL, BIG.replace(style_dim=32)) == 0  # another E_s: not a growth
    changed_block = BIG.replace(generator_channels=(32, 16, 8, 16))
    assert appended_blocks(SMALL, changed_block) == 0


def test_the_grown_generator_starts_from_the_smaller_ones_face():
    torch.manual_seed(0)
    small = build_generator(SMALL).eval()
    with torch.no_grad():  # a trained-looking G: no zero layers anywhere
        for parameter in small.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
    big = build_generator(BIG).eval()
    grow_generator(big, small.state_dict(), kept_blocks=3, source="small G")

    latents = torch.randn(2, BIG.num_classes, BIG.latent_side, BIG.latent_side)
    codes = torch.randn(2, BIG.num_classes, BIG.code_dim)
    features = {}
    small.norm_out.register_forward_pre_hook(lambda _, args: features.__setitem__("small", args[0]))
    big.norm_out.register_forward_pre_hook(lambda _, args: features.__setitem__("big", args[0]))
    with torch.no_grad():
        small_image, _ = small(latents, codes)
        big_image, maps = big(latents, codes)
    assert big_image.shape[-1] == 2 * small_image.shape[-1] == BIG.image_size
    assert len(maps) == 4
    # The new block passes the features on up-sampled, so the 64 px face is the 32 px one drawn larger.
    assert torch.allclose(features["big"], F.interpolate(features["small"], scale_factor=2.0), atol=1e-5)


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(4.0 / ((a - b) ** 2).mean()))


def test_growing_the_bundled_weights_draws_their_face_larger():
    """A user growing the bundled weights (128 → 256 px) starts fine-tuning from the face
    they know, drawn larger."""
    small = CA2SIS.from_pretrained(BUNDLED).eval()
    config = small.config
    big_config = config.replace(
        name=f"{config.name}-grown", image_size=2 * config.image_size,
        generator_channels=(*config.generator_channels, config.generator_channels[-1]),
        attention_heads=(*config.attention_heads, config.attention_heads[-1]),
        attention_head_dim=(*config.attention_head_dim, config.attention_head_dim[-1] // 2),
    )
    assert appended_blocks(config, big_config) == 1
    big = CA2SIS(big_config).eval()
    for name in ("style_encoder", "mask_embedder"):
        getattr(big, name).load_state_dict(getattr(small, name).state_dict())
    grow_generator(big.generator, small.generator.state_dict(), len(config.generator_channels), "bundled G")

    size = config.image_size

    def face(side: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = torch.from_numpy(load_image(DEMO_FACES / "face-01.jpg", side)).permute(2, 0, 1)[None] / 127.5 - 1
        mask = one_hot(torch.from_numpy(load_mask(DEMO_FACES / "face-01.png", side)).long()[None])
        return image.float(), mask

    with torch.no_grad():
        small_face = F.interpolate(small(*face(size))[0], scale_factor=2.0, mode="bilinear")
        grown_face = big(*face(2 * size))[0]
    assert grown_face.shape[-1] == 2 * size
    assert _psnr(grown_face, small_face) > 20.0


def test_growing_refuses_a_generator_that_is_not_smaller():
    big = build_generator(BIG)
    with pytest.raises(WeightsError, match="not a smaller G"):
        grow_generator(big, build_generator(BIG).state_dict(), kept_blocks=3, source="same G")


def _train_config(data, **changes) -> TrainConfig:
    base = dict(data=str(data), batch_size=2, workers=0, log_every=1, sample_every=1000, checkpoint_every=1000,
                device="cpu", seed=3, lambda_parser=0, lambda_semantic=0)
    return TrainConfig.from_dict({**base, **changes})


@pytest.mark.slow  # two training runs: about 20 s
def test_a_warm_start_into_a_larger_config_keeps_every_trained_network_and_trains(face_data, tmp_path):
    run = tmp_path / "small-run"
    Trainer(SMALL, _train_config(face_data, steps=1), run).run()
    small_weights = tmp_path / "small"
    export_weights(run, small_weights, dtype=torch.float32)
    grown = Trainer(BIG, _train_config(face_data, steps=1, init=str(small_weights)), tmp_path / "grown")
    small = CA2SIS.from_pretrained(small_weights)
    for name in ("style_encoder", "mask_embedder"):
        for key, value in getattr(small, name).state_dict().items():
            assert torch.equal(getattr(grown.model, name).state_dict()[key], value), (name, key)
    big_generator = grown.model.generator.state_dict()
    for key, value in small.generator.state_dict().items():
        assert torch.equal(big_generator[key], value), key
    disc = load_file(str(small_weights / DISC_EXPORT))
    assert all(torch.equal(value, disc[key].float()) for key, value in grown.disc.state_dict().items())

    summary = grown.run()
    assert summary["step"] == 1
    assert all(math.isfinite(value) for value in summary["losses"].values()), summary["losses"]
    # The smaller weights' M_s fits the grown networks (its codes do not depend on the size).
    bundled = tmp_path / "bundled"
    CA2SIS(SMALL, with_mapping=True).save_pretrained(bundled, dtype=torch.float32)
    out = tmp_path / "grown-weights"
    export_weights(tmp_path / "grown", out, mapping_from=bundled)
    assert (out / "mapping_network.safetensors").exists()
    with torch.no_grad():
        image, _ = CA2SIS.from_pretrained(out).eval()(torch.rand(1, 3, 64, 64) * 2 - 1, random_mask(1, 64))
    assert image.shape == (1, 3, 64, 64)
