"""Data in and out: decoding face and mask files (``decode``), faces and masks (``images``),
the pixel convention and one-hot masks (``pixels``), atomic file writes (``atomic``), weights
folders and the default ones (``weights``) and training checkpoints (``checkpoint``)."""
