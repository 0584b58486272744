"""`ecoin sandbox serve`: the local stand-ins for the CoinGecko (and later X) APIs."""

from __future__ import annotations

import signal
import threading

import click

from ecoin_assets.config import SANDBOX_COINGECKO_PORT, SANDBOX_HOST
from ecoin_assets.errors import UserError
from ecoin_assets.sources.sandbox.coingecko import CoinGeckoSandbox
from ecoin_assets.sources.sandbox.faults import FaultConfig


@click.group()
def sandbox() -> None:
    """Local API servers that speak CoinGecko's format (no keys, no internet)."""


def _rate(name: str, what: str):
    return click.option(
        f"--{name}",
        type=click.FloatRange(0, 1),
        default=0.0,
        show_default=True,
        help=f"Share of requests {what}.",
    )


@sandbox.command()
@click.option("--host", default=SANDBOX_HOST, show_default=True)
@click.option(
    "--coingecko-port",
    default=SANDBOX_COINGECKO_PORT,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port of the CoinGecko API (0: any free).",
)
@click.option(
    "--rate-limit",
    default=30,
    show_default=True,
    type=click.IntRange(0),
    help="Calls per minute per client before 429 (0: unlimited).",
)
@_rate("error-rate", "answered with a 5xx")
@_rate("throttle-rate", "answered 429 regardless of the limit")
@_rate("malformed-rate", "answered 200 with a broken body")
@_rate("slow-rate", "answered after --slow-seconds")
@_rate("drop-rate", "whose connection is closed without an answer")
@click.option("--slow-seconds", default=2.0, show_default=True, type=click.FloatRange(0))
@click.option("--seed", default=2019, show_default=True, help="Seed of the simulated market.")
@click.option("--verbose", is_flag=True, help="Log every request.")
def serve(
    host: str,
    coingecko_port: int,
    rate_limit: int,
    error_rate: float,
    throttle_rate: float,
    malformed_rate: float,
    slow_rate: float,
    drop_rate: float,
    slow_seconds: float,
    seed: int,
    verbose: bool,
) -> None:
    """Serve the sandbox APIs until interrupted.

    Faults can also be switched at run time: POST a JSON fault config to
    /_sandbox/faults (e.g. {"script": ["500", "429", "malformed"]}); GET /_sandbox/stats
    counts calls by path and status.
    """
    faults = FaultConfig(
        error_rate=error_rate,
        throttle_rate=throttle_rate,
        malformed_rate=malformed_rate,
        slow_rate=slow_rate,
        slow_seconds=slow_seconds,
        drop_rate=drop_rate,
        seed=seed,
    )
    try:
        server = CoinGeckoSandbox(
            host, coingecko_port, rate_limit=rate_limit, faults=faults, seed=seed, quiet=not verbose
        )
    except OSError as exc:
        raise UserError(
            f"cannot listen on {host}:{coingecko_port} ({exc.strerror}); "
            "pass another --coingecko-port"
        ) from None
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server.serve_in_thread()
    click.echo(
        f"CoinGecko sandbox: {server.api_url}  (export COINGECKO_API_URL={server.api_url})",
        err=True,
    )
    click.echo(f"rate limit {rate_limit}/min; Ctrl-C to stop", err=True)
    stop.wait()
    server.shutdown()
    server.server_close()
