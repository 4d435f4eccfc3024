"""Data in and out: faces and masks (``images``), the pixel convention (``pixels``), atomic
file writes (``atomic``), weights folders (``weights``) and training checkpoints
(``checkpoint``)."""
