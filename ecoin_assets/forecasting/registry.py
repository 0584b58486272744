"""The forecast models in the BentoML store, for the forecast service.

Every coin's model is trained and saved on its own (`$ECOIN_HOME/models/<coin>/<version>`);
the store holds one `ecoin-forecast` model that bundles the latest version of every coin, so
that a service (and a bento built from it) serves one consistent set. A new bundle is
registered whenever a coin's model is trained; its metadata names each coin's version.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock

from ecoin_assets.bento_store import bentoml_home, save_model, use_store
from ecoin_assets.errors import NoDataError, Remedy
from ecoin_assets.forecasting import model as price_model
from ecoin_assets.forecasting.model import PriceModel

BENTO_MODEL_NAME = "ecoin-forecast"


def trained_models(home: Path) -> dict[str, str]:
    """Coin id -> latest model version, for every coin with a saved forecast model."""
    root = home / "models"
    found = {}
    for folder in sorted(root.iterdir()) if root.exists() else []:
        version = price_model.served_version(home, folder.name)
        if version and (folder / version / "meta.json").exists():
            found[folder.name] = version
    return found


def register_bentoml(home: Path) -> str:
    """Bundle the latest model of every coin as `ecoin-forecast:<version>`; returns the tag.

    Serialized under a file lock, so that coins trained in parallel end in one bundle that
    holds them all; a bundle identical to the newest one is not stored twice.
    """
    bentoml = use_store(home)
    bentoml_home(home).mkdir(parents=True, exist_ok=True)
    with FileLock(str(bentoml_home(home) / "ecoin-forecast.lock")):
        models = trained_models(home)
        if not models:
            raise NoDataError("no forecast model is trained yet", remedy=Remedy.TRAIN_FORECAST)
        try:
            newest = bentoml.models.get(f"{BENTO_MODEL_NAME}:latest")
            if newest.info.metadata.get("models") == models:
                return str(newest.tag)
        except bentoml.exceptions.NotFound:
            pass
        digest = hashlib.sha256(json.dumps(models, sort_keys=True).encode()).hexdigest()[:8]
        version = f"{datetime.now(UTC):%Y%m%dt%H%M%S}-{digest}"  # BentoML wants lower case

        def write(folder: Path) -> None:
            for coin, coin_version in models.items():
                source = price_model.model_dir(home, coin) / coin_version
                shutil.copytree(source, folder / coin / coin_version)

        return save_model(
            home,
            f"{BENTO_MODEL_NAME}:{version}",
            write,
            labels={"kind": "forecast"},
            metadata={"models": models},
        )


def load_bundle(folder: Path, models: dict[str, str]) -> dict[str, PriceModel]:
    """Coin id -> loaded model, from a bundle folder and its `models` metadata."""
    return {coin: price_model.load_dir(folder / coin / v) for coin, v in models.items()}
