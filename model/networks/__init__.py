"""The networks of the paper's Fig. 1, one module per box.

- ``style_encoder``: E_s, the multi-resolution grouped style encoder (§III-A).
- ``mask_embedder``: E_m, the mask parts embedder (§III-B).
- ``generator`` + ``attention``: G, residual blocks and spatial transformers (§III-C).
- ``discriminator``: D, the multi-scale PatchGAN (training only).
- ``mapping_network``: M_s, noise → style codes (§IV-G).
- ``spade``: the "w/o CA" ablation's region-wise normalisation (Table 3).
- ``layers``: small pieces the boxes share (grouped normalisation, per-class concatenation).
- ``composite``: ``CA2SIS``, E_s + E_m + G (+ M_s) composed, with ``from_pretrained``.
"""
