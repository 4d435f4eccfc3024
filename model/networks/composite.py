"""CA2-SIS, the synthesis networks of Fig. 1 composed: E_s, E_m and G (and M_s).

    codes   = E_s(y, M)            per-class style codes, (B, C, code_dim)
    latents = E_m(M')              per-part mask latents, (B, C, latent_dim)
    image   = G(latents, codes)    and the cross-attention maps M_A of every block

Reconstruction uses the same mask for E_s and E_m; editing changes either side.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..config import CA2SISConfig
from ..errors import WeightsError
from ..io.weights import load_module_tensors, read_weights_folder, save_weights_folder
from .generator import Generator
from .mapping_network import MappingNetwork
from .mask_embedder import MaskEmbedder
from .style_encoder import StyleEncoder


def build_style_encoder(config: CA2SISConfig) -> StyleEncoder:
    return StyleEncoder(
        num_classes=config.num_classes,
        features_per_class=config.style_features_per_class,
        down_layers=config.style_down_layers,
        up_layers=config.style_up_layers,
        style_dim=config.style_dim,
        max_features_per_class=config.style_max_features_per_class,
        grouped=config.grouped_style_encoder,
    )


def build_mask_embedder(config: CA2SISConfig) -> MaskEmbedder:
    return MaskEmbedder(config.mask_embed_input_size, config.mask_latent_dim, learned=config.use_mask_embedder)


def build_generator(config: CA2SISConfig) -> Generator:
    return Generator(
        num_classes=config.num_classes,
        code_dim=config.code_dim,
        input_channels=config.generator_input_channels,
        channels=config.generator_channels,
        heads=config.attention_heads,
        head_dims=config.attention_head_dim,
        latent_side=config.latent_side,
        self_attention_max_size=config.self_attention_max_size,
        conditioning=config.generator_conditioning,
        norm=config.generator_norm,
        mask_bias=config.attention_mask_bias,
    )


def build_mapping_network(config: CA2SISConfig) -> MappingNetwork:
    return MappingNetwork(
        num_classes=config.num_classes,
        code_dim=config.code_dim,
        z_dim=config.mapping_z_dim,
        hidden=config.mapping_hidden,
        branch_hidden=config.mapping_branch_hidden,
    )


class CA2SIS(nn.Module):
    """The inference networks of CA2-SIS; D is built apart, for training only."""

    def __init__(self, config: CA2SISConfig, with_mapping: bool = False):
        super().__init__()
        self.config = config.validate()
        self.style_encoder = build_style_encoder(config)  # E_s
        self.mask_embedder = build_mask_embedder(config)  # E_m
        self.generator = build_generator(config)  # G
        self.mapping_network = build_mapping_network(config) if with_mapping else None  # M_s

    # ---- the three boxes of Fig. 1 -------------------------------------------------
    def encode_styles(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """E_s(y): (B, 3, H, W) image and (B, C, H, W) one-hot mask → (B, C, code_dim)."""
        return self.style_encoder(image, mask)

    def embed_mask(self, mask: torch.Tensor) -> torch.Tensor:
        """E_m(M): (B, C, H, W) one-hot mask → (B, C, latent_dim)."""
        return self.mask_embedder(mask)

    def generate(
        self, latents: torch.Tensor, codes: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """G(m, E_s(y)) → image in [-1, 1] and the attention maps (B, h, C, H, W) per block.

        ``mask`` (one-hot, or a soft class layout) is needed by the "w/o CA" (spade) ablation
        and read by the cross-attention's mask bias when the config sets one.
        """
        return self.generator(self.mask_embedder.to_grid(latents), codes, mask)

    def random_codes(self, z: torch.Tensor) -> torch.Tensor:
        """M_s(z) → (B, C, code_dim) style codes for diversity-driven generation."""
        if self.mapping_network is None:
            raise WeightsError("these weights have no mapping network M_s")
        return self.mapping_network(z)

    def forward(
        self, image: torch.Tensor, style_mask: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Generate ``mask`` (default: ``style_mask``) in the styles of ``image``."""
        mask = style_mask if mask is None else mask
        return self.generate(self.embed_mask(mask), self.encode_styles(image, style_mask), mask)

    # ---- weights folders ------------------------------------------------------------
    def networks(self) -> dict[str, nn.Module]:
        nets: dict[str, nn.Module] = {
            "style_encoder": self.style_encoder,
            "mask_embedder": self.mask_embedder,
            "generator": self.generator,
        }
        if self.mapping_network is not None:
            nets["mapping_network"] = self.mapping_network
        return nets

    def save_pretrained(self, folder: str | Path, dtype: torch.dtype = torch.float16) -> list[Path]:
        """Write a weights folder (fp16 safetensors by default + config.json)."""
        return save_weights_folder(folder, self.config, self.networks(), dtype)

    @classmethod
    def from_pretrained(
        cls, folder: str | Path, expected_config: str | CA2SISConfig | None = None
    ) -> CA2SIS:
        """Load a weights folder in float32. ``expected_config`` (a preset name or config)
        makes a folder of another config an error instead of a silent switch."""
        config, tensors = read_weights_folder(folder, expected_config)
        for required in ("style_encoder", "mask_embedder", "generator"):
            if required not in tensors:
                raise WeightsError(f"{folder} has no {required}.safetensors")
        model = cls(config, with_mapping="mapping_network" in tensors)
        for name, module in model.networks().items():
            load_module_tensors(module, tensors[name], f"{Path(folder) / name}.safetensors")
        return model.eval()


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
