"""Data in and out: decoding face and mask files (``decode``), faces and masks (``images``), the pixel convention (``pixels``), atomic
file writes (``atomic``), weights folders and where the default ones are (``weights``) and training checkpoints
(``checkpoint``)."""
