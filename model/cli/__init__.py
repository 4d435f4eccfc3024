"""The console scripts, one thin module each: argparse, then a call into the library.

``train`` (ca2sis-train), ``edit`` (ca2sis-edit), ``export`` (ca2sis-export), ``bench``
(ca2sis-bench), ``parse`` (ca2sis-parse), ``train_parser`` (ca2sis-train-parser) and
``eval`` (ca2sis-eval).
"""
