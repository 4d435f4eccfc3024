"""What each training stage optimises: the losses of one step, apart from the loop.

Stage "synthesis" (paper §IV) trains E_s, E_m and G against D:

    L_G = L_adv + λ_feat L_FM + λ_L1 ||G - y||_1 + λ_att L_att
          [+ λ_vgg L_VGG] [+ λ_parser L_parser + λ_sem L_sem] [+ λ_swap (L_out + L_transfer)]
          [+ λ_colour (L_colour(G, y) + L_colour(swapped part, reference's part))]
          [+ λ_cycle L_cycle(E_s(G(s), M), s) over the reconstructions' and swaps' codes s]
    L_D = hinge(D(y), D(G)) [+ λ_lecam R_LC]

Stage "mapping" (§IV-G) trains M_s with G and E_m frozen: L_adv + λ_dv L_dv
[+ λ_code L_code], against a fresh D.

D judges each face once per step, the real and the generated pairs: the generator-side
losses and D's loss are both computed from that pass (D's weights are the same for both,
as in the alternating update, which also used D before its step), and the loop takes
their gradients separately, G's with respect to the generator side only and D's with
respect to D only. The alternating update ran D on every face twice. Both D inputs go
through the same paired augmentation draw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..networks.composite import CA2SIS
from .augment import PairedAugment
from .losses import (
    LeCamRegularizer,
    ParserLoss,
    VGGPerceptualLoss,
    attention_loss,
    code_statistics_loss,
    diversity_loss,
    feature_matching_loss,
    hinge_discriminator_loss,
    hinge_generator_loss,
    part_colour_loss,
    style_cycle_loss,
    swap_locality_loss,
)

Predictions = list[list[torch.Tensor]]


@dataclass
class StepLosses:
    """The two objectives of one step and the scalars to log."""

    generator: torch.Tensor
    discriminator: torch.Tensor
    logs: dict[str, torch.Tensor]


def weight(default: float, help: str, logs: dict[str, str]) -> float:
    """A ``LossWeights`` field: its default λ, its ``ca2sis-train --lambda-<name>`` help, and the
    scalars its term logs (key → what it is, as ``log_keys.py`` and the report title them)."""
    return field(default=default, metadata={"help": help, "logs": logs})


@dataclass(frozen=True)
class LossWeights:
    """λ of every loss term, 0 turning it off: each term is defined here once, and its flag,
    help, default and log keys come from here (``TrainConfig.weights``, ``log_keys.py``)."""

    feat: float = weight(10.0, "weight of the discriminator feature-matching loss", {"feat": "feature matching"})
    l1: float = weight(10.0, "weight of the L1 reconstruction loss", {"l1": "L1 reconstruction"})
    att: float = weight(1.0, "weight of the attention loss L_att; 0 trains the 'w/o L_att' variant",
                        {"att": "attention L_att"})
    vgg: float = weight(10.0, "weight of the perceptual loss (only with --vgg-weights)",
                        {"vgg": "perceptual (VGG19)"})
    parser: float = weight(1.0, "weight of the face-parser perceptual loss (0: off)",
                           {"parser": "perceptual (face parser)"})
    semantic: float = weight(0.5, "weight of the face parser's cross-entropy against the input mask (0: off)",
                             {"semantic": "semantic (parser vs mask)"})
    swap: float = weight(
        1.0, "weight of the swap-locality loss: a one-part style swap changes that part only (0: off)",
        {"swap_out": "swap: change outside the part", "swap_tr": "swap: transfer to the part"})
    colour: float = weight(
        0.0, "weight of the per-part colour loss: each part's CIELAB mean and spread in the reconstruction "
        "(against the real face) and in a swapped part (against the reference's part) (0: off)",
        {"colour": "part colour vs real", "swap_colour": "swap: part colour vs reference"})
    cycle: float = weight(
        0.0, "weight of the per-part style cycle: E_s applied to the generated face (reconstruction and "
        "swap) gives back each part's input code, relative L1 (0: off)",
        {"cycle": "style cycle: E_s(G) vs the codes given"})
    lecam: float = weight(0.1, "weight of the LeCam regularisation of D (0: off)", {"lecam": "LeCam regulariser R_LC"})
    dv: float = weight(1.0, "mapping stage: weight of the diversity loss L_dv", {"dv": "diversity L_dv"})
    code: float = weight(10.0, "mapping stage: weight of the loss keeping M_s's codes at E_s's statistics (0: off)",
                         {"code": "code statistics L_code"})


class SynthesisOutputs(NamedTuple):
    """What one synthesis forward gives the losses."""

    fake: torch.Tensor  # (B, 3, H, W) reconstructions G(E_m(M), E_s(y))
    maps: list[torch.Tensor]  # their attention maps, per block
    swapped: torch.Tensor | None  # (n, 3, H, W) the first n faces with one part's code swapped in
    cycle_codes: torch.Tensor | None  # (B + n, C, D) E_s of the B + n generated faces, under their masks
    input_codes: torch.Tensor | None  # (B + n, C, D) the codes G was given for them


class SynthesisForward(nn.Module):
    """E_s, E_m and G in one forward, so DDP sees one module: the reconstruction of every
    face and, for the first faces, the same face with one part's style code swapped in
    from another face (for the swap-locality loss), in one batched pass through G; with
    ``cycle``, E_s applied again to the generated faces (the style cycle)."""

    def __init__(self, model: CA2SIS):
        super().__init__()
        self.model = model

    def forward(
        self, image: torch.Tensor, mask: torch.Tensor, swap_parts: torch.Tensor | None = None, cycle: bool = False
    ) -> SynthesisOutputs:
        """swap_parts: (n,) class of face i (i < n) whose code comes from face i + 1."""
        codes = self.model.encode_styles(image, mask)
        latents = self.model.embed_mask(mask)
        if swap_parts is None:
            given, masks = codes, mask
            fake, maps = self.model.generate(latents, codes, mask)
            swapped = None
        else:
            n = swap_parts.shape[0]
            donors = codes.roll(-1, dims=0)[:n]
            chosen = F.one_hot(swap_parts, codes.shape[1]).to(codes.dtype)[:, :, None]  # (n, C, 1)
            given = torch.cat([codes, codes[:n] * (1 - chosen) + donors * chosen])
            masks = torch.cat([mask, mask[:n]])
            both, maps = self.model.generate(torch.cat([latents, latents[:n]]), given, masks)
            batch = image.shape[0]
            fake, maps, swapped = both[:batch], [m[:batch] for m in maps], both[batch:]
        if not cycle:
            return SynthesisOutputs(fake, maps, swapped, None, None)
        # E_s with its weights held still: the cycle teaches G to carry each code into its part,
        # it must not teach E_s to read generated faces differently (that would let it agree
        # with G by encoding less).
        encoder = self.model.style_encoder
        frozen = {name: tensor.detach() for name, tensor in [*encoder.named_parameters(), *encoder.named_buffers()]}
        generated = fake if swapped is None else torch.cat([fake, swapped])
        cycle_codes = torch.func.functional_call(encoder, frozen, (generated, masks))
        return SynthesisOutputs(fake, maps, swapped, cycle_codes, given.detach())


def pick_swap_parts(
    mask: torch.Tensor, count: int, generator: torch.Generator, min_share: float = 0.005
) -> torch.Tensor:
    """For faces 0..count-1, a random class present (≥ min_share of the pixels) both in the
    face and in the next face (its donor); background when none is."""
    share = mask.float().mean(dim=(2, 3))  # (B, C)
    present = (share >= min_share) & (share.roll(-1, dims=0) >= min_share)
    scores = torch.rand(present[:count].shape, generator=generator).to(mask.device)
    return torch.where(present[:count], scores, -1.0).argmax(dim=1)


class Objective:
    """Shared by both stages: the single D pass, D's loss, and ADA's bookkeeping."""

    def __init__(
        self,
        disc: nn.Module,
        weights: LossWeights,
        augment: PairedAugment | None,
        lecam: LeCamRegularizer | None,
    ):
        self.disc = disc
        self.weights = weights
        self.augment = augment
        self.lecam = lecam

    def judge(
        self, real_mask: torch.Tensor, real: torch.Tensor, fake_mask: torch.Tensor, fake: torch.Tensor,
        generator: torch.Generator,
    ) -> tuple[Predictions, Predictions]:
        """D on the real pairs and on the generated pairs, both augmented by one draw.

        Two calls rather than one on the stacked batch: G's gradient then runs back through
        D's graph of the generated half only (D's norms are per face, so it is the same)."""
        real_pairs = torch.cat([real_mask, real.to(fake.dtype)], 1)
        fake_pairs = torch.cat([fake_mask, fake], 1)
        if self.augment is not None:
            batch, _, height, width = real.shape
            draw = self.augment.draw(batch, height, width, generator)
            real_pairs, fake_pairs = self.augment(real_pairs, draw), self.augment(fake_pairs, draw)
        pred_real = self.disc(real_pairs[:, :-3], real_pairs[:, -3:])
        pred_fake = self.disc(fake_pairs[:, :-3], fake_pairs[:, -3:])
        return pred_real, pred_fake

    def discriminator_loss(self, pred_real: Predictions, pred_fake: Predictions, logs: dict) -> torch.Tensor:
        loss = hinge_discriminator_loss(pred_real, pred_fake)
        logs["d"] = loss
        if self.lecam is not None and self.weights.lecam > 0:
            logs["lecam"] = self.lecam(pred_real, pred_fake)
            loss = loss + self.weights.lecam * logs["lecam"]
        if self.augment is not None:
            self.augment.observe([scale[-1] for scale in pred_real])
        return loss


class SynthesisObjective(Objective):
    """E_s, E_m and G against D (the losses of the module docstring)."""

    def __init__(
        self,
        forward: nn.Module,
        disc: nn.Module,
        weights: LossWeights,
        augment: PairedAugment | None = None,
        lecam: LeCamRegularizer | None = None,
        parser: ParserLoss | None = None,
        vgg: VGGPerceptualLoss | None = None,
        use_attention_loss: bool = True,
        swap_faces: int = 0,
        parser_faces: int = 2,
    ):
        super().__init__(disc, weights, augment, lecam)
        self.forward = forward
        self.parser = parser
        self.vgg = vgg
        self.use_attention_loss = use_attention_loss
        self.swap_faces = swap_faces
        self.parser_faces = parser_faces

    def __call__(
        self, image: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor, generator: torch.Generator
    ) -> StepLosses:
        w = self.weights
        swap_count = min(self.swap_faces, image.shape[0] - 1) if w.swap > 0 else 0
        swap_parts = pick_swap_parts(mask, swap_count, generator) if swap_count > 0 else None
        fake, maps, swapped, cycle_codes, input_codes = self.forward(image, mask, swap_parts, cycle=w.cycle > 0)
        pred_real, pred_fake = self.judge(mask, image, mask, fake, generator)
        logs: dict[str, torch.Tensor] = {}
        logs["adv"] = hinge_generator_loss(pred_fake)
        logs["feat"] = feature_matching_loss(pred_fake, pred_real)
        logs["l1"] = F.l1_loss(fake.float(), image)
        total = logs["adv"] + w.feat * logs["feat"] + w.l1 * logs["l1"]
        if self.use_attention_loss and w.att > 0:
            logs["att"] = attention_loss(maps, mask)
            total = total + w.att * logs["att"]
        if self.vgg is not None and w.vgg > 0:
            logs["vgg"] = self.vgg(fake.float(), image)
            total = total + w.vgg * logs["vgg"]
        if self.parser is not None and self.parser_faces > 0 and (w.parser > 0 or w.semantic > 0):
            # The parser sees faces at its own 256 px: costly on a CPU, so a few faces per batch.
            n = self.parser_faces
            logs["parser"], logs["semantic"] = self.parser(fake[:n], image[:n], labels[:n])
            total = total + w.parser * logs["parser"] + w.semantic * logs["semantic"]
        if swapped is not None:
            n = swapped.shape[0]
            rows = torch.arange(n, device=mask.device)
            part = mask[rows, swap_parts][:, None]
            donor_part = mask.roll(-1, dims=0)[rows, swap_parts][:, None]
            logs["swap_out"], logs["swap_tr"] = swap_locality_loss(
                swapped, fake[:n].detach(), part, image.roll(-1, dims=0)[:n], donor_part
            )
            total = total + w.swap * (logs["swap_out"] + logs["swap_tr"])
            if w.colour > 0:
                logs["swap_colour"] = part_colour_loss(swapped, part, image.roll(-1, dims=0)[:n], donor_part)
                total = total + w.colour * logs["swap_colour"]
        if w.colour > 0:
            logs["colour"] = part_colour_loss(fake, mask, image, mask)
            total = total + w.colour * logs["colour"]
        if cycle_codes is not None:
            masks = mask if swapped is None else torch.cat([mask, mask[: swapped.shape[0]]])
            logs["cycle"] = style_cycle_loss(cycle_codes, input_codes, masks)
            total = total + w.cycle * logs["cycle"]
        d_loss = self.discriminator_loss(pred_real, pred_fake, logs)
        return StepLosses(total, d_loss, logs)


class MappingObjective(Objective):
    """M_s with E_m and G frozen: two faces per mask from two noise draws (L_dv), and
    M_s's codes kept at E_s's per-class statistics (L_code)."""

    def __init__(
        self,
        mapping: nn.Module,
        model: CA2SIS,
        disc: nn.Module,
        weights: LossWeights,
        z_dim: int,
        augment: PairedAugment | None = None,
        lecam: LeCamRegularizer | None = None,
    ):
        super().__init__(disc, weights, augment, lecam)
        self.mapping = mapping
        self.model = model
        self.z_dim = z_dim

    def __call__(
        self, image: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor, generator: torch.Generator  # noqa: ARG002
    ) -> StepLosses:
        w = self.weights
        batch = image.shape[0]
        z = torch.randn(2 * batch, self.z_dim, generator=generator).to(image.device)
        codes = self.mapping(z)
        mask2 = torch.cat([mask, mask])
        fake, _ = self.model.generate(self.model.embed_mask(mask2), codes, mask2)
        pred_real, pred_fake = self.judge(mask2, torch.cat([image, image]), mask2, fake, generator)
        logs: dict[str, torch.Tensor] = {"adv": hinge_generator_loss(pred_fake)}
        logs["dv"] = diversity_loss(fake[:batch].float(), fake[batch:].float())
        total = logs["adv"] + w.dv * logs["dv"]
        if w.code > 0:
            with torch.no_grad():
                encoded = self.model.encode_styles(image, mask)
            logs["code"] = code_statistics_loss(codes, encoded)
            total = total + w.code * logs["code"]
        d_loss = self.discriminator_loss(pred_real, pred_fake, logs)
        return StepLosses(total, d_loss, logs)
