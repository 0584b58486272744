"""The forecast model's quality gate: a model is served only if its backtest says so."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pytest
from ecoin_cli import run_ecoin
from factories import daily_prices, geometric_walk, small_model_config, store_prices
from fastapi.testclient import TestClient

from ecoin_assets.config import load_settings
from ecoin_assets.errors import InvalidInputError
from ecoin_assets.forecasting import gate, service
from ecoin_assets.forecasting import model as pm
from ecoin_assets.serving.data_api import create_app
from ecoin_assets.storage import Database

COIN = "solana"
SMALL = small_model_config(7)


def _scores(mase: float | None, coverage: float) -> dict:
    return {
        "mase": mase,
        "coverage": coverage,
        "interval": 0.8,
        "model_version": "backtest-x",
        "test_start": "2025-01-01",
        "test_end": "2025-12-31",
    }


@pytest.mark.parametrize(
    ("mase", "coverage", "passed", "reason"),
    [
        (1.0, 0.8, True, None),
        (1.01, 0.70, True, None),
        (0.95, 0.90, True, None),
        (1.0101, 0.8, False, "MASE 1.010 is above 1.01"),
        (None, 0.8, False, "MASE nan is above 1.01"),
        (1.0, 0.69, False, "covered 69.0%, outside 70%-90%"),
        (1.0, 0.95, False, "covered 95.0%, outside 70%-90%"),
    ],
)
def test_the_gate_thresholds(mase, coverage, passed, reason):
    verdict = gate.judge(_scores(mase, coverage))
    assert verdict.passed is passed and verdict.serve is passed and not verdict.forced
    if reason:
        assert reason in verdict.summary() and verdict.summary().startswith("refused: ")
        assert gate.judge(_scores(mase, coverage), forced=True).serve
    else:
        assert verdict.summary().startswith("passed the gate: 7-day backtest MASE")
        assert not gate.judge(_scores(mase, coverage), forced=True).forced  # nothing to force


def _shuffled_fit(coin_id, prices, config, *, version, horizon):
    """A deliberately bad training: the prices in random order."""
    rng = np.random.default_rng(0)
    shuffled = prices.assign(price_usd=rng.permutation(prices["price_usd"].to_numpy()))
    return pm.train(coin_id, shuffled, config, version=version, horizon=horizon)


def test_a_bad_model_is_refused_stays_stored_and_only_force_serves_it(ecoin_home):
    db = Database(load_settings().db_path)
    prices = daily_prices(
        COIN, geometric_walk(700, 11, start=50.0, tails=4), first=date(2024, 1, 1)
    )
    store_prices(db, prices)

    good, verdict = service.train_model(db, ecoin_home, COIN, 7, SMALL)
    assert verdict.passed, verdict.summary()
    assert pm.served_version(ecoin_home, COIN) == good.version
    # its evidence, the standard backtest, is stored; the next standard training reuses it
    assert db.query("SELECT count(DISTINCT model_version) FROM forecast_backtests")[0][0] == 1

    bad, refused = service.train_model(db, ecoin_home, COIN, 7, SMALL, fit=_shuffled_fit)
    assert not refused.passed and not refused.serve
    assert "MASE" in refused.summary() or "covered" in refused.summary()
    assert pm.served_version(ecoin_home, COIN) == good.version  # unchanged
    assert pm.load(ecoin_home, COIN).version == good.version
    stored = json.loads((ecoin_home / "models" / COIN / bad.version / "verdict.json").read_text())
    assert stored["passed"] is False and stored["reasons"] == refused.reasons
    # the bad procedure's backtest is not kept as evidence for later standard trainings
    assert db.query("SELECT count(DISTINCT model_version) FROM forecast_backtests")[0][0] == 1

    proc = run_ecoin("forecast", "models", "--coin", COIN, "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [(r["version"], r["served"], r["gate"]) for r in rows] == [
        (bad.version, False, "refused"),
        (good.version, True, "passed"),
    ]
    proc = run_ecoin("forecast", "models", "--coin", COIN)
    assert "refused: " in proc.stdout and "yes" in proc.stdout

    proc = run_ecoin("forecast", "promote", "--coin", COIN, "--version", bad.version)
    assert proc.returncode == 1 and "add --force to serve it anyway" in proc.stderr
    assert pm.served_version(ecoin_home, COIN) == good.version
    with pytest.raises(InvalidInputError, match="was refused: "):
        service.promote(ecoin_home, COIN, bad.version)
    proc = run_ecoin("forecast", "promote", "--coin", COIN, "--version", bad.version, "--force")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"{COIN} model {bad.version} is now served (BentoML model")
    assert pm.served_version(ecoin_home, COIN) == bad.version
    assert json.loads(run_ecoin("forecast", "models", "--coin", COIN, "--json").stdout)[0][
        "verdict"
    ]["forced"]
    with TestClient(create_app(load_settings())) as client:
        answer = client.get("/forecast_models", params={"coin": COIN})
        assert answer.status_code == 200, answer.text
        listed = answer.json()["rows"]
        assert [(r["version"], r["served"], r["gate"], r["forced"]) for r in listed] == [
            (bad.version, True, "refused", True),
            (good.version, False, "passed", False),
        ]
        assert listed[0]["reasons"] == "; ".join(refused.reasons)
        assert client.get("/forecast_models", params={"coin": "bitcoin"}).status_code == 404
    # roll back: a passed model needs no force
    service.promote(ecoin_home, COIN, good.version)
    assert pm.served_version(ecoin_home, COIN) == good.version
    proc = run_ecoin("forecast", "promote", "--coin", COIN, "--version", "nope")
    assert proc.returncode == 1 and "no solana model version 'nope'" in proc.stderr


def test_a_model_saved_before_gates_is_listed_as_ungated(ecoin_home, tmp_path):
    folder = ecoin_home / "models" / COIN / "20250101T000000-abcdef12"
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text("{}")
    (folder.parent / "LATEST").write_text(folder.name)
    assert service.model_versions(ecoin_home, COIN) == [
        {"version": folder.name, "served": True, "gate": "ungated", "verdict": None}
    ]
    service.promote(ecoin_home, COIN, folder.name)  # no verdict: nothing refuses it
