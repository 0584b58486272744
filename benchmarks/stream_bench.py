"""Lag of the real-time path: X sandbox filtered stream -> `ecoin tweets stream` -> database.

Starts the X sandbox (`ecoin sandbox serve`, no history, a 6-second backlog) releasing posts
about the default coins at each RATE (posts/s; 250 is X's maximum filtered-stream delivery
rate), runs `ecoin tweets stream --duration SECONDS` on the default topics in a fresh
ECOIN_HOME with the bundled sentiment model, and prints the service's own figures: posts
stored, and the lag from each live post's `created_at` to the commit of its batch (p50, p95).
`--mode poll` measures the polling path instead (recent search, the topics in one combined
query, rounds paced by the sandbox's rate-limit headers: 450 calls per 15 minutes, as on X).

    .venv/bin/python benchmarks/stream_bench.py [--rates 60,250] [--seconds 120] [--mode poll]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(rate: float, seconds: float, mode: str) -> dict:
    port = _free_port()
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, ECOIN_HOME=home, X_API_URL=f"http://127.0.0.1:{port}")
        env.pop("DAGSTER_HOME", None)
        sandbox = subprocess.Popen(
            [sys.executable, "-m", "ecoin_assets", "sandbox", "serve", "--coingecko-port", "0",
             "--x-port", str(port), "--post-rate", str(rate * 60), "--history-days", "0",
             "--backlog-minutes", "0.1"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/_sandbox/stats", timeout=1)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the X sandbox did not start") from None
                    time.sleep(0.2)
            proc = subprocess.run(
                [sys.executable, "-m", "ecoin_assets", "tweets", "stream", "--mode", mode,
                 "--duration", str(seconds), "--json"],
                env=env, capture_output=True, text=True, timeout=seconds + 300,
            )  # fmt: skip
        finally:
            sandbox.terminate()
            sandbox.wait(timeout=10)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="60,250", help="posts per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--mode", choices=("stream", "poll"), default="stream")
    args = parser.parse_args()
    rows = []
    for rate in (float(r) for r in args.rates.split(",")):
        report = _run(rate, args.seconds, args.mode)
        rows.append((rate, report))
        print(f"{rate:g} posts/s: {json.dumps(report)}", flush=True)
    print(f"\n{args.mode} mode, {os.cpu_count()} CPU cores, {args.seconds:g} s per rate\n")
    print("| posts/s | stored | live posts' lag p50 | p95 | batches | searches | gaps |")
    print("|---|---|---|---|---|---|---|")
    for rate, r in rows:
        print(
            f"| {rate:g} | {r['stored']} | {r.get('lag_p50_s', 'n/a')} s "
            f"| {r.get('lag_p95_s', 'n/a')} s | {r['batches']} | {r['searches']} | {r['gaps']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
