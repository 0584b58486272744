"""Soak test of the live system: posts stream in while a browser watches and everything else
reads.

Starts, on a fresh ECOIN_HOME, the X sandbox, the stream service `ecoin tweets stream` against
it (reporting x_posts to Dagster), `dagster dev` (its daemon runs the sensors, which read the
database), the BentoML sentiment service, the data API with a client asking for /signals,
/trending and /alerts every 2 s, the alert watcher with a rule on a local webhook, and the
dashboard, which it opens in headless Chromium, recording when each post first appears in its
table. Then prints, for the kept posts created while the page was open (live posts), the delay
from `created_at` to being shown, and for every kept post stored while it was open (recovered
history included) the delay from being stored to being shown: how many within 5 and 10 s,
the median, p95, p99 and maximum, and live posts never shown; the data API's answers by
status; and, per process, the lock errors and tracebacks logged while the measurement ran.
(The forecast service is not started: it needs a trained model, minutes of training.)

    .venv/bin/python benchmarks/dashboard_soak.py [--minutes 10] [--post-rate 60]

With `ECOIN_DATABASE_URL` set (an empty PostgreSQL database), every process uses it instead of
the DuckDB file; `--postgres` starts a throwaway PostgreSQL server for the run (the test suite's,
from the server binaries `make postgres` installs).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import numpy as np
import requests

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
    parser.add_argument(
        "--postgres", action="store_true", help="run on a throwaway PostgreSQL database"
    )
    args = parser.parse_args()
    if args.postgres:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from postgres_server import PostgresServer

        server = PostgresServer()
        server.start()
        os.environ["ECOIN_DATABASE_URL"] = server.create_database()
        try:
            return soak(args)
        finally:
            server.stop()
    return soak(args)


def soak(args: argparse.Namespace) -> int:
    from ecoin_assets.dashboard import browser

    if reason := browser.missing():
        print(reason)
        return 1
    from ecoin_assets.cli.demo import WORKSPACE_YAML
    from ecoin_assets.config import load_settings
    from ecoin_assets.dagster_home import ensure_dagster_home
    from ecoin_assets.dashboard.launch import start_dashboard
    from ecoin_assets.processes import free_port, port_is_free, start, stop, wait_until
    from ecoin_assets.serving.launch import start_service
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
    env["DAGSTER_HOME"] = str(ensure_dagster_home(load_settings(env)))
    hook = _Webhook()
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
        procs.append(start([*ecoin, "tweets", "stream"], stream_log, env))  # until stopped
        workspace = home / "workspace.yaml"
        workspace.write_text(WORKSPACE_YAML)
        dagster_port = free_port()
        procs.append(
            start(
                [sys.executable, "-m", "dagster", "dev", "-w", str(workspace), "-p",
                 str(dagster_port)],
                home / "dagster.log",
                env,
            )
        )  # fmt: skip
        proc, _ = start_service("sentiment", home, home / "sentiment.log", port=free_port())
        procs.append(proc)
        api_port = free_port()
        api = f"http://127.0.0.1:{api_port}"
        serve_api = [*ecoin, "serve", "api", "--port", str(api_port)]
        procs.append(start(serve_api, home / "api.log", env))
        wait_until(lambda: _ok(f"{api}/topics"), "the data API", procs[-1], home / "api.log")
        rule = [*ecoin, "alerts", "add", "busy", "--topic", "bitcoin", "--when", "volume > 5",
                "--window", "1m", "--cooldown", "1m", "--webhook", hook.url]  # fmt: skip
        start(rule, home / "alerts-add.log", env).wait(timeout=60)
        procs.append(start([*ecoin, "alerts", "watch", "--every", "2"], home / "alerts.log", env))
        answers: Counter = Counter()
        done = threading.Event()
        threading.Thread(target=_poll_api, args=(api, answers, done), daemon=True).start()
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
            done.set()
            measured = {p.stem: p.stat().st_size for p in home.glob("*.log")}  # up to here
        finally:
            driver.quit()
    finally:
        for proc in reversed(procs):
            stop(proc)
        hook.server.shutdown()

    db = Database.from_settings(load_settings(env))  # ECOIN_DATABASE_URL, else the DuckDB file
    posts = db.query(
        "SELECT post_id, created_at, ingested_at FROM posts WHERE keep AND ingested_at > ? "
        "ORDER BY ingested_at",
        [watch_from],
    )
    delays, created_delays, live, missing = [], [], 0, 0
    for post_id, created_at, ingested_at in posts:
        seen = first_seen.get(str(post_id))
        if seen is not None:
            delays.append((seen - ingested_at).total_seconds())
        if created_at > watch_from:  # a live post: created while the page was open
            live += 1
            if seen is None:
                missing += 1
            else:
                created_delays.append((seen - created_at).total_seconds())
    problems = {}
    for name, size in measured.items():
        text = (home / f"{name}.log").read_bytes()[:size].decode(errors="replace")
        problems[name] = len(_PROBLEM.findall(text))
    fired = db.query("SELECT count(*), count(delivered_at) FROM alerts")[0]
    print(
        f"kept posts stored while the page was open: {len(posts)}, shown: {len(delays)}; "
        f"live posts (created while it was open): {live}, never shown: {missing}"
    )
    for name, values in (("created -> shown", created_delays), ("stored -> shown", delays)):
        if values:
            d = np.array(values)
            print(
                f"{name}: within 5 s {np.mean(d <= 5):.1%}, within 10 s {np.mean(d <= 10):.1%}, "
                f"median {np.median(d):.1f} s, p95 {np.percentile(d, 95):.1f} s, "
                f"p99 {np.percentile(d, 99):.1f} s, max {d.max():.1f} s"
            )
    print(f"page loads: {reloads} (1 = never reloaded)")
    print(f"data API answers: {dict(answers)}; alerts fired {fired[0]}, delivered {fired[1]}, "
          f"webhook received {hook.received}")  # fmt: skip
    print(f"lock errors and tracebacks while measuring, per log: {problems}")
    print(f"logs in {home}")
    return 0


_PROBLEM = re.compile(
    r"Traceback|could not set lock|conflicting lock|stayed busy|database is locked", re.I
)


class _Webhook:
    """A local webhook for the soak's alert rule: counts what it receives."""

    def __init__(self) -> None:
        self.received = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.received += 1
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def _ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.RequestException:
        return False


def _poll_api(api: str, answers: Counter, done: threading.Event) -> None:
    """What a data API client does: ask for signals, trending terms and alerts every 2 s."""
    paths = ["/signals?topic=bitcoin&interval=30min", "/trending?topic=bitcoin", "/alerts"]
    while not done.wait(2.0):
        for path in paths:
            try:
                answers[requests.get(api + path, timeout=30).status_code] += 1
            except requests.RequestException as exc:
                answers[type(exc).__name__] += 1


if __name__ == "__main__":
    sys.exit(main())
