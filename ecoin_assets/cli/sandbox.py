"""`ecoin sandbox serve`: the local stand-ins for the CoinGecko and X APIs."""

from __future__ import annotations

import signal
import threading

import click

from ecoin_assets.cli.common import settings
from ecoin_assets.config import DEFAULT_COINS, SANDBOX_COINGECKO_PORT, SANDBOX_HOST, SANDBOX_X_PORT
from ecoin_assets.errors import UserError
from ecoin_assets.sources.sandbox.coingecko import CoinGeckoSandbox
from ecoin_assets.sources.sandbox.faults import FaultConfig
from ecoin_assets.sources.sandbox.market import MarketSimulator
from ecoin_assets.sources.sandbox.posts import Burst
from ecoin_assets.sources.sandbox.x import XSandbox


@click.group()
def sandbox() -> None:
    """Local API servers that speak CoinGecko's and X's formats (no keys, no internet)."""


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
    "--x-port",
    default=SANDBOX_X_PORT,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port of the X API (0: any free).",
)
@click.option(
    "--post-rate",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0.1, 15000),
    help="Simulated X posts released per minute (about the ECOIN_COINS coins; 15000 is X's "
    "maximum filtered-stream delivery rate, 250 a second).",
)
@click.option(
    "--backlog-minutes",
    default=60.0,
    show_default=True,
    type=click.FloatRange(0, 1440),
    help="Minutes of posts at --post-rate released before the sandbox starts.",
)
@click.option(
    "--history-days",
    default=7.0,
    show_default=True,
    type=click.FloatRange(0, 7),
    help="Days of older X posts a fresh sandbox already holds (X's recent search reaches back 7).",
)
@click.option(
    "--history-post-rate",
    default=2.0,
    show_default=True,
    type=click.FloatRange(0.1, 600),
    help="Posts per minute in those older days.",
)
@click.option(
    "--duplicate-page-rate",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of X result pages that repeat the last post of the previous page.",
)
@click.option(
    "--rate-limit",
    default=30,
    show_default=True,
    type=click.IntRange(0),
    help="CoinGecko calls per minute per client before 429 (0: unlimited); X allows 450 "
    "calls per 15 minutes per token.",
)
@_rate("error-rate", "answered with a 5xx")
@_rate("throttle-rate", "answered 429 regardless of the limit")
@_rate("malformed-rate", "answered 200 with a broken body")
@_rate("slow-rate", "answered after --slow-seconds")
@_rate("drop-rate", "whose connection is closed without an answer")
@click.option("--slow-seconds", default=2.0, show_default=True, type=click.FloatRange(0))
@click.option(
    "--keep-alive-seconds",
    default=20.0,
    show_default=True,
    type=click.FloatRange(0.05, 600),
    help="Silence after which the X filtered stream sends a keep-alive blank line.",
)
@click.option(
    "--stream-drop-every",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    help="Close an X stream connection after every N posts it has sent (0: never).",
)
@click.option(
    "--stream-stall-every",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    help="Make an X stream connection silent, keep-alives too, after every N posts (0: never).",
)
@click.option(
    "--stream-stall-seconds",
    default=60.0,
    show_default=True,
    type=click.FloatRange(0, 600),
    help="How long such a stall lasts.",
)
@click.option(
    "--stream-connect-429-rate",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of X stream connection attempts answered 429.",
)
@click.option(
    "--burst-coin",
    default=None,
    metavar="ID",
    help="Make this coin's topic burst: most posts are about it for --burst-minutes at the "
    "start of every --burst-every minutes (UTC), so that volume alerts fire.",
)
@click.option("--burst-every", default=30.0, show_default=True, type=click.FloatRange(1))
@click.option("--burst-minutes", default=2.0, show_default=True, type=click.FloatRange(0.1))
@click.option("--seed", default=2019, show_default=True, help="Seed of the simulated market.")
@click.option("--verbose", is_flag=True, help="Log every request.")
def serve(
    host: str,
    coingecko_port: int,
    x_port: int,
    post_rate: float,
    backlog_minutes: float,
    history_days: float,
    history_post_rate: float,
    duplicate_page_rate: float,
    rate_limit: int,
    error_rate: float,
    throttle_rate: float,
    malformed_rate: float,
    slow_rate: float,
    drop_rate: float,
    slow_seconds: float,
    keep_alive_seconds: float,
    stream_drop_every: int,
    stream_stall_every: int,
    stream_stall_seconds: float,
    stream_connect_429_rate: float,
    burst_coin: str | None,
    burst_every: float,
    burst_minutes: float,
    seed: int,
    verbose: bool,
) -> None:
    """Serve the sandbox APIs until interrupted.

    Faults can also be switched at run time: POST a JSON fault config to
    /_sandbox/faults (e.g. {"script": ["500", "429", "malformed"]}, or on the X port
    {"stream_drop_every": 5}); GET /_sandbox/stats counts calls by path and status.
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
    coins = tuple(c for c in settings().coins if MarketSimulator.coin_index(c) is not None)
    burst = None
    if burst_coin is not None:
        if burst_coin not in (coins or DEFAULT_COINS):
            raise UserError(
                f"--burst-coin {burst_coin!r} is not a coin the sandbox posts about: use one of "
                f"{', '.join(coins or DEFAULT_COINS)}"
            )
        if burst_minutes >= burst_every:
            raise UserError("--burst-minutes must be shorter than --burst-every")
        burst = Burst(burst_coin, burst_every, burst_minutes)
    servers = []
    try:
        for port, make in (
            (
                coingecko_port,
                lambda: CoinGeckoSandbox(
                    host,
                    coingecko_port,
                    rate_limit=rate_limit,
                    faults=faults,
                    seed=seed,
                    quiet=not verbose,
                ),
            ),
            (
                x_port,
                lambda: XSandbox(
                    host,
                    x_port,
                    coins=coins or DEFAULT_COINS,
                    rate_per_minute=post_rate,
                    backlog_minutes=backlog_minutes,
                    history_days=history_days,
                    history_rate_per_minute=history_post_rate,
                    duplicate_page_rate=duplicate_page_rate,
                    keep_alive_seconds=keep_alive_seconds,
                    stream_drop_every=stream_drop_every,
                    stream_stall_every=stream_stall_every,
                    stream_stall_seconds=stream_stall_seconds,
                    stream_connect_429_rate=stream_connect_429_rate,
                    faults=faults,
                    seed=seed,
                    quiet=not verbose,
                    burst=burst,
                ),
            ),
        ):
            try:
                servers.append(make())
            except OSError as exc:
                raise UserError(
                    f"cannot listen on {host}:{port} ({exc.strerror}); pass "
                    "another --coingecko-port / --x-port"
                ) from None
    except UserError:
        for server in servers:
            server.server_close()
        raise
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    cg, x = servers
    for server in servers:
        server.serve_in_thread()
    click.echo(
        f"CoinGecko sandbox: {cg.api_url}  (export COINGECKO_API_URL={cg.api_url})", err=True
    )
    click.echo(
        f"X sandbox: {x.url}  (export X_API_URL={x.url}; any X_BEARER_TOKEN works), "
        f"{post_rate:g} posts/min"
        + (
            f"; {burst.coin} bursts for {burst.minutes:g} min every {burst.every_minutes:g} min"
            if burst
            else ""
        ),
        err=True,
    )
    click.echo(f"CoinGecko rate limit {rate_limit}/min; Ctrl-C to stop", err=True)
    stop.wait()
    for server in servers:
        server.shutdown()
        server.server_close()
