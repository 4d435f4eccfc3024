"""The losses: L_att (Eq. 6), hinge, feature matching, diversity, the VGG19 loss and the part colour loss."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from ca2sis.model.errors import WeightsError
from ca2sis.model.training.losses import (
    VGGPerceptualLoss,
    _vgg19_features,
    attention_loss,
    diversity_loss,
    feature_matching_loss,
    hinge_discriminator_loss,
    hinge_generator_loss,
    part_colour_loss,
    rgb_to_lab,
    style_cycle_loss,
)

from conftest import random_mask


def test_attention_loss_is_near_zero_for_attention_equal_to_the_mask_and_large_for_its_complement():
    mask = random_mask(2, 16)  # (B, C, H, W) one-hot
    heads = 3
    perfect = mask.unsqueeze(1).expand(-1, heads, -1, -1, -1)  # every head follows the mask
    complement = (1 - perfect) / 18  # all attention on the wrong classes (still sums to 1)
    good = attention_loss([perfect], mask)
    bad = attention_loss([complement], mask)
    assert good.item() < 1e-4
    assert bad.item() > 0.5
    # Maps at a lower resolution are compared with the resized mask.
    coarse = torch.nn.functional.adaptive_avg_pool2d(mask, (8, 8)).unsqueeze(1).expand(-1, heads, -1, -1, -1)
    assert attention_loss([coarse, perfect], mask).item() < attention_loss([complement], mask).item()


def test_attention_loss_gradient_pulls_attention_towards_the_mask():
    mask = random_mask(1, 8)
    logits = torch.zeros(1, 2, 19, 8, 8, requires_grad=True)
    attention_loss([logits.softmax(dim=2)], mask).backward()
    # Descending the gradient raises the logit of the true class at each pixel.
    true_class_grad = (logits.grad * mask.unsqueeze(1)).sum()
    assert true_class_grad < 0


def test_hinge_and_feature_matching():
    real = [[torch.ones(1, 4, 3, 3), torch.full((1, 1, 2, 2), 2.0)]]
    fake = [[torch.zeros(1, 4, 3, 3), torch.full((1, 1, 2, 2), -2.0)]]
    assert hinge_discriminator_loss(real, fake).item() == 0.0  # both beyond the margin
    assert hinge_discriminator_loss(fake, real).item() == pytest.approx(6.0)
    assert hinge_generator_loss(fake).item() == pytest.approx(2.0)
    assert feature_matching_loss(fake, real).item() == pytest.approx(1.0)
    assert feature_matching_loss(real, real).item() == 0.0


def test_diversity_loss_rewards_different_images():
    a = torch.zeros(1, 3, 4, 4)
    assert diversity_loss(a, a).item() == 0.0
    assert diversity_loss(a, a + 1).item() == pytest.approx(-1.0)


def test_vgg_loss_loads_user_weights_and_refuses_bad_files(tmp_path):
    torch.manual_seed(0)
    state = {f"features.{k}": v for k, v in _vgg19_features().state_dict().items()}
    path = tmp_path / "vgg19.safetensors"
    save_file(state, str(path))
    loss = VGGPerceptualLoss(path)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    assert loss(x, x).item() == 0.0
    # The distance grows with the distortion.
    noise = torch.randn(1, 3, 32, 32)
    distances = [loss((x + strength * noise).clamp(-1, 1), x).item() for strength in (0.05, 0.2, 0.8)]
    assert 0.0 < distances[0] < distances[1] < distances[2], distances
    assert not any(p.requires_grad for p in loss.parameters())
    # A torchvision-style .pth state dict loads too (without unpickling code): the same loss.
    pth = tmp_path / "vgg19.pth"
    torch.save(state, pth)
    assert VGGPerceptualLoss(pth)(x + 0.2 * noise, x).item() == pytest.approx(loss(x + 0.2 * noise, x).item())
    wrong = tmp_path / "wrong.safetensors"
    save_file({"features.0.weight": torch.zeros(1)}, str(wrong))
    with pytest.raises(WeightsError, match="not a VGG19"):
        VGGPerceptualLoss(wrong)
    with pytest.raises(WeightsError, match="not found"):
        VGGPerceptualLoss(tmp_path / "missing.pth")


def test_rgb_to_lab_agrees_with_opencv():
    rgb = np.random.default_rng(0).random((8, 8, 3), dtype=np.float32)
    expected = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)  # float input: L 0..100, a/b unscaled
    image = torch.from_numpy(rgb).permute(2, 0, 1)[None] * 2 - 1
    lab = rgb_to_lab(image)[0].permute(1, 2, 0).numpy()
    assert np.abs(lab - expected).max() < 0.5


def test_part_colour_loss_compares_each_part_colour_and_pulls_it_towards_the_target():
    mask = random_mask(2, 64)
    target = torch.rand(2, 3, 64, 64) * 2 - 1
    assert part_colour_loss(target, mask, target, mask).item() < 1e-3  # same face: no gap
    # The same colours inside each part but shuffled pixels: the means and spreads still match.
    shuffled = target.flip(-1)
    flat = mask.flip(-1)
    assert part_colour_loss(shuffled, flat, target, mask).item() < 1e-3
    # One part recoloured: the loss sees it and its gradient moves that part's colour back.
    image = target.clone().requires_grad_(True)
    part = mask[:, 1:2].bool().expand(-1, 3, -1, -1)
    tinted = torch.where(part, image * 0.5 + 0.3, image)
    loss = part_colour_loss(tinted, mask, target, mask)
    assert loss.item() > 0.01
    loss.backward()
    assert image.grad[part].abs().sum() > 0 and image.grad[~part].abs().sum() == 0
    # An absent part is skipped rather than compared with nothing.
    empty = torch.zeros_like(mask[:, :1])
    assert part_colour_loss(target, empty, target, mask[:, :1]).item() == 0


def test_style_cycle_loss_is_the_relative_code_error_of_the_parts_present():
    mask = torch.zeros(2, 4, 8, 8)
    mask[:, 0, :4], mask[:, 1, 4:] = 1, 1  # classes 2 and 3 are absent
    codes = torch.randn(2, 4, 16)
    assert style_cycle_loss(codes, codes, mask).item() < 1e-6  # every code came back
    # Nothing came back: relative error 1, whatever the codes' scale.
    assert abs(style_cycle_loss(torch.zeros_like(codes), codes * 50, mask).item() - 1) < 1e-5
    # A wrong code of an absent class does not count; a wrong part present does, and its gradient
    # moves that code back to its input.
    wrong_absent = codes.clone()
    wrong_absent[:, 2:] += 10
    assert style_cycle_loss(wrong_absent, codes, mask).item() < 1e-6
    back = codes.clone()
    back[0, 1] += 1
    back.requires_grad_(True)
    style_cycle_loss(back, codes, mask).backward()
    assert (back.grad[0, 1] * 1).sum() > 0 and back.grad[1].abs().sum() == 0
