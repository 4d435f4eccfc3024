"""The cross-attention mask bias (``attention_mask_bias``): each pixel reads mostly its own
class's style, weights without it behave as before, and every front end feeds it the layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ca2sis.model.config import CA2SISConfig, get_config
from ca2sis.model.inference.edits import Edit, Reference
from ca2sis.model.inference.engine import Engine
from ca2sis.model.labels import CLASS_NAMES
from ca2sis.model.networks.composite import CA2SIS

from conftest import random_mask, styled_random_model


def _own_class_share(maps: list[torch.Tensor], mask: torch.Tensor) -> float:
    """Mean share of attention each pixel of the last block gives its own class."""
    last = maps[-1].mean(dim=1)
    pooled = torch.nn.functional.adaptive_avg_pool2d(mask, last.shape[-2:])
    return float((last * pooled).sum(dim=1).mean())


def test_the_bias_keeps_each_pixel_on_its_own_class():
    config = get_config("tiny").replace(attention_mask_bias=1.0)
    model = styled_random_model(config)
    mask = random_mask(2, config.image_size)
    image = torch.rand(2, 3, config.image_size, config.image_size) * 2 - 1
    with torch.no_grad():
        latents, codes = model.embed_mask(mask), model.encode_styles(image, mask)
        biased, biased_maps = model.generate(latents, codes, mask)
        plain, plain_maps = model.generate(latents, codes, None)
        uniform, _ = model.generate(latents, codes, torch.ones_like(mask))
    assert _own_class_share(biased_maps, mask) > 0.5 > _own_class_share(plain_maps, mask)
    assert not torch.allclose(biased, plain, atol=1e-3)
    # A layout with every class everywhere adds a constant to the logits: no bias at all.
    assert torch.allclose(uniform, plain, atol=1e-5)


def test_training_and_inference_forms_agree_with_the_bias():
    config = get_config("tiny").replace(attention_mask_bias=1.0)
    model = styled_random_model(config)
    mask = random_mask(1, config.image_size, seed=3)
    image = torch.rand(1, 3, config.image_size, config.image_size) * 2 - 1
    with torch.no_grad():
        latents, codes = model.embed_mask(mask), model.encode_styles(image, mask)
        folded, _ = model.generate(latents, codes, mask)  # eval: W_Q and W_out folded
        model.train()
        unfolded, _ = model.generate(latents, codes, mask)
    assert torch.allclose(folded, unfolded, atol=1e-4)


def test_weights_without_the_bias_load_into_configs_with_it():
    """β has no tensors of its own: a warm start may switch it on over existing weights."""
    base = get_config("tiny")
    assert base.attention_mask_bias == 0.0
    biased = base.replace(attention_mask_bias=2.0)
    assert base.tensor_layout() == biased.tensor_layout()
    model = CA2SIS(biased)
    model.load_state_dict(CA2SIS(base).state_dict(), strict=True)
    assert model.generator.mask_bias == 2.0


@pytest.mark.parametrize("value", [-1.0, float("nan"), 1000.0])
def test_a_bias_out_of_range_is_refused(value):
    with pytest.raises(ValueError, match="attention_mask_bias"):
        CA2SISConfig.from_dict({**get_config("tiny").to_dict(), "attention_mask_bias": value})


def test_the_engine_feeds_the_mask_and_a_shape_slider_moves_the_layout(face_data):
    config = get_config("tiny").replace(attention_mask_bias=1.0)
    engine = Engine(styled_random_model(config))
    image = sorted((face_data / "images").iterdir())[0]
    mask = face_data / "masks" / (image.stem + ".png")
    other = sorted((face_data / "masks").iterdir())[1]
    own = engine.load_mask(mask)
    latents, codes = engine.embed_mask(mask), engine.encode_styles(image, mask)
    with_mask = engine.generate(latents, codes, mask)[0]
    without = engine.generate(latents, codes)[0]
    assert np.abs(with_mask.astype(int) - without.astype(int)).max() > 0
    assert np.array_equal(engine.reconstruct(image, mask), with_mask)

    edit = Edit(mask=mask, style=Reference(image, mask), part_shapes={"hair": (other, 0.5)},
                confine=False, keep_detail=False, match_colour=False)
    layout = engine.edit_layout(edit)
    target = engine.shape_target(edit, "hair")
    hair = CLASS_NAMES.index("hair")
    changed = own != target
    assert changed.any()
    # Halfway between the two masks where they differ, the mask's own class elsewhere.
    assert np.allclose(layout.sum(axis=0), 1.0)
    assert np.allclose(layout[hair][changed & (own == hair)], 0.5)
    assert np.allclose(layout[own[~changed], np.nonzero(~changed)[0], np.nonzero(~changed)[1]], 1.0)
    result = engine.render(edit)
    assert result.image.shape == (config.image_size, config.image_size, 3)


def test_a_batch_needs_one_layout_per_face(face_data):
    config = get_config("tiny").replace(attention_mask_bias=1.0)
    engine = Engine(styled_random_model(config))
    masks = sorted((face_data / "masks").iterdir())[:2]
    latents = engine.embed_mask(masks)
    codes = np.zeros((2, config.num_classes, config.code_dim), np.float32)
    assert engine.generate(latents, codes, masks)[0].shape[0] == 2
    from ca2sis.model.errors import DataError

    with pytest.raises(DataError, match="3 layouts for 2 faces"):
        engine.generate(latents, codes, masks + masks[:1])

