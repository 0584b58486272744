"""The BentoML model store under `$ECOIN_HOME/bentoml`, where the serving layer finds models.

BentoML reads `BENTOML_HOME` once per process, so it is set (unless the caller set it) before
`bentoml` is first imported here. Registration is idempotent: a tag that is already stored is
returned as it is.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def bentoml_home(home: Path) -> Path:
    return home / "bentoml"


def use_store(home: Path):
    """The `bentoml` module, with its store at `$ECOIN_HOME/bentoml` unless set otherwise."""
    os.environ.setdefault("BENTOML_HOME", str(bentoml_home(home)))
    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "True")
    import bentoml

    return bentoml


def save_model(
    home: Path,
    tag: str,
    write: Callable[[Path], None],
    labels: dict[str, str],
    metadata: dict,
) -> str:
    """Store a model under `tag` (written by `write(folder)`) unless it is there already."""
    bentoml = use_store(home)
    try:
        return str(bentoml.models.get(tag).tag)
    except bentoml.exceptions.NotFound:
        pass
    with bentoml.models.create(tag, labels=labels, metadata=metadata) as stored:
        write(Path(stored.path))
    return str(stored.tag)
