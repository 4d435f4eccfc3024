"""The spatial transformer of the cross-attention generator G (paper §III-C, Fig. 2).

Attention is A(Q, K, V) = M_A(Q, K) · V with the attention map
M_A(Q, K) = softmax(Q K^T / sqrt(d)) (Eq. 2-3). In self-attention Q, K, V all come from
the flattened generator features φ (Eq. 4); in cross-attention K and V come from the style
codes E_s(y) (Eq. 5), so each query pixel reads a mixture of the C class styles and the
map M_A has size h x C x H x W: it is what the attention loss L_att supervises and what the
studio shows as "where a part's style lands".

Optionally the cross-attention logits get a prior from the mask (``mask_bias`` β > 0, not in
the paper): Q K^T / sqrt(d) + β log(M↓ + ε), with M↓ the class layout area-pooled to the
block's map, so each pixel reads mostly its own class's style and a part's style stays in
the part. A uniform layout (or none) is no bias at all, since the softmax ignores a constant.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import feature_norm

LAYOUT_EPS = 1e-2  # floor of the pooled layout in the log prior: at most β·4.6 against a class


def layout_bias(layout: torch.Tensor, height: int, width: int, strength: float) -> torch.Tensor:
    """β log(M↓ + ε): a (B, C, S, S) class layout (one-hot or soft, S ≥ the map) → (B, H·W, C)
    logit bias at an H x W map (area pooling: a pixel on a boundary leans to both classes)."""
    if layout.shape[-2] % height == 0 and layout.shape[-1] % width == 0:
        pooled = F.avg_pool2d(layout, (layout.shape[-2] // height, layout.shape[-1] // width))
    else:
        pooled = F.interpolate(layout, size=(height, width), mode="area")
    bias = strength * torch.log(pooled.float() + LAYOUT_EPS)
    return bias.flatten(2).transpose(1, 2)


class Attention(nn.Module):
    """Multi-head attention; self-attention when no context is given (Eq. 2-5)."""

    def __init__(self, query_dim: int, context_dim: int | None = None, heads: int = 8, head_dim: int = 64):
        super().__init__()
        inner = heads * head_dim
        context_dim = context_dim or query_dim
        self.heads = heads
        self.head_dim = head_dim
        self.to_q = nn.Linear(query_dim, inner, bias=False)  # W_Q
        self.to_k = nn.Linear(context_dim, inner, bias=False)  # W_K
        self.to_v = nn.Linear(context_dim, inner, bias=False)  # W_V
        self.to_out = nn.Linear(inner, query_dim)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], x.shape[1], self.heads, self.head_dim).transpose(1, 2)

    def forward(
        self, x: torch.Tensor, context: torch.Tensor | None = None, return_map: bool = False,
        bias: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x: (B, N, query_dim); context: (B, M, context_dim) → (out, M_A or None).

        M_A is returned as float32 (B, heads, N, M) when ``return_map``. ``bias``: (B, N, M)
        float32 added to every head's logits (``layout_bias``; needs ``return_map``).
        """
        if return_map and context is not None and not self.training:
            return self._cross_attention_folded(x, context, bias)
        source = x if context is None else context
        q, k, v = self._split(self.to_q(x)), self._split(self.to_k(source)), self._split(self.to_v(source))
        if return_map:
            scores = (q @ k.transpose(-1, -2)).float() * self.head_dim**-0.5
            if bias is not None:
                scores = scores + bias[:, None]
            attention_map = scores.softmax(dim=-1)  # softmax in float32 also under bf16
            out = attention_map.to(v.dtype) @ v
        else:
            attention_map = None
            out = F.scaled_dot_product_attention(q, k, v)  # fused kernel, no N x N map kept
        out = out.transpose(1, 2).reshape(x.shape[0], x.shape[1], -1)
        return self.to_out(out), attention_map

    def _cross_attention_folded(
        self, x: torch.Tensor, context: torch.Tensor, bias: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Cross-attention with W_Q folded into the keys and W_out into the values (inference).

        With few keys (the C = 19 style codes) and many queries (every pixel), the per-pixel work
        of ``forward`` is four products (W_Q, Q K^T, M_A V, W_out) and head reshapes. Per head,
        Q K^T = x (W_Q^T K^T) and M_A V W_out^T = M_A (V W_out^T): both folded matrices are
        computed once from the codes, so each pixel pays two products, x @ (query_dim x h·C) and
        M_A @ (h·C x query_dim). The same attention, different float rounding only.
        """
        batch, tokens, query_dim = x.shape
        k, v = self._split(self.to_k(context)), self._split(self.to_v(context))  # (B, h, C, d)
        keys = context.shape[1]
        w_q = self.to_q.weight.view(self.heads, self.head_dim, query_dim)  # (h, d, query_dim)
        w_out = self.to_out.weight.view(query_dim, self.heads, self.head_dim).transpose(0, 1)  # (h, query_dim, d)
        query_keys = (w_q.transpose(1, 2) @ k.transpose(-1, -2)) * self.head_dim**-0.5  # (B, h, query_dim, C)
        query_keys = query_keys.permute(0, 2, 1, 3).reshape(batch, query_dim, self.heads * keys)
        scores = (x @ query_keys).view(batch, tokens, self.heads, keys).float()
        if bias is not None:
            scores = scores + bias[:, :, None]
        attention = scores.softmax(dim=-1)  # softmax in float32 also under bf16
        value_out = (v @ w_out.transpose(1, 2)).reshape(batch, self.heads * keys, query_dim)  # (B, h·C, query_dim)
        out = attention.to(x.dtype).view(batch, tokens, self.heads * keys) @ value_out + self.to_out.bias
        return out, attention.transpose(1, 2)  # M_A as (B, h, N, C)


class FeedForward(nn.Module):
    """GEGLU feed-forward of the transformer block, as in latent diffusion."""

    def __init__(self, dim: int, mult: int = 4):
        super().__init__()
        self.proj_in = nn.Linear(dim, dim * mult * 2)
        self.proj_out = nn.Linear(dim * mult, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            value, gate = self.proj_in(x).chunk(2, dim=-1)
        else:
            # Two products on the halves of the weights instead of one product and a split:
            # the split copied the largest tensor of the block (4x wider than the tokens)
            # once more (ORT profile at 256 px, docs/speed.md).
            # The tokens as one 2-D matrix: ORT fuses a 2-D product and its bias into one Gemm,
            # where on 3-D tokens the bias is a separate pass over the output.
            hidden = self.proj_out.in_features
            weight, bias = self.proj_in.weight, self.proj_in.bias
            rows = x.reshape(-1, x.shape[-1])
            value = F.linear(rows, weight[:hidden], bias[:hidden])
            gate = F.linear(rows, weight[hidden:], bias[hidden:])
            return self.proj_out(value * F.gelu(gate)).view(x.shape)
        return self.proj_out(value * F.gelu(gate))


class SpatialTransformer(nn.Module):
    """Self-attention (optional), cross-attention on the style codes, feed-forward.

    Args:
        channels: channels of the generator features at this block.
        context_dim: size of one class's style code (1280 in the paper).
        heads / head_dim: h heads of d = head_dim (8 x 64 in the paper).
        self_attention: off for large maps (the paper stops at 64x64: memory is quadratic).
        norm: normalisation of the input feature map, "group" or "pixel" (see PixelNorm).
        mask_bias: β of the cross-attention's prior from the class layout (0: none, the paper).
    """

    def __init__(self, channels: int, context_dim: int, heads: int, head_dim: int, self_attention: bool = True,
                 norm: str = "group", mask_bias: float = 0.0):
        super().__init__()
        inner = heads * head_dim
        self.heads = heads
        self.mask_bias = mask_bias
        self.norm = feature_norm(channels, norm)
        self.proj_in = nn.Conv2d(channels, inner, 1)
        self.self_norm = nn.LayerNorm(inner) if self_attention else None
        self.self_attention = Attention(inner, None, heads, head_dim) if self_attention else None
        self.cross_norm = nn.LayerNorm(inner)
        self.cross_attention = Attention(inner, context_dim, heads, head_dim)
        self.ff_norm = nn.LayerNorm(inner)
        self.ff = FeedForward(inner)
        self.proj_out = nn.Conv2d(inner, channels, 1)
        # Start as the identity so the residual generator trains as a plain CNN at first.
        nn.init.zeros_(self.proj_out.weight)
        nn.init.zeros_(self.proj_out.bias)

    def forward(
        self, x: torch.Tensor, codes: torch.Tensor, layout: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, ch, H, W); codes: (B, C, context_dim) → (x', M_A of shape (B, h, C, H, W)).

        ``layout``: (B, C, S, S) class layout for the mask bias (ignored when β = 0)."""
        batch, _, height, width = x.shape
        bias = None
        if layout is not None and self.mask_bias > 0:
            bias = layout_bias(layout, height, width, self.mask_bias)
        h = self.proj_in(self.norm(x))
        tokens = h.flatten(2).transpose(1, 2)  # (B, HW, inner): φ flattened
        if self.self_attention is not None:
            tokens = tokens + self.self_attention(self.self_norm(tokens))[0]
        attended, attention_map = self.cross_attention(self.cross_norm(tokens), codes, return_map=True, bias=bias)
        tokens = tokens + attended
        tokens = tokens + self.ff(self.ff_norm(tokens))
        h = tokens.transpose(1, 2).reshape(batch, -1, height, width)
        attention_map = attention_map.transpose(2, 3).reshape(batch, self.heads, -1, height, width)
        return x + self.proj_out(h), attention_map
