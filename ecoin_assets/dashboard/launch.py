"""Starting the dashboard: `panel serve panel_app/app.py` in the background."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import requests

from ecoin_assets.errors import UserError
from ecoin_assets.processes import port_is_free, start, stop, wait_until

APP = Path(__file__).resolve().parents[2] / "panel_app" / "app.py"
PORT = 5006


def dashboard_command(host: str, port: int) -> list[str]:
    if not APP.exists():
        raise UserError(f"{APP} is missing: the dashboard runs from a source checkout")
    panel = Path(sys.executable).with_name("panel")
    return [
        str(panel),
        "serve",
        str(APP),
        "--address",
        host,
        "--port",
        str(port),
        "--allow-websocket-origin",
        f"{host}:{port}",
        "--allow-websocket-origin",
        f"localhost:{port}",
        "--num-procs",
        "1",
    ]


def start_dashboard(
    log: Path, env: dict[str, str] | None = None, host: str = "127.0.0.1", port: int = PORT
) -> tuple[subprocess.Popen, str]:
    """Start the dashboard and wait until its page answers; returns the process and URL."""
    if not port_is_free(host, port):
        raise UserError(f"port {port} is busy: cannot start the dashboard there")
    proc = start(dashboard_command(host, port), log, env)
    url = f"http://{host}:{port}/app"

    def answers() -> bool:
        try:
            return requests.get(url, timeout=5).ok
        except requests.RequestException:
            return False

    try:
        wait_until(answers, "the dashboard", proc, log, timeout=120)
    except BaseException:
        stop(proc)
        raise
    return proc, url
