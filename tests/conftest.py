"""Shared fixtures: an isolated environment, CoinGecko sandboxes and fast clients."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fakes import FakeClock

from ecoin_assets.sources.coingecko import CoinGeckoClient
from ecoin_assets.sources.sandbox.coingecko import CoinGeckoSandbox
from ecoin_assets.sources.sandbox.x import XSandbox

pytest_plugins = ("postgres_server",)  # postgres_server / postgres_url fixtures

#: variables that would point a test at real data, real APIs or real secrets
_CLEARED_ENV = (
    "COINGECKO_API_URL",
    "COINGECKO_DEMO_API_KEY",
    "COINGECKO_PRO_API_KEY",
    "ECOIN_COINS",
    "ECOIN_MODE",
    "ECOIN_TOPICS",
    "X_API_URL",
    "X_BEARER_TOKEN",
    "DAGSTER_HOME",
    "ECOIN_DATABASE_URL",
)


@pytest.fixture
def ecoin_home(tmp_path: Path) -> Path:
    """The `ECOIN_HOME` of the test (a fresh, empty folder under `tmp_path`)."""
    home = tmp_path / "ecoin-home"
    home.mkdir()
    return home


@pytest.fixture(scope="session")
def encoder_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder per test session for the sentiment encoder's graph (built once, seconds)."""
    return tmp_path_factory.mktemp("encoder-cache")


@pytest.fixture(scope="session", autouse=True)
def _session_model_stores(encoder_cache: Path) -> None:
    """One encoder cache and one BentoML store for the session, set before any fixture of
    a narrower scope builds or registers a model (BentoML reads its home once a process)."""
    os.environ["ECOIN_ENCODER_CACHE"] = str(encoder_cache)
    os.environ.setdefault("BENTOML_HOME", str(encoder_cache.parent / "bentoml"))


@pytest.fixture(autouse=True)
def _isolated_environment(ecoin_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own ECOIN_HOME and none of the caller's API settings or keys."""
    monkeypatch.setenv("ECOIN_HOME", str(ecoin_home))
    for name in _CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., CoinGeckoSandbox]]:
    """Start CoinGecko sandboxes on free ports; all are shut down after the test.

    `sandbox_factory(rate_limit=3, faults=FaultConfig(...), clock=..., cls=Subclass)`; the
    rate limit defaults to 1000 calls a minute so that only tests that want 429s get them.
    """
    servers: list[CoinGeckoSandbox] = []

    def make(cls: type[CoinGeckoSandbox] = CoinGeckoSandbox, **kwargs) -> CoinGeckoSandbox:
        kwargs.setdefault("host", "127.0.0.1")
        kwargs.setdefault("port", 0)
        kwargs.setdefault("rate_limit", 1000)
        server = cls(**kwargs)
        servers.append(server)
        server.serve_in_thread()
        return server

    yield make
    for server in servers:
        _stop(server)


def _stop(server: CoinGeckoSandbox) -> None:
    """`shutdown()` then `server_close()`, without waiting out the 0.5 s poll interval.

    `shutdown()` only returns once `serve_forever` wakes up and sees the request; a throwaway
    connection wakes it at once.
    """
    stopper = threading.Thread(target=server.shutdown, daemon=True)
    stopper.start()
    host, port = server.server_address[:2]
    while stopper.is_alive():
        with contextlib.suppress(OSError):
            socket.create_connection((host, port), timeout=1).close()
        stopper.join(0.01)
    server.server_close()


def _x_sandboxes() -> Iterator[Callable[..., XSandbox]]:
    """Start X sandboxes on free ports (with a `FakeClock` unless given a clock); all are
    shut down when the generator resumes."""
    servers: list[XSandbox] = []

    def make(**kwargs) -> XSandbox:
        kwargs.setdefault("clock", FakeClock())
        server = XSandbox(port=0, **kwargs)
        server.serve_in_thread()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def x_sandbox_factory() -> Iterator[Callable[..., XSandbox]]:
    """X sandboxes for one test."""
    yield from _x_sandboxes()


@pytest.fixture(scope="module")
def x_sandbox_module_factory() -> Iterator[Callable[..., XSandbox]]:
    """X sandboxes for a module's shared data (they stop with the module)."""
    yield from _x_sandboxes()


@pytest.fixture
def sandbox(request: pytest.FixtureRequest, sandbox_factory) -> CoinGeckoSandbox:
    """A running CoinGecko sandbox (real clock, rate limit 1000/min, no faults).

    Override its arguments with indirect parametrization:
    `@pytest.mark.parametrize("sandbox", [{"rate_limit": 3}], indirect=True)`.
    """
    return sandbox_factory(**getattr(request, "param", {}))


@pytest.fixture
def fast_client(sandbox: CoinGeckoSandbox) -> Callable[..., CoinGeckoClient]:
    """Factory of `CoinGeckoClient`s on `sandbox` with tiny backoffs and no real pacing.

    Keyword arguments override the defaults; `base_url=` points the client elsewhere.
    """

    def make(**overrides) -> CoinGeckoClient:
        kwargs: dict = {"backoff": 0.01, "max_backoff": 0.05, "calls_per_minute": 10_000}
        kwargs.update(overrides)
        base_url = kwargs.pop("base_url", sandbox.api_url)
        return CoinGeckoClient(base_url, **kwargs)

    return make


# With torch loaded, DuckDB's nanobind bindings print dozens of spurious "leaked instance"
# lines at interpreter shutdown, after pytest's summary (see ecoin_assets/cli/__init__.py).
# End the process once pytest is done, so that its summary stays the last thing printed.
_exit_status: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _exit_status.append(int(exitstatus))


def pytest_unconfigure(config: pytest.Config) -> None:
    if _exit_status and not hasattr(config, "workerinput"):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status[-1])
