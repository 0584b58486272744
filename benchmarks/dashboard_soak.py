"""Soak test of the live dashboard: posts stream in while a browser watches.

Starts the X sandbox, the stream service `ecoin tweets stream --duration D` against it
(writing posts and their sentiment to a fresh ECOIN_HOME) and the dashboard, opens the page in
headless Chromium and records when each post first appears in its table. Then prints, for
every kept post stored while the page was open (the backlog comes before), the delay from its
`created_at` to being shown and from being stored to being shown (how many within 5 and 10 s,
the median, p95, p99 and maximum), posts never shown, and the lock errors of either side.

    .venv/bin/python benchmarks/dashboard_soak.py [--minutes 10] [--post-rate 60]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

# the post ids in the table's data on the page (the id column is hidden)
POST_IDS = """
if (!window.Bokeh || !Bokeh.documents.length) return [];
for (const model of Bokeh.documents[0]._all_models.values()) {
  if (model.data && model.data.post_id) return Array.from(model.data.post_id);
}
return [];
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--post-rate", type=float, default=60.0, help="sandbox posts a minute")
    args = parser.parse_args()
    from ecoin_assets.dashboard import browser

    if reason := browser.missing():
        print(reason)
        return 1
    from ecoin_assets.dashboard.launch import start_dashboard
    from ecoin_assets.processes import free_port, port_is_free, start, stop, wait_until
    from ecoin_assets.storage import Database

    home = Path(tempfile.mkdtemp(prefix="ecoin-soak-"))
    x_port = free_port()
    env = dict(os.environ)
    env.update(
        ECOIN_HOME=str(home),
        ECOIN_TOPICS="bitcoin,ethereum",
        X_API_URL=f"http://127.0.0.1:{x_port}",
        X_BEARER_TOKEN="soak",
    )
    ecoin = [sys.executable, "-m", "ecoin_assets"]
    procs = []
    seconds = args.minutes * 60
    try:
        sandbox_log = home / "sandbox.log"
        procs.append(
            start(
                [
                    *ecoin,
                    "sandbox",
                    "serve",
                    "--coingecko-port",
                    "0",
                    "--x-port",
                    str(x_port),
                    "--post-rate",
                    str(args.post_rate),
                ],
                sandbox_log,
                env,
            )
        )
        wait_until(
            lambda: not port_is_free("127.0.0.1", x_port),
            "the X sandbox",
            procs[-1],
            sandbox_log,
            timeout=60,
        )
        stream_log = home / "stream.log"
        procs.append(
            start([*ecoin, "tweets", "stream", "--duration", str(seconds)], stream_log, env)
        )
        dashboard_log = home / "dashboard.log"
        proc, url = start_dashboard(dashboard_log, env, port=free_port())
        procs.append(proc)
        driver = browser.headless_chromium(1400, 1000)
        first_seen: dict[str, datetime] = {}
        try:
            driver.get(url)
            while not driver.execute_script(POST_IDS):  # the page is up and showing posts
                time.sleep(0.5)
            watch_from = datetime.now(UTC).replace(tzinfo=None)
            started = time.monotonic()
            print(f"watching {url} for {args.minutes:g} min (ECOIN_HOME={home})", flush=True)
            while time.monotonic() - started < seconds + 15:
                now = datetime.now(UTC).replace(tzinfo=None)
                for post_id in driver.execute_script(POST_IDS):
                    first_seen.setdefault(str(post_id), now)
                time.sleep(0.5)
            reloads = driver.execute_script(
                "return performance.getEntriesByType('navigation').length"
            )
        finally:
            driver.quit()
    finally:
        for proc in reversed(procs):
            stop(proc)

    posts = Database(home / "ecoin.duckdb").query(
        "SELECT post_id, created_at, ingested_at FROM posts WHERE keep AND ingested_at > ? "
        "ORDER BY ingested_at",
        [watch_from],
    )
    delays, created_delays, missing = [], [], 0
    for post_id, created_at, ingested_at in posts:
        if str(post_id) in first_seen:
            delays.append((first_seen[str(post_id)] - ingested_at).total_seconds())
            created_delays.append((first_seen[str(post_id)] - created_at).total_seconds())
        else:
            missing += 1
    logs = {name: (home / f"{name}.log").read_text() for name in ("stream", "dashboard")}
    lock_errors = {n: t.lower().count("lock") + t.count("Traceback") for n, t in logs.items()}
    print(
        f"kept posts stored while the page was open: {len(posts)}; shown: {len(delays)}; "
        f"never shown: {missing}"
    )
    for name, values in (("created -> shown", created_delays), ("stored -> shown", delays)):
        if values:
            d = np.array(values)
            print(
                f"{name}: within 5 s {np.mean(d <= 5):.1%}, within 10 s {np.mean(d <= 10):.1%}, "
                f"median {np.median(d):.1f} s, p95 {np.percentile(d, 95):.1f} s, "
                f"p99 {np.percentile(d, 99):.1f} s, max {d.max():.1f} s"
            )
    print(f"page loads: {reloads} (1 = never reloaded); lock errors / tracebacks: {lock_errors}")
    print(f"logs in {home}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
