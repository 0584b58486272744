"""The sentiment model's gate: a new model becomes active only if it is no worse than the
active one on the evaluation data it is given."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

from ecoin_cli import run_ecoin

from ecoin_assets.sentiment import registry
from ecoin_assets.sentiment.data import SEED_DIR
from ecoin_assets.sentiment.gate import judge


def test_the_verdict_compares_every_evaluation():
    same = judge({"a": 0.7, "b": 0.6}, {"a": 0.7, "b": 0.6}, "v0")
    assert same.passed and same.activate and same.summary().startswith("passed the gate")
    worse = judge({"a": 0.71, "b": 0.59}, {"a": 0.7, "b": 0.6}, "v0")
    assert not worse.passed and not worse.activate
    assert worse.reasons == ["b 0.590 is below the active model's 0.600"]
    assert judge({"a": 0.5}, {"a": 0.6}, "v0", forced=True).activate
    blind = judge({}, {}, "v0")
    assert not blind.passed and blind.reasons == ["no evaluation data was given to judge it by"]


def _shuffled_seed(folder: Path) -> Path:
    """The seed set with its training labels shuffled (a deliberately bad model's data); its
    evaluation split keeps the real labels."""
    folder.mkdir()
    for name in ("train_text.txt", "test_text.txt", "test_labels.txt"):
        shutil.copyfile(SEED_DIR / name, folder / name)
    labels = (SEED_DIR / "train_labels.txt").read_text().splitlines()
    random.Random(0).shuffle(labels)
    (folder / "train_labels.txt").write_text("\n".join(labels) + "\n")
    return folder


def _train(*args: str) -> dict:
    proc = run_ecoin("sentiment", "train", *args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_a_worse_model_is_refused_and_a_better_one_activated(ecoin_home, tmp_path):
    bundled = registry.active_version(ecoin_home)
    bad = _train("--data", str(_shuffled_seed(tmp_path / "shuffled")))
    assert bad["active"] is False and bad["bentoml_tag"] is None
    assert bad["gate"]["active_version"] == bundled
    assert bad["gate"]["reasons"][0].endswith(f"is below the active model's {_active(bad)}")
    assert registry.active_version(ecoin_home) == bundled  # unchanged
    assert registry.gate_of(ecoin_home, bad["version"])["passed"] is False  # stored, says why

    proc = run_ecoin("sentiment", "models")
    assert f"{bad['version']}  (0 posts scored; refused)" in proc.stdout
    proc = run_ecoin("sentiment", "activate", "--version", bad["version"])
    assert proc.returncode == 1 and "add --force to activate it anyway" in proc.stderr
    proc = run_ecoin("sentiment", "activate", "--version", bad["version"], "--force")
    assert proc.returncode == 0, proc.stderr
    assert registry.active_version(ecoin_home) == bad["version"]

    # against the bad model, a model trained on the real labels is no worse: it is activated
    good = _train("--data", "seed")
    assert good["active"] is True, good["gate"]
    assert good["gate"]["active_version"] == bad["version"]
    assert registry.active_version(ecoin_home) == good["version"]
    assert good["bentoml_tag"].startswith("ecoin-sentiment:")

    # --force activates a refused model at once
    forced = _train("--data", str(tmp_path / "shuffled"), "--force")
    assert forced["active"] is True and forced["gate"]["passed"] is False
    assert forced["gate"]["forced"] is True
    assert registry.active_version(ecoin_home) == forced["version"]
    proc = run_ecoin("sentiment", "activate", "--version", "bundled")
    assert proc.returncode == 0 and registry.active_version(ecoin_home) == bundled


def _active(result: dict) -> str:
    [score] = result["gate"]["active"].values()
    return f"{score:.3f}"


def test_without_evaluation_data_a_model_is_not_activated(ecoin_home, tmp_path):
    folder = tmp_path / "train-only"
    folder.mkdir()
    for name in ("train_text.txt", "train_labels.txt"):
        shutil.copyfile(SEED_DIR / name, folder / name)
    result = _train("--data", str(folder))
    assert result["active"] is False
    assert result["gate"]["reasons"] == ["no evaluation data was given to judge it by"]
    proc = run_ecoin("sentiment", "train", "--data", str(folder))
    assert proc.returncode == 0
    assert "refused: no evaluation data was given to judge it by" in proc.stdout
    assert "the active model is unchanged" in proc.stdout
