"""Where sentiment models live, which one is active, and the classifier that uses it.

- Trained models: `$ECOIN_HOME/models/sentiment/<version>/`; `LATEST` names the active one
  (`bundled` for the bundled model, whichever version the installed package bundles).
- The bundled model (`sentiment/bundled/`, crypto-aware, with its own fine-tuned encoder; see its
  MODEL_CARD.md) is active while nothing has been trained, so a fresh machine classifies well.
- The BentoML model store (`$ECOIN_HOME/bentoml`): every registered version is saved there as
  `ecoin-sentiment:<version>`, with its metrics as metadata, for the serving layer.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ecoin_assets.bento_store import save_model
from ecoin_assets.config import environment_value
from ecoin_assets.errors import UserError
from ecoin_assets.sentiment import model as sentiment_model
from ecoin_assets.sentiment.data import LABELS
from ecoin_assets.sentiment.encoder import (
    TOKENIZER_FILE,
    SentenceEncoder,
    ensure_graph,
    tokenizer_file,
)
from ecoin_assets.sentiment.model import SentimentModel

BUNDLED_DIR = Path(__file__).parent / "bundled"
BUNDLED = "bundled"
BENTO_MODEL_NAME = "ecoin-sentiment"
ENCODER_GRAPH = "graph.onnx"


def models_dir(home: Path) -> Path:
    return home / "models" / "sentiment"


def encoder_cache(home: Path) -> Path:
    """Where the int8 encoder graph is built once (`ECOIN_ENCODER_CACHE` moves it)."""
    override = environment_value("ECOIN_ENCODER_CACHE")
    return Path(override).expanduser() if override else home / "models" / "encoder"


@functools.cache
def bundled_version() -> str:
    return json.loads((BUNDLED_DIR / "model.json").read_text())["version"]


# Versions bundled by earlier releases: a `LATEST` that names one (written by `activate` before
# it wrote `bundled`) follows the package to the model it bundles now
FORMER_BUNDLED = frozenset({"20261123T213930-685e623f", "20261202T163108-7ff48ba1"})


def _resolve(version: str) -> str:
    return bundled_version() if version == BUNDLED else version


def active_version(home: Path) -> str:
    """The version scoring uses: the one `LATEST` names, else the bundled model's."""
    pointer = models_dir(home) / "LATEST"
    if not pointer.exists():
        return bundled_version()
    named = pointer.read_text().strip()
    if named in FORMER_BUNDLED and not (models_dir(home) / named / "model.json").exists():
        return bundled_version()
    return _resolve(named)


def versions(home: Path) -> list[str]:
    """Every version that can be loaded, the bundled one first."""
    folder = models_dir(home)
    stored = []
    if folder.exists():
        stored = sorted(p.name for p in folder.iterdir() if (p / "model.json").exists())
    return [bundled_version(), *(v for v in stored if v != bundled_version())]


def activate(home: Path, version: str) -> None:
    """Make `version` (a stored one, or `bundled`) the active model."""
    version = _resolve(version)
    if version not in versions(home):
        raise UserError(f"no sentiment model version {version!r}")
    folder = models_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    pointer_tmp = folder / "LATEST.tmp"
    # the bundled model by name, so that the pointer follows it when an upgrade replaces it
    pointer_tmp.write_text((BUNDLED if version == bundled_version() else version) + "\n")
    os.replace(pointer_tmp, folder / "LATEST")


def save(model: SentimentModel, home: Path, *, make_active: bool = True) -> Path:
    """Store a trained model and (by default) make it the active one."""
    folder = models_dir(home) / model.version
    sentiment_model.save_files(model, folder)
    if make_active:
        activate(home, model.version)
    return folder


def gate_of(home: Path, version: str) -> dict | None:
    """The verdict stored with a version (None: the bundled model, or one trained before the
    gate existed)."""
    version = _resolve(version)
    if version == bundled_version():
        return None
    path = models_dir(home) / version / "model.json"
    return json.loads(path.read_text()).get("meta", {}).get("gate") if path.exists() else None


def load(home: Path, version: str | None = None) -> SentimentModel:
    version = _resolve(version or active_version(home))
    if version == bundled_version():
        return sentiment_model.load_files(BUNDLED_DIR)
    folder = models_dir(home) / version
    if not (folder / "model.json").exists():
        known = ", ".join(versions(home))
        raise UserError(f"no sentiment model version {version!r}; known versions: {known}")
    return sentiment_model.load_files(folder)


def bento_tag(version: str) -> str:
    """The store's tag of a version (BentoML keeps versions in lower case)."""
    return f"{BENTO_MODEL_NAME}:{version.lower()}"


def register_bentoml(model: SentimentModel, home: Path, metrics: dict | None = None) -> str:
    """Save the model with its encoder (int8 graph and tokenizer) into the BentoML store under
    `$ECOIN_HOME/bentoml`, so that a service needs neither torch nor `$ECOIN_HOME/models`."""
    graph = model.graph or ensure_graph(encoder_cache(home), model.encoder_id)

    def write(folder: Path) -> None:
        sentiment_model.save_files(model, folder / "model", with_graph=False)
        (folder / "encoder").mkdir()
        shutil.copyfile(graph, folder / "encoder" / ENCODER_GRAPH)
        shutil.copyfile(tokenizer_file(), folder / "encoder" / TOKENIZER_FILE)

    numeric = {k: v for k, v in (metrics or {}).items() if isinstance(v, int | float)}
    return save_model(
        home,
        bento_tag(model.version),
        write,
        labels={"kind": "sentiment", "encoder": model.encoder_id},
        metadata={"version": model.version, "trained_on": model.meta.get("trained_on", "")}
        | numeric,
    )


def register_active(home: Path) -> str:
    """Register the active model (with the evaluation stored with it); returns its tag."""
    model = load(home)
    return register_bentoml(model, home, model.meta.get("evaluation"))


def encoder_for(model: SentimentModel, home: Path, threads: int | None = None) -> SentenceEncoder:
    """The encoder a model reads: its own graph (fine-tuned models), else the shared one built
    in the encoder cache."""
    if model.graph is not None:
        return SentenceEncoder.from_files(
            model.graph, tokenizer_file(), identity=model.encoder_id, threads=threads
        )
    return SentenceEncoder(encoder_cache(home), threads=threads, identity=model.encoder_id)


@dataclass(frozen=True)
class Prediction:
    label: str
    p_negative: float
    p_neutral: float
    p_positive: float

    def as_dict(self) -> dict:
        return self.__dict__.copy()


class Classifier:
    """A loaded model with its encoder: raw posts in, labels and probabilities out."""

    def __init__(self, model: SentimentModel, encoder: SentenceEncoder):
        self.model = model
        self.encoder = encoder

    @classmethod
    def load(cls, home: Path, version: str | None = None) -> Classifier:
        model = load(home, version)
        return cls(model, encoder_for(model, home))

    @classmethod
    def from_bento(cls, folder: Path, threads: int | None = None) -> Classifier:
        """The classifier stored in a BentoML model folder by `register_bentoml`."""
        model = sentiment_model.load_files(folder / "model")
        encoder = SentenceEncoder.from_files(
            folder / "encoder" / ENCODER_GRAPH,
            folder / "encoder" / TOKENIZER_FILE,
            identity=model.encoder_id,
            threads=threads,
        )
        return cls(model, encoder)

    @property
    def version(self) -> str:
        return self.model.version

    def probabilities(self, texts: Sequence[str], clean: bool = False):
        if clean:
            return self.model.predict_proba_clean(list(texts), self.encoder)
        return self.model.predict_proba(list(texts), self.encoder)

    def classify(self, texts: Sequence[str], clean: bool = False) -> list[Prediction]:
        probs = self.probabilities(texts, clean=clean)
        return [
            Prediction(LABELS[int(row.argmax())], *(round(float(p), 6) for p in row))
            for row in probs
        ]
