"""HuggingFace `evaluate` metric scripts, one per file, loaded by path (see ../evaluation.py),
not imported; this file makes the folder a package so that setuptools ships the scripts."""
