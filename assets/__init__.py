"""Bundled assets (package data of ca2sis): the demo faces (``faces/``) and the held-out
splits (``splits/``). Found through ``ca2sis.model.io.bundled``."""
