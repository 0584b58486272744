"""Starting the BentoML services: which model each serves, and the `bentoml serve` command."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import requests

from ecoin_assets.bento_store import bentoml_home
from ecoin_assets.errors import UserError
from ecoin_assets.processes import port_is_free, start, stop, wait_until


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    target: str  # bentoml serve's import path
    port: int
    model_env: str  # the variable naming the served model's tag


API_PORT = 3003  # the data API (`ecoin serve api`, serving/data_api.py), not a BentoML service
SERVICES = {
    "forecast": ServiceSpec(
        "forecast", "bentos.forecast.service:Forecast", 3001, "ECOIN_FORECAST_MODEL"
    ),
    "sentiment": ServiceSpec(
        "sentiment", "bentos.sentiment.service:Sentiment", 3002, "ECOIN_SENTIMENT_MODEL"
    ),
}


def register(name: str, home: Path) -> str:
    """Put the model the service should serve into the store (idempotent); returns its tag.

    forecast: the bundle of every coin's latest model; sentiment: the active model.
    """
    if name == "forecast":
        from ecoin_assets.forecasting.registry import register_bentoml

        return register_bentoml(home)
    from ecoin_assets.sentiment.registry import register_active

    return register_active(home)


def serve_env(name: str, home: Path, tag: str, base: dict[str, str] | None = None) -> dict:
    """The environment of a `bentoml serve` process serving `tag` from `$ECOIN_HOME`."""
    env = dict(os.environ if base is None else base)
    env.setdefault("BENTOML_HOME", str(bentoml_home(home)))
    env.setdefault("BENTOML_DO_NOT_TRACK", "True")
    env["ECOIN_HOME"] = str(home)
    env[SERVICES[name].model_env] = tag
    return env


def serve_command(name: str, host: str, port: int) -> list[str]:
    bentoml = Path(sys.executable).with_name("bentoml")
    return [str(bentoml), "serve", SERVICES[name].target, "--host", host, "--port", str(port)]


def is_ready(url: str) -> bool:
    try:
        return requests.get(f"{url}/readyz", timeout=2).ok
    except requests.RequestException:
        return False


def start_service(
    name: str, home: Path, log: Path, host: str = "127.0.0.1", port: int | None = None
) -> tuple[subprocess.Popen, str]:
    """Register the model, start `bentoml serve` in the background and wait until it is
    ready; returns the process and the service's URL. Stop it with `processes.stop`."""
    port = port or SERVICES[name].port
    if not port_is_free(host, port):
        raise UserError(f"port {port} is busy: cannot start the {name} service there")
    tag = register(name, home)
    proc = start(serve_command(name, host, port), log, serve_env(name, home, tag))
    url = f"http://{host}:{port}"
    try:
        wait_until(lambda: is_ready(url), f"the {name} service", proc, log, timeout=180)
    except BaseException:
        stop(proc)
        raise
    return proc, url


def build_bento(name: str, home: Path) -> str:
    """Build the service's bento (offline) with the model `register` puts into the store;
    returns the bento's tag. Needs the source checkout (the bentofiles live in `bentos/`)."""
    import bentos

    root = Path(bentos.__file__).resolve().parent.parent
    bentofile = root / "bentos" / name / "bentofile.yaml"
    if not bentofile.exists():
        raise UserError(f"{bentofile} is missing: build bentos from a source checkout")
    tag = register(name, home)
    command = [str(Path(sys.executable).with_name("bentoml")), "build", "-f", str(bentofile)]
    done = subprocess.run(
        [*command, "--output", "tag", str(root)],
        env=serve_env(name, home, tag),
        capture_output=True,
        text=True,
    )
    built = [line for line in done.stdout.splitlines() if line.startswith("__tag__:")]
    if done.returncode != 0 or not built:
        raise UserError(f"bentoml build of {name} failed:\n{(done.stderr or done.stdout)[-1500:]}")
    return built[-1].removeprefix("__tag__:")
