"""Every network of Fig. 1 at the tiny config: shapes, and the properties the paper relies on."""

from __future__ import annotations

import math

import pytest
import torch

from ca2sis.model.config import PRESETS, CA2SISConfig, get_config
from ca2sis.model.networks.composite import CA2SIS
from ca2sis.model.networks.discriminator import MultiScaleDiscriminator
from ca2sis.model.networks.layers import PixelNorm, concat_groups, group_norm
from ca2sis.model.networks.mapping_network import MappingNetwork
from ca2sis.model.networks.style_encoder import masked_average_pool

from conftest import random_mask


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    return CA2SIS(get_config("tiny"), with_mapping=True).eval()


def test_output_shapes_of_every_network(tiny):
    config = tiny.config
    size, classes = config.image_size, config.num_classes
    image = torch.rand(2, 3, size, size) * 2 - 1
    mask = random_mask(2, size)
    codes = tiny.encode_styles(image, mask)
    assert codes.shape == (2, classes, config.code_dim)
    assert config.code_dim == config.style_up_layers * config.style_dim
    latents = tiny.embed_mask(mask)
    assert latents.shape == (2, classes, config.mask_latent_dim)
    out, maps = tiny.generate(latents, codes)
    assert out.shape == (2, 3, size, size)
    assert out.min() >= -1 and out.max() <= 1
    assert [m.shape for m in maps] == [
        (2, heads, classes, side, side) for heads, side in zip(config.attention_heads, config.generator_sizes)
    ]
    # Cross-attention maps are a softmax over the classes at every pixel.
    assert torch.allclose(maps[0].sum(dim=2), torch.ones(()), atol=1e-5)
    random_codes = tiny.random_codes(torch.randn(2, config.mapping_z_dim))
    assert random_codes.shape == codes.shape
    disc = MultiScaleDiscriminator(classes, config.disc_channels, config.disc_layers, config.disc_scales)
    outputs = disc(mask, image)
    assert len(outputs) == config.disc_scales
    assert all(len(scale) == config.disc_layers + 1 for scale in outputs)
    assert outputs[0][-1].shape[1] == 1 and outputs[1][-1].shape[-1] < outputs[0][-1].shape[-1]


def test_paper_sizes_match_the_paper():
    paper = PRESETS["paper"]
    assert paper.code_dim == 1280  # 5 levels x 256
    assert paper.latent_side == 16  # m_i of 256 reshaped to 16 x 16
    assert paper.generator_sizes == (16, 32, 64, 128, 256)
    assert paper.style_down_layers == 6 and paper.style_up_layers == 5
    mapping = MappingNetwork()
    assert mapping(torch.randn(1, 256)).shape == (1, 19, 1280)


def test_masked_average_pool_matches_hand_computation():
    features = torch.arange(2 * 2 * 2 * 3, dtype=torch.float32).reshape(1, 4, 2, 3)  # 2 classes x 2
    mask = torch.zeros(1, 2, 2, 3)
    mask[0, 0, 0, :] = 1  # class 0: top row
    mask[0, 1, 1, 2] = 1  # class 1: one pixel
    pooled = masked_average_pool(features, mask, grouped=True)
    expected_class0 = features[0, 0:2, 0, :].mean(dim=1)
    expected_class1 = features[0, 2:4, 1, 2]
    assert torch.allclose(pooled[0, 0], expected_class0)
    assert torch.allclose(pooled[0, 1], expected_class1)
    ungrouped = masked_average_pool(features, mask, grouped=False)
    assert torch.allclose(ungrouped[0, 0], features[0, :, 0, :].mean(dim=1))
    # Soft (area-resized) masks weigh pixels by their share.
    soft = mask.clone()
    soft[0, 1, 1, 1] = 0.5
    pooled_soft = masked_average_pool(features, soft, grouped=True)
    manual = (features[0, 2:4, 1, 2] + 0.5 * features[0, 2:4, 1, 1]) / 1.5
    assert torch.allclose(pooled_soft[0, 1], manual)


def test_absent_class_gives_a_defined_code(tiny):
    size = tiny.config.image_size
    mask = torch.zeros(1, 19, size, size)
    mask[:, 1] = 1  # only skin: 18 classes absent
    codes = tiny.encode_styles(torch.rand(1, 3, size, size), mask)
    assert torch.isfinite(codes).all()
    other = tiny.encode_styles(torch.rand(1, 3, size, size), mask)
    # An absent class pools nothing, so its code cannot depend on the image.
    assert torch.allclose(codes[:, 5], other[:, 5])
    assert not torch.allclose(codes[:, 1], other[:, 1])


def test_grouped_encoder_keeps_classes_apart(tiny):
    """After the RGB stem, class j's code is computed by group j's filters alone: changing
    another class's filters (in every grouped layer) must leave it untouched."""
    size = tiny.config.image_size
    image, mask = torch.rand(1, 3, size, size), random_mask(1, size)
    before = tiny.encode_styles(image, mask)
    encoder = tiny.style_encoder
    with torch.no_grad():
        for layer in [*encoder.down, *encoder.up]:
            conv = layer[0]
            per_group = conv.out_channels // 19
            conv.weight[3 * per_group:4 * per_group] += 0.5  # class 3's filters only
    after = tiny.encode_styles(image, mask)
    others = [c for c in range(19) if c != 3]
    assert torch.allclose(before[:, others], after[:, others], atol=1e-6)
    assert not torch.allclose(before[:, 3], after[:, 3])


def test_mask_embedder_embeds_each_part_separately(tiny):
    size = tiny.config.image_size
    mask = random_mask(1, size)
    changed = mask.clone()
    changed[:, 13] = torch.roll(changed[:, 13], shifts=5, dims=-1)  # move the "hair" channel
    a, b = tiny.embed_mask(mask), tiny.embed_mask(changed)
    others = [c for c in range(19) if c != 13]
    assert torch.equal(a[:, others], b[:, others])
    assert not torch.allclose(a[:, 13], b[:, 13])


def test_concat_groups_keeps_each_class_with_its_own_features():
    a = torch.tensor([0.0, 1.0, 10.0, 11.0]).view(1, 4, 1, 1)  # 2 groups of 2
    b = torch.tensor([2.0, 12.0]).view(1, 2, 1, 1)  # 2 groups of 1
    merged = concat_groups(a, b, groups=2).flatten().tolist()
    assert merged == [0.0, 1.0, 2.0, 10.0, 11.0, 12.0]


@pytest.mark.parametrize(
    "changes",
    [
        {"grouped_style_encoder": False},
        {"use_mask_embedder": False},
        {"generator_conditioning": "spade"},
    ],
    ids=["w/o GC", "w/o E_m", "w/o CA"],
)
def test_ablations_build_and_generate(changes):
    config = get_config("tiny").replace(**changes)
    model = CA2SIS(config)
    size = config.image_size
    mask = random_mask(1, size)
    out, maps = model(torch.rand(1, 3, size, size), mask)
    assert out.shape == (1, 3, size, size)
    assert (maps == []) == (config.generator_conditioning == "spade")
    if not config.grouped_style_encoder:
        assert all(layer[0].groups == 1 for layer in model.style_encoder.down)
    if not config.use_mask_embedder:
        assert not list(model.mask_embedder.parameters())


def test_a_spike_in_one_place_leaves_the_rest_of_the_pixel_normed_map_alone():
    # The droplet mechanism: under GroupNorm one strong local spike rescales the whole map,
    # so G can dim a face by planting a blob. PixelNorm takes no statistics over space.
    torch.manual_seed(0)
    features = torch.randn(1, 8, 16, 16)
    spiked = features.clone()
    spiked[0, :, 3, 4] += 200.0
    away = (slice(None), slice(None), slice(8, 16), slice(8, 16))
    pixel, group = PixelNorm(8), group_norm(8)
    assert torch.allclose(pixel(spiked)[away], pixel(features)[away], atol=1e-5)
    assert not torch.allclose(group(spiked)[away], group(features)[away], atol=1e-2)
    normed = pixel(features)
    assert torch.allclose(normed.mean(1), torch.zeros(1, 16, 16), atol=1e-5)
    assert torch.allclose(normed.var(1, unbiased=False), torch.ones(1, 16, 16), atol=1e-3)


def test_groupnorm_weights_load_into_a_pixel_norm_generator():
    # A warm start may switch G's norm: the tensors are the same, only the computation differs.
    torch.manual_seed(0)
    group = CA2SIS(get_config("tiny"))
    pixel = CA2SIS(get_config("tiny").replace(generator_norm="pixel"))
    pixel.load_state_dict(group.state_dict())  # strict: same names and shapes
    assert get_config("tiny").tensor_layout() == pixel.config.tensor_layout()
    mask = random_mask(1, 64)
    image = torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        assert not torch.allclose(group(image, mask)[0], pixel(image, mask)[0])
    with pytest.raises(ValueError, match="generator_norm"):
        get_config("tiny").replace(generator_norm="batch")


def test_config_json_round_trip_and_errors(tmp_path):
    for config in PRESETS.values():
        path = tmp_path / f"{config.name}.json"
        config.save(path)
        assert CA2SISConfig.load(path) == config
        assert get_config(path) == config
    with pytest.raises(ValueError, match="not a square"):
        PRESETS["tiny"].replace(mask_latent_dim=60)
    with pytest.raises(ValueError, match="image_size"):
        PRESETS["tiny"].replace(image_size=128)
    with pytest.raises(ValueError, match="unknown config 'huge'"):
        get_config("huge")
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "ca2sis-config", "version": 1, "colour": 3}')
    with pytest.raises(ValueError, match="unknown config fields: colour"):
        CA2SISConfig.load(bad)


def test_lite_fits_the_bundle_budget():
    from ca2sis.model.cli.train import network_sizes

    sizes = network_sizes(PRESETS["lite"])
    inference = sum(v for k, v in sizes.items() if k != "discriminator")
    assert inference * 2 <= 40e6, "lite's fp16 weights (E_s, E_m, G, M_s) must stay within 40 MB"
    assert math.isclose(PRESETS["lite"].code_dim, 1280)


def test_style_pooling_does_not_overflow_in_half_precision():
    # fp16 is what the engine uses on GPUs; a class covering a whole 256x256 image has an
    # area (65,536) beyond fp16's largest number.
    from ca2sis.model.networks.style_encoder import masked_average_pool

    features = torch.full((1, 2, 256, 256), 3.0)
    mask = torch.zeros(1, 2, 256, 256)
    mask[:, 0] = 1.0
    pooled = masked_average_pool(features.half(), mask.half(), grouped=True)
    assert torch.isfinite(pooled).all()
    assert pooled[0, 0].item() == 3.0 and pooled[0, 1].item() == 0.0
