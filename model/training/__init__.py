"""Training CA2-SIS: datasets (``data``), losses (``losses``) and the trainer (``train``)."""
