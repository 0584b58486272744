"""`ecoin demo`: the whole system on the embedded sandbox, one command."""

from __future__ import annotations

import os
import signal
import sys
import threading
from datetime import timedelta

import click
import requests

from ecoin_assets.cli.common import database, settings
from ecoin_assets.config import SANDBOX_COINGECKO_PORT, SANDBOX_HOST
from ecoin_assets.dagster_home import ensure_dagster_home
from ecoin_assets.dashboard.launch import PORT as DASHBOARD_PORT
from ecoin_assets.dashboard.launch import start_dashboard
from ecoin_assets.errors import UserError
from ecoin_assets.prices.fetch import fetch_and_store, parse_date
from ecoin_assets.processes import port_is_free, start, stop, wait_until
from ecoin_assets.serving.launch import API_PORT, SERVICES, start_service
from ecoin_assets.sources.coingecko import CoinGeckoClient, utc_today

WORKSPACE_YAML = """\
load_from:
  - python_module:
      module_name: ecoin_assets.definitions
      location_name: ecoin
"""


def _answers(url: str, path: str = "ping") -> bool:
    """Whether `url`/`path` answers 2xx (a CoinGecko ping by default)."""
    try:
        return requests.get(f"{url.rstrip('/')}/{path}", timeout=2).ok
    except requests.RequestException:
        return False


def _say(text: str) -> None:
    click.echo(f"[demo] {text}", err=True)


DEMO_ALERT = "demo-burst"


def _burst_topic(cfg) -> str | None:
    """The seeded topic the sandbox makes burst: the first coin that is one, and that the
    sandbox posts about."""
    from ecoin_assets.sources.sandbox.market import MarketSimulator
    from ecoin_assets.tweets.topics import seeds

    named = {t.name for t in seeds(cfg)}
    return next(
        (c for c in cfg.coins if c in named and MarketSimulator.coin_index(c) is not None), None
    )


def _demo_alert(cfg) -> str | None:
    """On the sandbox, an alert on the bursting topic's volume, delivered to the sandbox's
    webhook recorder (a stand-in for Slack): what it says, or None when not on the sandbox."""
    from ecoin_assets.alerts.rules import add_rule, read_rules
    from ecoin_assets.tweets.topics import active_topics, seeds

    topic = _burst_topic(cfg) if cfg.mode == "sandbox" else None
    db = database()
    topics = active_topics(db, seeds(cfg))
    if topic is None or topic not in topics:
        return None
    webhook = f"{cfg.x_api_url.rstrip('/')}/_sandbox/webhook"
    with db.read() as con:
        known = {rule.name for rule in read_rules(con)}
    if DEMO_ALERT not in known:
        add_rule(db, DEMO_ALERT, topic, "volume_z > 3", "2m", "20m", webhook, topics)
    return (
        f"alert '{DEMO_ALERT}': {topic} volume_z > 3 over 2 min; the sandbox makes {topic} "
        f"burst for 2 min every 30 min (UTC), and firings are POSTed to {webhook} (GET it to "
        "see them; 'ecoin alerts history' and the dashboard list them)"
    )


def _run_job(defs, instance, job: str, asset: str, what: str) -> dict:
    """Run a Dagster job in process; the metadata `asset` was materialized with."""
    from ecoin_assets.prices.backfill import QUIET

    result = defs.resolve_job_def(job).execute_in_process(
        instance=instance, run_config=QUIET, raise_on_error=False
    )
    if not result.success:
        raise UserError(f"the {what} run failed; see the Dagster UI")
    return result.asset_materializations_for_node(asset)[0].metadata


@click.command()
@click.option(
    "--start",
    "start_text",
    default="2019-01-01",
    show_default=True,
    metavar="YYYY-MM-DD",
    help="First day of price history to collect.",
)
@click.option(
    "--dagster-days",
    default=365,
    show_default=True,
    type=click.IntRange(1),
    help="Days of price partitions materialized through Dagster (one run per coin); "
    "older history is fetched by the CLI path.",
)
@click.option("--port", default=3000, show_default=True, help="Port of the Dagster UI.")
@click.option(
    "--serve/--no-serve",
    default=True,
    show_default=True,
    help="Keep the sandbox, the Dagster UI, the model services and the dashboard running "
    "until Ctrl-C.",
)
def demo(start_text: str, dagster_days: int, port: int, serve: bool) -> None:
    """Run the system on the sandbox: prices, analyses, forecasts, sentiment, the Dagster UI,
    the BentoML services and the live dashboard.

    Starts the CoinGecko sandbox (in sandbox mode), fetches every coin's history into the
    database (the DuckDB file, or PostgreSQL when ECOIN_DATABASE_URL is set), materializes
    the `prices` partitions of the last --dagster-days days, the SQL analyses and, per coin,
    features, model, backtest and forecasts in Dagster (checks included), ingests the past
    week of X posts, computes the sentiment-price correlation, renders the coin and
    sentiment reports (HTML under $ECOIN_HOME/reports), then serves `dagster dev` on
    127.0.0.1:PORT, starts the stream service (`ecoin tweets stream`: sandbox posts reach the
    database within seconds, reported to Dagster as `x_posts`), serves the forecast and
    sentiment models with BentoML on 127.0.0.1:3001 and 127.0.0.1:3002, the data API on
    127.0.0.1:3003 and the live dashboard on http://127.0.0.1:5006/app.
    """
    cfg = settings()
    start_day = parse_date(start_text, "--start")
    today = utc_today()
    if start_day > today:
        raise UserError(f"--start {start_day} is in the future")
    if serve and not port_is_free("127.0.0.1", port):
        raise UserError(f"port {port} is busy (is another Dagster UI running?); pass --port")
    wanted = [(s.port, f"the {s.name} service") for s in SERVICES.values()]
    wanted += [(DASHBOARD_PORT, "the dashboard"), (API_PORT, "the data API")]
    for busy_port, what in wanted if serve else []:
        if not port_is_free("127.0.0.1", busy_port):
            raise UserError(f"port {busy_port} of {what} is busy; free it")
    env = dict(os.environ)
    env["DAGSTER_HOME"] = str(ensure_dagster_home(cfg))
    env["ECOIN_HOME"] = str(cfg.home)
    logs = cfg.home / "logs"
    procs = []

    def shutdown(*_: object) -> None:
        for proc in reversed(procs):
            stop(proc)

    try:
        if cfg.mode == "sandbox" and not os.environ.get("COINGECKO_API_URL"):
            if _answers(cfg.coingecko_url):
                _say(f"using the sandbox already running at {cfg.coingecko_url}")
            elif not port_is_free(SANDBOX_HOST, SANDBOX_COINGECKO_PORT):
                raise UserError(
                    f"port {SANDBOX_COINGECKO_PORT} is busy and does not answer "
                    "like the sandbox; free it or set COINGECKO_API_URL"
                )
            else:
                log = logs / "sandbox.log"
                command = [sys.executable, "-m", "ecoin_assets", "sandbox", "serve"]
                if burst := _burst_topic(cfg):  # so that an alert fires in the demo
                    command += ["--burst-coin", burst]
                procs.append(start(command, log, env))
                wait_until(lambda: _answers(cfg.coingecko_url), "the sandbox", procs[-1], log)
                _say(f"sandbox up at {cfg.coingecko_url} (log: {log})")

        coins = list(cfg.coins)
        _say(f"fetching {', '.join(coins)} {start_day}..{today} into {database().label}")
        outcome = fetch_and_store(
            database(),
            CoinGeckoClient.from_settings(cfg),
            coins,
            start_day,
            today,
            on_done=lambda r: _say(
                f"  {r.coin_id}: {len(r.points)} days, {r.data_calls} data call(s)"
            ),
        )
        s = outcome.summary
        _say(f"stored: {s.inserted} new, {s.updated} updated, {s.unchanged} unchanged")

        os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]
        import dagster as dg

        from ecoin_assets.definitions import defs
        from ecoin_assets.prices.backfill import (
            QUIET,
            backfill_prices,
            materialize_analyses,
            materialize_forecasts,
        )

        first = max(start_day, today - timedelta(days=dagster_days - 1))
        _say(f"materializing prices {first}..{today} in Dagster (one run per coin)")
        with dg.DagsterInstance.get() as instance:
            for coin, result in zip(
                coins, backfill_prices(defs, instance, coins, first, today), strict=True
            ):
                checks = result.get_asset_check_evaluations()
                passed = sum(c.passed for c in checks)
                _say(
                    f"  {coin}: {'ok' if result.success else 'FAILED'}, "
                    f"checks {passed}/{len(checks)} passed"
                )
                if not result.success:
                    raise UserError(f"the Dagster run for {coin} failed; see the Dagster UI")
            analyses = materialize_analyses(defs, instance)
            if not analyses.success:
                raise UserError("the SQL analysis run failed; see the Dagster UI")
            _say("SQL analyses materialized")
            _say("training, backtesting and forecasting each coin (NeuralProphet)")
            for coin, result in zip(
                coins, materialize_forecasts(defs, instance, coins), strict=True
            ):
                meta = {
                    e.asset_key.path[-1]: e.materialization.metadata
                    for e in result.get_asset_materialization_events()
                }
                model_meta = meta.get("price_model", {})
                refused = "served" in model_meta and not model_meta["served"].value
                if not result.success and not refused:
                    raise UserError(f"the forecast run for {coin} failed; see the Dagster UI")
                bt = meta["forecast_backtest"]
                _say(
                    f"  {coin}: model {model_meta['model_version'].value}, "
                    f"7-day MASE {bt['mase_7d'].value:.3f}, "
                    f"80% interval coverage {bt['coverage_7d'].value:.0%}"
                    + (f"; {model_meta['gate'].value}, not served" if refused else "")
                )
            _say("registering the sentiment model and scoring stored posts")
            model = _run_job(defs, instance, "sentiment_job", "sentiment_model", "sentiment")
            _say(
                f"  sentiment model {model['model_version'].value}: macro-recall "
                f"{model['macro_recall'].value:.3f} on the seed test set"
            )
            _say("ingesting and scoring the X posts of the past week (x_posts)")
            posts = _run_job(defs, instance, "x_ingest_job", "x_posts", "X ingestion")
            _say(
                f"  {posts['stored'].value} posts stored, {posts['scored'].value} scored, "
                f"{posts['api_calls'].value} API calls"
            )
            meta = _run_job(
                defs, instance, "correlation_job", "sentiment_price_correlation", "correlation"
            )
            for freq in ("hourly", "daily"):
                for coin, best in meta[f"best_lag_vs_returns_{freq}"].value.items():
                    _say(f"  {freq} sentiment vs returns, {coin}: {best}")
            from ecoin_assets.reports.assets import materialize_reports
            from ecoin_assets.tweets.topics import active_topics, seeds

            _say("rendering the report notebooks (papermill; one run per coin and per topic)")
            for kind, key, result in materialize_reports(
                defs, instance, coins, list(active_topics(database(), seeds(cfg))), QUIET
            ):
                if not result.success:
                    raise UserError(f"the {kind} report run for {key} failed; see the Dagster UI")
                report = result.asset_materializations_for_node(f"{kind}_report")[0].metadata
                _say(f"  {kind} report, {key}: {report['html'].value}")
        if not serve:
            return
        workspace = cfg.dagster_home / "workspace.yaml"
        workspace.write_text(WORKSPACE_YAML)
        log = logs / "dagster.log"
        procs.append(
            start(
                [
                    sys.executable,
                    "-m",
                    "dagster",
                    "dev",
                    "-w",
                    str(workspace),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                ],
                log,
                env,
            )
        )
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(url, "server_info"), "dagster dev", procs[-1], log, timeout=120)
        _say(f"Dagster UI: {url}  (log: {log})")
        for name in SERVICES:
            proc, service_url = start_service(name, cfg.home, logs / f"bentoml-{name}.log")
            procs.append(proc)
            _say(f"{name} service (BentoML): {service_url}  (API docs there)")
        log = logs / "api.log"
        api_url = f"http://127.0.0.1:{API_PORT}"
        procs.append(start([sys.executable, "-m", "ecoin_assets", "serve", "api"], log, env))
        wait_until(lambda: _answers(api_url, "topics"), "the data API", procs[-1], log, timeout=60)
        _say(f"data API: {api_url}/topics, /signals?topic=bitcoin ...  (docs: {api_url}/docs)")
        proc, dashboard_url = start_dashboard(logs / "dashboard.log", env)
        procs.append(proc)
        _say(f"dashboard (Panel): {dashboard_url}  (log: {logs / 'dashboard.log'})")
        log = logs / "stream.log"
        procs.append(start([sys.executable, "-m", "ecoin_assets", "tweets", "stream"], log, env))
        _say(f"X posts stream in through 'ecoin tweets stream' (table `posts`; log: {log})")
        log = logs / "alerts.log"
        procs.append(start([sys.executable, "-m", "ecoin_assets", "alerts", "watch"], log, env))
        _say(f"alerts (ecoin alerts add ...) are watched every 5 s (log: {log})")
        if rule := _demo_alert(cfg):
            _say(rule)
        _say("Ctrl-C to stop")
        stopped = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stopped.set())
        while not stopped.wait(1.0):
            if any(p.poll() is not None for p in procs):
                raise UserError(f"a demo process exited; see the logs in {logs}")
    finally:
        shutdown()
