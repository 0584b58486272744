"""Realized forecast scores from `ecoin forecast history`, beside the backtest of the same days.

Imports every CSV of `../shared/data/coingecko_prices/` (or the folder given as the first
argument) into a temporary ECOIN_HOME, issues the forecasts of the last DAYS days as
`ecoin forecast history` does (a model per 30 days, trained on what was known then), scores
them as `ecoin forecast scores` does, and prints realized MASE and 80% coverage at 1, 7 and 14
days over the trailing 90 days, with the same figures from the 365-day backtest restricted to
the same target days (one model trained before the backtest window), and the seconds taken.

    .venv/bin/python benchmarks/forecast_history_bench.py [FOLDER]
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd

HORIZONS = (1, 7, 14)
DAYS = 90 + 14  # every target of the 90-day window at 14 days ahead has its forecast
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "coingecko_prices"


def _backtest_summary(paths: pd.DataFrame, coin: str, as_of, interval: float) -> pd.DataFrame:
    """The backtest's paths scored as `ecoin forecast scores` scores stored forecasts."""
    from ecoin_assets.forecasting.realized import summarize

    points = paths.rename(columns={"target": "target_date"}).assign(
        coin_id=coin, interval=interval, target_date=lambda f: f["target_date"].dt.date
    )
    return summarize(points, as_of, (90,)).set_index("horizon")


def main() -> int:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DATA
    files = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    if not files:
        print(f"no CSV files in {folder}: nothing to benchmark (the real data is not here)")
        return 0
    from ecoin_assets.forecasting import service
    from ecoin_assets.forecasting.history import issue_history
    from ecoin_assets.forecasting.realized import realized_scores
    from ecoin_assets.prices.csv_io import read_prices_csv
    from ecoin_assets.prices.store import upsert_prices
    from ecoin_assets.storage import Database

    head = (
        "| coin | days | models | s | "
        + " | ".join(f"MASE {h}d realized / backtest | cover {h}d" for h in HORIZONS)
        + " |"
    )
    print(head)
    print("|" + "---|" * (head.count("|") - 1), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "ecoin.duckdb")
        for path in files:
            coin = path.stem
            prices = read_prices_csv(path, coin)
            with db.write() as con:
                upsert_prices(con, prices, source=f"csv:{path.name}")
            last = pd.to_datetime(prices["date"]).max().date()
            started = time.perf_counter()
            done = issue_history(db, coin, last - timedelta(days=DAYS - 1))
            seconds = time.perf_counter() - started
            summary = realized_scores(db, coin, windows=(90,)).set_index("horizon")
            backtest = service.backtest(db, coin, max(HORIZONS))
            same_days = _backtest_summary(
                backtest.paths, coin, last, backtest.model.config.interval
            )
            cells = []
            for h in HORIZONS:
                realized, replayed = summary.loc[h], same_days.loc[h]
                cells.append(
                    f"{realized['mase']:.3f} / {replayed['mase']:.3f} | "
                    f"{realized['coverage']:.0%} / {replayed['coverage']:.0%}"
                )
            print(
                f"| {coin} | {done.issued_days} | {len(done.models)} | {seconds:.0f} | "
                + " | ".join(cells)
                + " |",
                flush=True,
            )
    print(
        f"\nrealized: forecasts issued day by day by `forecast history` over the last {DAYS} "
        "days, scored over the 90 days of target dates ending at the last price; backtest: one "
        "model trained before its 365-day window, restricted to the same target days"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
