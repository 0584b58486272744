"""Load benchmark of the BentoML services: throughput and p50/p95/p99 latency.

Starts the service (`bentoml serve`, models from `$ECOIN_HOME`) on a free port unless --url
is given, then sends a bounded number of requests from this separate process with N
concurrent clients:

- closed loop: each client sends its next request as soon as the last one is answered
  (the service's capacity; by Little's law the mean latency is then N / throughput);
- paced (`--rate R`): the clients together send R requests a second, each client at R/N,
  and latency is measured at that load (a client never has two requests in flight).

Sentiment requests hold one real tweet each (TweetEval validation, else the shipped seed set);
forecast requests ask for a random coin and horizon.

    .venv/bin/python benchmarks/serving_bench.py sentiment --clients 32 --rate 250
    .venv/bin/python benchmarks/serving_bench.py forecast --clients 32
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TWEETS = REPO.parent / "shared" / "data" / "tweeteval_sentiment" / "val_text.txt"


def _texts() -> list[str]:
    if TWEETS.exists():
        texts = [t for t in TWEETS.read_text(encoding="utf-8").splitlines() if t.strip()]
        print(f"texts: {len(texts)} real tweets from {TWEETS}")
        return texts
    from ecoin_assets.sentiment.data import load_seed

    print(f"texts: the seed test set (no {TWEETS}): shorter than real tweets, so faster")
    return load_seed("test").texts


def _requests(service: str, url: str, n: int) -> list[tuple[str, dict]]:
    rng = random.Random(7)
    if service == "sentiment":
        texts = _texts()
        return [(f"{url}/classify", {"texts": [rng.choice(texts)]}) for _ in range(n)]
    import requests

    coins = [c["coin"] for c in requests.post(f"{url}/coins", json={}, timeout=30).json()]
    if not coins:
        raise SystemExit("the forecast service has no coin models")
    return [
        (f"{url}/forecast", {"coin": rng.choice(coins), "horizon": rng.randint(1, 30)})
        for _ in range(n)
    ]


async def _load(work: list[tuple[str, dict]], clients: int, rate: float | None) -> dict:
    import aiohttp

    latencies: list[float] = []
    errors: dict[int, int] = {}
    queue = list(reversed(work))
    interval = clients / rate if rate else 0.0

    async def client(session: aiohttp.ClientSession, offset: float) -> None:
        next_at = time.perf_counter() + offset
        while queue:
            url, body = queue.pop()
            if interval:
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
                next_at += interval
            sent = time.perf_counter()
            async with session.post(url, json=body) as response:
                await response.read()
                if response.status != 200:
                    errors[response.status] = errors.get(response.status, 0) + 1
            latencies.append(time.perf_counter() - sent)

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session, i * interval / clients) for i in range(clients)))
        elapsed = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return {
        "requests": len(latencies),
        "errors": errors,
        "seconds": elapsed,
        "throughput": len(latencies) / elapsed,
        "p50": float(np.percentile(ms, 50)),
        "p95": float(np.percentile(ms, 95)),
        "p99": float(np.percentile(ms, 99)),
        "max": float(ms.max()),
    }


def _report(title: str, r: dict) -> None:
    errors = ", ".join(f"{n}x HTTP {code}" for code, n in sorted(r["errors"].items())) or "none"
    print(
        f"{title}: {r['requests']} requests in {r['seconds']:.1f} s = "
        f"{r['throughput']:.0f} req/s; latency p50 {r['p50']:.1f} ms, p95 {r['p95']:.1f} ms, "
        f"p99 {r['p99']:.1f} ms, max {r['max']:.1f} ms; errors: {errors}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("service", choices=["sentiment", "forecast"])
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients")
    parser.add_argument("--requests", type=int, default=3000, help="requests per phase")
    parser.add_argument("--rate", type=float, help="paced phase: requests/s of all clients")
    parser.add_argument("--url", help="a running service (default: start one on a free port)")
    args = parser.parse_args()
    proc = None
    url = args.url
    if url is None:
        from ecoin_assets.config import load_settings
        from ecoin_assets.processes import free_port, stop
        from ecoin_assets.serving.launch import start_service

        home = load_settings().home
        log = Path(tempfile.mkdtemp()) / f"{args.service}.log"
        proc, url = start_service(args.service, home, log, port=free_port())
        print(f"started the {args.service} service at {url} (log: {log})")
    try:
        work = _requests(args.service, url.rstrip("/"), args.requests + 200)
        asyncio.run(_load(work[:200], args.clients, None))  # warm-up, not reported
        print(f"{os.cpu_count()} CPU cores; {args.clients} concurrent clients, one item each")
        _report("closed loop", asyncio.run(_load(work[200:], args.clients, None)))
        if args.rate:
            paced = asyncio.run(_load(work[200:], args.clients, args.rate))
            _report(f"paced at {args.rate:.0f} req/s", paced)
    finally:
        if proc is not None:
            stop(proc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
