"""Forecast quality and speed on real daily prices.

Imports every CSV of `../shared/data/coingecko_prices/` (or the folder given as the first
argument) into a temporary ECOIN_HOME with the same code as `ecoin prices import`, backtests
each coin over the last 365 days, trains its model as `ecoin forecast train` does (the gate
judging that backtest), and prints MASE (model MAE / naive MAE) and the empirical coverage of
the 80% interval at horizons 1, 7 and 14, the training seconds and the gate's verdict.

    .venv/bin/python benchmarks/forecast_bench.py [FOLDER]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

HORIZONS = (1, 7, 14)
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "coingecko_prices"


def main() -> int:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DATA
    files = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    if not files:
        print(f"no CSV files in {folder}: nothing to benchmark (the real data is not here)")
        return 0
    from ecoin_assets.forecasting import service
    from ecoin_assets.prices.csv_io import read_prices_csv
    from ecoin_assets.prices.store import upsert_prices
    from ecoin_assets.storage import Database

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        db = Database(home / "ecoin.duckdb")
        for path in files:
            coin = path.stem
            with db.write() as con:
                upsert_prices(con, read_prices_csv(path, coin), source=f"csv:{path.name}")
            result = service.backtest(db, coin, max(HORIZONS))
            service.store_backtest(db, result)  # the gate's evidence: train_model finds it
            scores = {h: result.at(h) for h in HORIZONS}
            started = time.perf_counter()
            model, verdict = service.train_model(db, home, coin)
            wall = time.perf_counter() - started
            rows.append((coin, wall, model.train_seconds, scores, verdict))
            print(f"  {coin}: done in {wall:.1f} s", file=sys.stderr, flush=True)

    head = (
        "| coin | train s (wall) | fit s | "
        + " | ".join(f"MASE {h}d | cover {h}d" for h in HORIZONS)
        + " | origins | gate |"
    )
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for coin, wall, fit, scores, verdict in rows:
        cells = " | ".join(
            f"{scores[h]['mase']:.3f} | {scores[h]['coverage']:.0%}" for h in HORIZONS
        )
        print(
            f"| {coin} | {wall:.1f} | {fit:.1f} | {cells} | {scores[7]['n_origins']} | "
            f"{'passed' if verdict.passed else 'refused'} |"
        )
    worst_mase = max(s[7]["mase"] for *_, s, _ in rows)
    coverages = [s[7]["coverage"] for *_, s, _ in rows]
    slowest = max(wall for _, wall, *_ in rows)
    print(
        f"\n7-day MASE max {worst_mase:.3f} (target <= 1.05); 7-day coverage "
        f"{min(coverages):.0%}..{max(coverages):.0%} (target 70%..90%); slowest training "
        f"{slowest:.1f} s (target < 60 s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
