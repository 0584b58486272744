"""The report notebooks executed with papermill on small data, their HTML, the `ecoin report`
command and the Dagster report assets.

One ECOIN_HOME is built per module through the project's own write paths: a year and a half
of made-up bitcoin prices (`upsert_prices`), a small NeuralProphet model (10-day horizon) with
a stored 7-day forecast and a backtest, the model comparison, five days of hourly prices, and
two and a half weeks of sandbox X posts ingested and scored by the bundled sentiment model.
Each test works on a copy.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import nbformat
import numpy as np
import pandas as pd
import pytest
from ecoin_cli import run_ecoin
from factories import daily_prices, small_model_config, store_prices
from fakes import FakeClock

from ecoin_assets.analysis.service import compare_models
from ecoin_assets.config import load_settings
from ecoin_assets.errors import UserError
from ecoin_assets.forecasting import model as pm
from ecoin_assets.forecasting.backtest import run_backtest
from ecoin_assets.forecasting.service import store_backtest, store_forecast
from ecoin_assets.prices.hourly import store_hourly
from ecoin_assets.reports import render
from ecoin_assets.sentiment.registry import Classifier
from ecoin_assets.sources.coingecko import HourlyPoint
from ecoin_assets.sources.x import XSource
from ecoin_assets.storage import Database
from ecoin_assets.tweets.ingest import ingest_once

COIN = TOPIC = "bitcoin"
TODAY = datetime.now(UTC).date()
PRICE_DAYS = 560
MODEL_HORIZON = 10
STORED_DAYS = 7
SMALL = small_model_config(MODEL_HORIZON)
POST_DAYS = 18
EXTERNAL = re.compile(r"<(?:script|link|img|iframe)\b[^>]*(?:src|href)\s*=\s*[\"']?(?:https?:)?//")


def _ends_today(end: str) -> date:
    """A default window ends on the UTC day the report ran: TODAY, or the next day when the
    tests crossed midnight after the fixtures were made."""
    day = date.fromisoformat(end)
    assert TODAY <= day <= datetime.now(UTC).date()
    return day


def _prices(days: int = PRICE_DAYS) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    price = np.exp(math.log(30_000.0) + np.cumsum(rng.standard_t(4, days) * 0.02))
    volume = rng.uniform(1e9, 3e9, days)
    return daily_prices(COIN, price, last=TODAY, market_cap_usd=price * 19e6, volume_usd=volume)


def _hourly_prices(days: int = 5) -> list[HourlyPoint]:
    """A random walk of hourly points over the last `days` days (observed 3 min past)."""
    rng = np.random.default_rng(5)
    first = datetime.now(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    first -= timedelta(days=days)
    prices = 30_000 * np.exp(np.cumsum(rng.normal(0, 0.004, days * 24)))
    return [
        HourlyPoint(COIN, hour, hour + timedelta(minutes=3), float(price), None, None)
        for hour, price in zip(
            (first + timedelta(hours=h) for h in range(days * 24)), prices, strict=True
        )
    ]


def _ingest_posts(db: Database, home: Path, x_sandbox_factory) -> None:
    """POST_DAYS of sandbox posts up to now, ingested (and scored) week by week."""
    now = time.time()
    clock = FakeClock(now - POST_DAYS * 86_400 + 6 * 86_400)
    server = x_sandbox_factory(
        clock=clock,
        rate_per_minute=0.03,
        backlog_minutes=0,
        history_days=6,
        history_rate_per_minute=0.03,
    )
    source = XSource(server.url, "token", backoff=0.01, clock=clock, sleep=lambda _: None)
    classifier = Classifier.load(home)
    while True:
        ingest_once(db, source, [TOPIC, "ethereum"], classifier=classifier)
        if clock.now >= now:
            break
        clock.now = min(clock.now + 6 * 86_400, now)


@pytest.fixture(scope="module")
def template_home(tmp_path_factory: pytest.TempPathFactory, x_sandbox_module_factory) -> Path:
    home = tmp_path_factory.mktemp("reports-home")
    db = Database(home / "ecoin.duckdb")
    prices = _prices()
    store_prices(db, prices)
    model = pm.train(COIN, prices, SMALL, version="v-test", horizon=MODEL_HORIZON)
    pm.save(model, home)
    store_forecast(db, model, pm.forecast(model, prices, STORED_DAYS))
    store_hourly(db, _hourly_prices(), source="test")
    backtest = run_backtest(
        COIN, prices, SMALL, version="bt-test", test_days=60, horizon=MODEL_HORIZON
    )
    store_backtest(db, backtest)
    compare_models(db, COIN)
    _ingest_posts(db, home, x_sandbox_module_factory)
    return home


@pytest.fixture
def home(template_home: Path, ecoin_home: Path) -> Path:
    """This test's ECOIN_HOME: a copy of the module's data."""
    shutil.copytree(template_home, ecoin_home, dirs_exist_ok=True)
    return ecoin_home


def _errors(notebook: Path) -> list[str]:
    nb = nbformat.read(notebook, as_version=4)
    return [
        f"{o.get('ename')}: {o.get('evalue')}"
        for cell in nb.cells
        for o in cell.get("outputs", [])
        if o.get("output_type") == "error"
        or (o.get("output_type") == "stream" and o.get("name") == "stderr")
    ]


def _images(notebook: Path) -> int:
    nb = nbformat.read(notebook, as_version=4)
    return sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))


def _check_html(html: Path, images: int) -> str:
    body = html.read_text(encoding="utf-8")
    assert len(render.EMBEDDED_PNG.findall(body)) == images
    assert not EXTERNAL.findall(body), EXTERNAL.findall(body)
    assert 'data-mime-type="application/vnd.jupyter.stderr"' not in body  # errors, warnings
    return body


def test_coin_report_shows_every_section(home: Path):
    rendered = render.render_coin_report(load_settings(), COIN, horizon=MODEL_HORIZON)
    assert rendered.notebook == home / "reports" / "coin" / "bitcoin.ipynb"
    assert rendered.html == home / "reports" / "coin" / "bitcoin.html"
    assert _errors(rendered.notebook) == []
    # prices, risk, monthly, forecast, sentiment and price, correlation by lag
    assert _images(rendered.notebook) == rendered.images == 6
    body = _check_html(rendered.html, 6)
    assert "<strong>Note:</strong>" not in body  # every section had data
    assert f'alt="bitcoin: {MODEL_HORIZON}-day forecast from {TODAY}"' in body
    assert "the saved model" in body  # 10 days: more than the stored 7-day forecast
    assert "engaged sentiment" in body and ">bitcoin<" in body  # the social signals table
    for model in ("naive", "linear regression", "neuralprophet"):
        assert f">{model}<" in body
    assert body.count(">days</td>") == body.count(">hours</td>") == 7  # correlation by lag
    params = nbformat.read(rendered.notebook, as_version=4).metadata["papermill"]["parameters"]
    end = _ends_today(params["end"])
    start = (end - timedelta(days=364)).isoformat()
    assert params == {"coin": COIN, "start": start, "end": end.isoformat(), "horizon": 10}
    assert list(home.glob("reports/**/.*")) == []  # no temporary file left


def test_sentiment_report_shows_every_section(home: Path):
    rendered = render.render_sentiment_report(
        load_settings(), TOPIC, start=str(TODAY - timedelta(days=13))
    )
    assert rendered.html == home / "reports" / "sentiment" / "bitcoin.html"
    assert _errors(rendered.notebook) == []
    assert _images(rendered.notebook) == rendered.images == 3  # volume, shares, words
    body = _check_html(rendered.html, 3)
    assert "<strong>Note:</strong>" not in body
    for label in ("negative", "neutral", "positive"):
        assert f">{label}<" in body
    # the social signals per day, and the alerts of the window (none fired here)
    for column in ("authors", "dominance (%)", "engaged sentiment", "volume z"):
        assert f">{column}<" in body
    assert "No alert on this topic fired in the window." in body


def test_empty_data_renders_with_notes(home: Path):
    """A window without posts and a configured coin without prices: notes, not errors."""
    sentiment = render.render_sentiment_report(
        load_settings(), TOPIC, start="2020-01-01", end="2020-01-07"
    )
    assert _errors(sentiment.notebook) == [] and sentiment.images == 0
    body = _check_html(sentiment.html, 0)
    assert "no posts on the topic 'bitcoin' in 2020-01-01 to 2020-01-07" in body
    coin = render.render_coin_report(load_settings(), "solana")
    assert _errors(coin.notebook) == [] and coin.images == 0
    assert "no prices of solana stored" in _check_html(coin.html, 0)


def test_coin_report_sections_read_their_data_without_the_notebook(home: Path):
    from ecoin_assets.config import load_settings
    from ecoin_assets.reports.coin import (
        CoinReport,
        backtests,
        correlation,
        forecast,
        prices,
        signals,
    )
    from ecoin_assets.reports.params import Window
    from ecoin_assets.sentiment.registry import active_version
    from ecoin_assets.tweets.topics import seeds

    db = Database(home / "ecoin.duckdb")
    window = Window(TODAY - timedelta(days=364), TODAY)
    recent = prices.recent_prices(db, COIN, window)
    assert len(recent) == prices.RECENT_DAYS and recent["change_pct"].notna().all()
    assert list(backtests.comparison(db, COIN)["model"]) == list(backtests.MODELS)
    assert backtests.latest_backtest(db, COIN, 7)["model_version"] == "bt-test"
    assert backtests.latest_backtest(db, "solana", 7) is None
    origin = forecast.last_price_date(db, COIN, window)
    stored = forecast.coin_forecast(db, home, COIN, origin, STORED_DAYS)
    assert stored is not None and len(stored.points) == STORED_DAYS
    assert stored.source == "the stored forecast (asset price_forecasts)"
    assert forecast.coin_forecast(db, home, COIN, None, STORED_DAYS) is None
    version = active_version(home)
    assert not correlation.aligned(db, COIN, version, window, "day").empty
    quiet = Window(date(2020, 1, 1), date(2020, 1, 7))
    empty = correlation.aligned(db, COIN, version, quiet, "hour")
    assert empty.empty
    note = correlation.pairs_note(pd.DataFrame(), empty, COIN, "hour")
    assert note is not None and note.startswith("no hourly prices of bitcoin stored")
    report = CoinReport.open(COIN, str(window.start), str(window.end), settings=load_settings())
    assert report.horizon == 7 and report.recent_prices.equals(recent)
    # social signals: the seed topic named like the coin is linked to it
    assert signals.linked_topics(db, COIN, seeds(load_settings())) == [COIN] == report.linked_topics
    social = signals.recent_signals(db, [COIN], version, window)
    assert set(social["topic"]) == {COIN} and (social["volume"] > 0).all()
    days = pd.to_datetime(social["ts"]).dt.date
    assert days.min() >= TODAY - timedelta(days=signals.RECENT_DAYS - 1)
    assert signals.recent_signals(db, [COIN], version, quiet).empty
    unlinked = signals.signals_table(pd.DataFrame(), "solana", []).data
    assert "no topic is linked to solana" in unlinked


def test_sentiment_report_sections_read_their_data_without_the_notebook(home: Path):
    from ecoin_assets.reports.params import Window
    from ecoin_assets.reports.sentiment import overview, signals, timeline, words
    from ecoin_assets.sentiment.registry import active_version

    db = Database(home / "ecoin.duckdb")
    window, version = Window(TODAY - timedelta(days=13), TODAY), active_version(home)
    counted = overview.counts(db, TOPIC, version, window)
    assert counted["posts"] >= counted["kept"] >= counted["scored"] > 0
    step = timeline.step(db, TOPIC, window)
    assert step in timeline.STEPS
    assert len(timeline.series(db, TOPIC, version, window, step)) <= timeline.MAX_POINTS
    assert timeline.pick_step(datetime(2026, 1, 1), datetime(2026, 1, 1, 3)) == 1
    assert timeline.pick_step(datetime(2026, 1, 1), datetime(2026, 1, 8)) == 60
    assert (signals.daily_signals(db, TOPIC, version, window)["volume"] > 0).all()
    posts = ["Bitcoin ETF inflows 🚀", "ETF news 🚀🚀", "calm day"]
    terms = words.terms(posts, TOPIC).set_index("term")
    assert terms.loc["etf", "posts"] == 2 and "bitcoin" not in terms.index
    assert words.emoji_counts(posts).iloc[0].to_dict() == {
        "emoji": "🚀",
        "name": "rocket",
        "posts": 2,
        "share (%)": pytest.approx(200 / 3),
    }


@pytest.mark.parametrize(
    ("kind", "args", "message"),
    [
        ("coin", {"coin": "nocoin"}, "unknown coin 'nocoin': it is not in ECOIN_COINS"),
        ("coin", {"coin": "Bit Coin"}, "invalid coin id 'Bit Coin'"),
        ("coin", {"coin": COIN, "horizon": 0}, "horizon 0 is outside 1-30 days"),
        ("coin", {"coin": COIN, "horizon": 31}, "horizon 31 is outside 1-30 days"),
        ("coin", {"coin": COIN, "horizon": "a week"}, "invalid horizon 'a week'"),
        ("coin", {"coin": COIN, "horizon": 11}, "the bitcoin model forecasts up to 10 days"),
        (
            "coin",
            {"coin": COIN, "start": "2026-03-01", "end": "2026-02-01"},
            "the start date 2026-03-01 is after the end date 2026-02-01",
        ),
        ("coin", {"coin": COIN, "end": "2026-02-30"}, "invalid end date '2026-02-30'"),
        ("sentiment", {"topic": "dogs"}, "unknown topic 'dogs': it is not a tracked topic"),
        ("sentiment", {"topic": " "}, "the topic is empty"),
        ("sentiment", {"topic": TOPIC, "start": "1/2/2026"}, "invalid start date '1/2/2026'"),
    ],
)
def test_a_bad_parameter_fails_before_any_cell_runs_and_writes_nothing(
    home: Path, monkeypatch: pytest.MonkeyPatch, kind: str, args: dict, message: str
):
    import papermill

    def no_kernel(*_, **__):
        raise AssertionError("papermill must not start for bad parameters")

    monkeypatch.setattr(papermill, "execute_notebook", no_kernel)
    renderer = render.render_coin_report if kind == "coin" else render.render_sentiment_report
    with pytest.raises(UserError) as raised:
        renderer(load_settings(), **args)
    assert message in str(raised.value)
    assert not (home / "reports").exists()


def test_no_database_is_a_clear_error(ecoin_home: Path):
    with pytest.raises(UserError, match=r"no database at .* yet"):
        render.render_sentiment_report(load_settings(), TOPIC)
    assert list(ecoin_home.iterdir()) == []


def test_a_failing_notebook_keeps_the_previous_report(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A cell that fails leaves the last good report and no temporary files (and the kernel
    is this interpreter's)."""
    notebook, html = render.report_paths(home, "sentiment", TOPIC)
    notebook.parent.mkdir(parents=True)
    notebook.write_text("previous notebook")
    html.write_text("previous report")
    template = nbformat.read(render.NOTEBOOKS / "sentiment_report.ipynb", as_version=4)
    broken = nbformat.v4.new_notebook(metadata=template.metadata)
    broken.cells = [
        nbformat.v4.new_code_cell(
            'topic = "x"\nstart = ""\nend = ""', metadata={"tags": ["parameters"]}
        ),
        nbformat.v4.new_code_cell('import sys\nraise RuntimeError(f"python {sys.executable}")'),
    ]
    (tmp_path / "notebooks").mkdir()
    nbformat.write(broken, tmp_path / "notebooks" / "sentiment_report.ipynb")
    monkeypatch.setattr(render, "NOTEBOOKS", tmp_path / "notebooks")
    elsewhere = tmp_path / "jupyter" / "kernels" / "python3"  # another Python's kernelspec
    elsewhere.mkdir(parents=True)
    argv = ["/nonexistent/python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (elsewhere / "kernel.json").write_text(json.dumps({"argv": argv, "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    with pytest.raises(UserError) as raised:
        render.render_sentiment_report(load_settings(), TOPIC)
    # the kernel ran on this very interpreter, whatever kernelspecs are installed
    assert str(raised.value).endswith(f"failed in cell 3: RuntimeError: python {sys.executable}")
    assert notebook.read_text() == "previous notebook"
    assert html.read_text() == "previous report"
    assert sorted(p.name for p in notebook.parent.iterdir()) == ["bitcoin.html", "bitcoin.ipynb"]


def test_the_kernel_is_interrupted_on_request_but_not_on_its_way_to_shutdown():
    """jupyter_client sends SIGINT before every shutdown; landing between messages it made
    ipykernel log "KeyboardInterrupt caught in kernel" as an ERROR in `ecoin demo`'s output."""

    class Recording(render.ThisPythonKernel):
        signals: list[int] = []

        async def _async_signal_kernel(self, signum: int) -> None:
            self.signals.append(signum)
            await super()._async_signal_kernel(signum)

    async def interrupt_then_shut_down() -> tuple[list[int], list[int]]:
        manager = Recording()
        await manager.start_kernel()
        try:
            client = manager.client()
            client.start_channels()
            await client.wait_for_ready(timeout=60)
            await manager.interrupt_kernel()  # what nbclient does when a cell times out
            on_request = list(manager.signals)
            client.stop_channels()
        finally:
            await manager.shutdown_kernel()
        assert not await manager.is_alive()
        return on_request, manager.signals

    on_request, all_signals = asyncio.run(interrupt_then_shut_down())
    assert on_request == [signal.SIGINT]
    assert all_signals == [signal.SIGINT]  # none more on the way to shutdown


def test_file_names_of_topics():
    assert render.file_stem("bitcoin") == "bitcoin"
    odd = render.file_stem("Bitcoin OR $BTC")
    assert re.fullmatch(r"bitcoin-or-btc-[0-9a-f]{6}", odd)
    assert odd != render.file_stem("bitcoin or btc")
    assert render.file_stem("../../etc").startswith("etc-")


SECRET = "tok-SECRET-4f1c9a"


def _ecoin(*args: str) -> subprocess.CompletedProcess:
    return run_ecoin(
        "report", *args, env=dict(os.environ, X_BEARER_TOKEN=SECRET, COINGECKO_DEMO_API_KEY=SECRET)
    )


def test_cli_writes_the_report_and_says_where(home: Path):
    proc = _ecoin("sentiment", "--topic", TOPIC, "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["report"] == "sentiment" and out["images"] == 3
    end = _ends_today(out["parameters"]["end"])
    assert out["parameters"] == {
        "topic": TOPIC,
        "start": (end - timedelta(days=6)).isoformat(),
        "end": end.isoformat(),
    }
    assert Path(out["html"]) == home / "reports" / "sentiment" / "bitcoin.html"
    html, notebook = Path(out["html"]), Path(out["notebook"])
    assert html.stat().st_size > 10_000
    assert SECRET not in html.read_text() and SECRET not in notebook.read_text()
    metadata = nbformat.read(notebook, as_version=4).metadata
    assert metadata["papermill"]["output_path"] == str(notebook)
    assert metadata["title"].startswith("ecoin sentiment report: bitcoin")
    assert proc.stderr == ""

    proc = _ecoin("coin", "--coin", "bitcoin", "--horizon", "31")
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == "error: horizon 31 is outside 1-30 days\n"
    proc = _ecoin("coin", "--coin", "nocoin")
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: unknown coin 'nocoin'") and proc.stderr.count("\n") == 1
    assert not (home / "reports" / "coin").exists()


def test_dagster_assets_render_one_report_per_partition(home: Path):
    from ecoin_assets.reports.assets import coin_report, sentiment_report
    from ecoin_assets.resources import build_resources

    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("topics", [TOPIC])  # topic_partitions_sensor's work
        for asset, key in ((coin_report, COIN), (sentiment_report, TOPIC)):
            result = dg.materialize(
                [asset], partition_key=key, instance=instance, resources=build_resources()
            )
            assert result.success
            meta = result.asset_materializations_for_node(asset.key.path[-1])[0].metadata
            html = Path(meta["html"].value)
            assert html.exists() and Path(meta["notebook"].value).exists()
            assert meta["plots"].value == len(render.EMBEDDED_PNG.findall(html.read_text()))
    coin_html = (home / "reports" / "coin" / "bitcoin.html").read_text()
    assert "the stored forecast (asset price_forecasts)" in coin_html  # 7 days are stored
    end = _ends_today(meta["window"].value.split(" to ")[1])
    assert meta["window"].value == f"{end - timedelta(days=6)} to {end}"
