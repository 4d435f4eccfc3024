"""Training CA2-SIS: datasets (``data``), losses (``losses``) the trainer (``train``) and
the face parser's training (``train_parser``)."""
