"""A saved price model loads and forecasts the same in a fresh Python process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from factories import geometric_walk, small_model_config

from ecoin_assets.forecasting import model as pm

REPO = Path(__file__).resolve().parents[2]
HORIZON = 7
SMALL = small_model_config(HORIZON)


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    """600 days of a seeded random walk (tests/unit/test_forecasting_model.py's `prices`)."""
    return pd.DataFrame(
        {"date": pd.date_range("2022-01-01", periods=600).date, "price_usd": geometric_walk(600, 0)}
    )


@pytest.fixture(scope="module")
def trained(prices: pd.DataFrame) -> pm.PriceModel:
    return pm.train("syn", prices, SMALL, version="v1", horizon=HORIZON)


_LOAD_AND_FORECAST = """
import json, sys
from pathlib import Path
import pandas as pd
from ecoin_assets.forecasting import model as pm
home, prices, out = Path(sys.argv[1]), pd.read_pickle(sys.argv[2]), Path(sys.argv[3])
loaded = pm.load(home, "syn")
points = pm.forecast(loaded, prices, int(sys.argv[4]))
out.write_text(json.dumps({
    "version": loaded.version,
    "meta": loaded.meta(),
    "date": [str(d) for d in points["date"]],
    "values": points[["yhat", "yhat_lower", "yhat_upper"]].to_numpy().tolist(),
}))
"""


def test_save_then_load_in_a_fresh_process(
    trained: pm.PriceModel, prices: pd.DataFrame, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    folder = pm.save(trained, home)

    assert folder == home / "models" / "syn" / "v1"
    assert (folder / "model.np").is_file()
    assert (folder / "meta.json").is_file()
    assert pm.served_version(home, "syn") == "v1"
    expected = pm.forecast(trained, prices, HORIZON)
    (tmp_path / "expected.json").write_text(
        json.dumps(expected[["yhat", "yhat_lower", "yhat_upper"]].to_numpy().tolist())
    )
    prices.to_pickle(tmp_path / "prices.pkl")
    result = tmp_path / "loaded.json"

    args = [str(home), str(tmp_path / "prices.pkl"), str(result), str(HORIZON)]
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_AND_FORECAST, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr == ""  # loading and predicting are quiet too
    loaded = json.loads(result.read_text())
    assert loaded["version"] == "v1"
    assert loaded["meta"] == trained.meta()
    assert loaded["date"] == [str(d) for d in expected["date"]]
    in_process = json.loads((tmp_path / "expected.json").read_text())
    np.testing.assert_allclose(loaded["values"], in_process, rtol=1e-9, atol=0)
