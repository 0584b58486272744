"""`ecoin serve forecast | sentiment`: the BentoML services over `$ECOIN_HOME`'s models."""

from __future__ import annotations

import os
import sys

import click

from ecoin_assets.cli.common import settings
from ecoin_assets.serving.launch import (
    API_PORT,
    SERVICES,
    register,
    serve_command,
    serve_env,
)


@click.group()
def serve() -> None:
    """Serve the models over HTTP with BentoML (docs UI at /, OpenAPI schema at
    /docs.json, Prometheus metrics at /metrics), and the stored data (`api`).

    The model is first put into the BentoML store ($ECOIN_HOME/bentoml, or BENTOML_HOME):
    for forecast, the latest model of every coin; for sentiment, the active model.
    """


def _command(name: str) -> click.Command:
    spec = SERVICES[name]

    @click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
    @click.option("--port", default=spec.port, show_default=True, type=click.IntRange(1, 65535))
    def run(host: str, port: int) -> None:
        home = settings().home
        tag = register(name, home)
        click.echo(f"serving {tag} on http://{host}:{port} (Ctrl-C to stop)", err=True)
        sys.stdout.flush()
        sys.stderr.flush()
        command = serve_command(name, host, port)
        os.execve(command[0], command, serve_env(name, home, tag))

    return click.command(name=name, help=_HELP[name])(run)


_HELP = {
    "forecast": "Serve POST /forecast {coin, horizon} and POST /coins (default port 3001).\n\n"
    "Forecasts start from the latest prices in $ECOIN_HOME's database.",
    "sentiment": "Serve POST /classify {texts: [...]} and POST /model (default port 3002).\n\n"
    "1-1000 texts a request; concurrent requests are batched together.",
}

for _name in SERVICES:
    serve.add_command(_command(_name))


@serve.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=API_PORT, show_default=True, type=click.IntRange(1, 65535))
def api(host: str, port: int) -> None:
    """Serve the data API: GET /topics, /coin, /sentiment, /signals, /merged and /correlation
    (default port 3003; OpenAPI schema at /openapi.json, docs at /docs).

    Parameters: coin, topic, start, end (ISO 8601, UTC), interval (30min, hour, day, week,
    month), format (json or csv), limit (at most 5000) and offset. It reads the database
    directly (ECOIN_DATABASE_URL, else ECOIN_HOME's DuckDB file), one short read per request.
    """
    import uvicorn

    from ecoin_assets.serving.data_api import create_app

    app = create_app(settings())
    click.echo(f"serving the data API on http://{host}:{port} (Ctrl-C to stop)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


@serve.command()
@click.argument("names", nargs=-1, type=click.Choice(sorted(SERVICES)), metavar="[SERVICE]...")
def build(names: tuple[str, ...]) -> None:
    """Build a bento of each SERVICE (default: both) for deployment, offline.

    Each bento holds the service's code, its model from the store and its pinned
    requirements (bentos/<service>/requirements.txt); `bentoml containerize TAG` makes an
    OCI image of it where a container engine is available.
    """
    from ecoin_assets.serving.launch import build_bento

    home = settings().home
    for name in names or sorted(SERVICES):
        click.echo(f"built {build_bento(name, home)}")
