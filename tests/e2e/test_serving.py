"""The BentoML services: model registration, the forecast logic in process, and both services
over real HTTP (`bentoml serve` on free ports): endpoints, errors, batching, docs, metrics,
an OpenAPI fuzz, and offline bento builds."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
from factories import daily_prices, geometric_walk, small_model_config, store_prices
from fuzzing import no_server_errors

from ecoin_assets.analysis.correlation import correlation_stats
from ecoin_assets.analysis.publish import publish
from ecoin_assets.analysis.service import CORRELATION_COLUMNS
from ecoin_assets.errors import UserError
from ecoin_assets.forecasting import model as pm
from ecoin_assets.forecasting import registry as forecast_registry
from ecoin_assets.forecasting.service import predict
from ecoin_assets.processes import free_port, stop
from ecoin_assets.sentiment import registry as sentiment_registry
from ecoin_assets.serving.forecasts import ForecastServer, NotReadyError, UnknownCoinError
from ecoin_assets.serving.launch import build_bento, start_service
from ecoin_assets.storage import Database

COINS = ("bitcoin", "ethereum")
TEXTS = [
    "bitcoin to the moon, best week ever 🚀",
    "this crash wiped out my savings, terrible",
    "ETH gas fees are 12 gwei today",
    "i hate how slow this exchange is",
]

HORIZON = 7
SMALL = small_model_config(HORIZON)  # a 5-epoch, 7-day model


def _prices(coin: str, days: int = 500, seed: int = 0) -> pd.DataFrame:
    walk = geometric_walk(days, seed, start=100.0 * (seed + 1))
    return daily_prices(coin, walk, last=date.today() - timedelta(days=1))


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ECOIN_HOME with two coins' prices, small trained models in the store, a backtest
    row, and the bundled sentiment model registered."""
    home = tmp_path_factory.mktemp("serving-home")
    db = Database(home / "ecoin.duckdb")
    for seed, coin in enumerate(COINS):
        prices = _prices(coin, seed=seed)
        store_prices(db, prices)
        pm.save(pm.train(coin, prices, SMALL, version=f"v-{coin}", horizon=HORIZON), home)
    with db.write() as con:
        con.execute(
            "INSERT INTO forecast_backtests VALUES ('bitcoin', 'bt-1', 7, 60, 3.5, 2.1, 3.9, "
            "0.9, 0.8, 0.81, DATE '2026-01-01', DATE '2026-03-01', now())"
        )
    forecast_registry.register_bentoml(home)
    sentiment_registry.register_active(home)
    _publish_analysis(home)
    return home


def _publish_analysis(home: Path) -> None:
    """A small published analysis: 48 hours of bitcoin sentiment beside its prices."""
    hours = pd.date_range("2026-03-01", periods=48, freq="h")
    sentiment = np.sin(np.arange(48) / 5)
    aggregates = pd.DataFrame(
        {
            "topic": "bitcoin",
            "freq": "hour",
            "ts": hours,
            "sentiment": sentiment,
            "posts": 10,
            "negative": 3,
            "neutral": 4,
            "positive": 3,
        }
    )
    series = aggregates[["ts", "sentiment", "posts"]].assign(
        coin_id="bitcoin", topic="bitcoin", freq="hour", price_usd=100 + np.arange(48.0)
    )
    series["return"] = np.log(series["price_usd"]).diff()
    stats = correlation_stats(series).assign(
        coin_id="bitcoin",
        topic="bitcoin",
        freq="hour",
        window_start=hours[0],
        window_end=hours[-1],
        model_version="v1",
        computed_at=hours[-1],
    )
    publish(home, aggregates, series, stats[CORRELATION_COLUMNS], "v1")


@pytest.fixture(scope="module")
def services(home: Path, tmp_path_factory: pytest.TempPathFactory):
    """Both services started by `bentoml serve` on free ports; name -> URL."""
    logs = tmp_path_factory.mktemp("service-logs")
    procs, urls = [], {}
    try:
        for name in ("forecast", "sentiment"):
            proc, url = start_service(name, home, logs / f"{name}.log", port=free_port())
            procs.append(proc)
            urls[name] = url
        yield urls
    finally:
        for proc in procs:
            stop(proc)


def _post(url: str, body) -> requests.Response:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return requests.post(url, data=data, headers={"Content-Type": "application/json"}, timeout=60)


# -- registration -----------------------------------------------------------------------------
def test_forecast_bundle_holds_every_coins_latest_model_and_is_not_stored_twice(home):
    tag = forecast_registry.register_bentoml(home)
    assert forecast_registry.register_bentoml(home) == tag
    import bentoml

    stored = bentoml.models.get(tag)
    assert stored.info.metadata["models"] == {c: f"v-{c}" for c in COINS}
    assert stored.info.labels == {"kind": "forecast"}
    models = forecast_registry.load_bundle(Path(stored.path), stored.info.metadata["models"])
    assert {c: m.version for c, m in models.items()} == {c: f"v-{c}" for c in COINS}


def test_a_new_coin_model_makes_a_new_bundle_with_all_coins(tmp_path):
    for coin in ("solana", "cardano"):
        prices = _prices(coin, days=320, seed=3)
        pm.save(pm.train(coin, prices, SMALL, version=f"w-{coin}", horizon=HORIZON), tmp_path)
        tag = forecast_registry.register_bentoml(tmp_path)
    import bentoml

    assert bentoml.models.get(tag).info.metadata["models"] == {
        "cardano": "w-cardano",
        "solana": "w-solana",
    }


def test_registering_with_no_trained_model_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="no forecast model is trained"):
        forecast_registry.register_bentoml(tmp_path)


def test_sentiment_model_in_the_store_carries_its_encoder_and_answers_the_same(home):
    import bentoml

    tag = sentiment_registry.register_active(home)
    stored = bentoml.models.get(tag)
    assert (Path(stored.path) / "encoder" / sentiment_registry.ENCODER_GRAPH).exists()
    assert stored.info.metadata["macro_recall"] > 0.6
    served = sentiment_registry.Classifier.from_bento(Path(stored.path))
    local = sentiment_registry.Classifier.load(home)
    assert served.version == local.version
    assert served.classify(TEXTS) == local.classify(TEXTS)


def test_a_text_gets_the_same_answer_alone_or_in_any_batch(home):
    classifier = sentiment_registry.Classifier.load(home)
    together = classifier.classify(TEXTS)
    alone = [classifier.classify([t])[0] for t in TEXTS]
    reversed_batch = classifier.classify(TEXTS[::-1])[::-1]
    assert together == alone == reversed_batch


# -- forecast logic in process ----------------------------------------------------------------
@pytest.fixture
def server(home: Path) -> ForecastServer:
    models = {c: pm.load(home, c) for c in COINS}
    return ForecastServer(models, Database(home / "ecoin.duckdb"), refresh_seconds=0)


def test_forecast_matches_the_cli_path_and_slices_by_horizon(server, home):
    db = Database(home / "ecoin.duckdb")
    for coin in COINS:
        _, points = predict(db, home, coin, HORIZON)
        answer = server.forecast(coin, HORIZON)
        assert answer["model_version"] == f"v-{coin}"
        assert [p["date"] for p in answer["points"]] == [d.isoformat() for d in points["date"]]
        for key in ("yhat", "yhat_lower", "yhat_upper"):
            assert [p[key] for p in answer["points"]] == list(points[key])
        assert server.forecast(coin, 3)["points"] == answer["points"][:3]
        assert answer["last_price_date"] == (date.today() - timedelta(days=1)).isoformat()


def test_forecast_errors(server):
    with pytest.raises(UnknownCoinError, match="no forecast model for coin 'dogecoin'"):
        server.forecast("dogecoin", 3)
    with pytest.raises(UserError, match="outside 1-30"):
        server.forecast("bitcoin", 31)
    with pytest.raises(UserError, match="forecasts up to 7 days"):
        server.forecast("bitcoin", 8)


def test_a_new_price_gives_a_new_forecast(tmp_path, home):
    db = Database(tmp_path / "ecoin.duckdb")
    prices = _prices("bitcoin")
    store_prices(db, prices.iloc[:-1])
    server = ForecastServer({"bitcoin": pm.load(home, "bitcoin")}, db, refresh_seconds=0)
    before = server.forecast("bitcoin", 2)
    assert before["last_price_date"] == str(prices["date"].iloc[-2])
    assert server.forecast("bitcoin", 2)["generated_at"] == before["generated_at"]
    store_prices(db, prices.iloc[-1:])
    after = server.forecast("bitcoin", 2)
    assert after["last_price_date"] == str(prices["date"].iloc[-1])
    assert after["points"][0]["date"] == before["points"][1]["date"]


def test_busy_or_missing_database(tmp_path, home, monkeypatch):
    db = Database(tmp_path / "missing.duckdb")
    server = ForecastServer({"bitcoin": pm.load(home, "bitcoin")}, db, refresh_seconds=0)
    with pytest.raises(NotReadyError, match="does not exist yet"):
        server.forecast("bitcoin", 1)
    assert not db.path.exists()  # the service never creates the pipeline's database

    db = Database(home / "ecoin.duckdb")
    server = ForecastServer({"bitcoin": pm.load(home, "bitcoin")}, db, refresh_seconds=0)
    served = server.forecast("bitcoin", 3)

    def busy(*_args, **_kwargs):
        raise UserError("the database stayed busy")

    monkeypatch.setattr(db, "query_df", busy)
    assert server.forecast("bitcoin", 3) == served  # the last forecast while busy
    with pytest.raises(NotReadyError, match="busy"):
        ForecastServer({"bitcoin": pm.load(home, "bitcoin")}, db).forecast("bitcoin", 3)


def test_coins_list_models_and_latest_backtests(server):
    coins = {c["coin"]: c for c in server.coins()}
    assert set(coins) == set(COINS)
    assert coins["bitcoin"]["max_horizon"] == HORIZON
    assert coins["bitcoin"]["backtest"] == [
        {
            "horizon": 7,
            "n_origins": 60,
            "mae": 3.5,
            "mape": 2.1,
            "naive_mae": 3.9,
            "mase": 0.9,
            "interval": 0.8,
            "coverage": 0.81,
            "test_start": "2026-01-01",
            "test_end": "2026-03-01",
        }
    ]
    assert coins["ethereum"]["backtest"] == []


# -- over HTTP --------------------------------------------------------------------------------
@pytest.mark.slow
def test_forecast_service_answers_like_the_cli(services, home):
    db = Database(home / "ecoin.duckdb")
    for coin in COINS:
        model, points = predict(db, home, coin, 5)
        response = _post(f"{services['forecast']}/forecast", {"coin": coin, "horizon": 5})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["coin"] == coin and body["model_version"] == model.version
        assert [p["yhat"] for p in body["points"]] == pytest.approx(list(points["yhat"]))
        assert [p["yhat_upper"] for p in body["points"]] == pytest.approx(
            list(points["yhat_upper"])
        )
    coins = _post(f"{services['forecast']}/coins", {}).json()
    assert [c["coin"] for c in coins] == list(COINS)
    assert coins[0]["backtest"][0]["mase"] == 0.9


@pytest.mark.slow
def test_sentiment_service_answers_like_the_cli_and_batches_concurrent_requests(services, home):
    url = f"{services['sentiment']}/classify"
    expected = sentiment_registry.Classifier.load(home).classify(TEXTS)
    body = _post(url, {"texts": TEXTS}).json()
    assert [
        {k: r[k] for k in ("label", "p_negative", "p_neutral", "p_positive")} for r in body
    ] == [p.as_dict() for p in expected]
    assert {r["model_version"] for r in body} == {sentiment_registry.active_version(home)}

    texts = [f"{TEXTS[i % 4]} #{i}" for i in range(48)]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda t: _post(url, {"texts": [t]}), texts))
    assert all(a.status_code == 200 for a in answers)
    singles = [a.json()[0] for a in answers]
    together = _post(url, {"texts": texts}).json()
    assert singles == together  # batching never changes an answer
    metrics = requests.get(f"{services['sentiment']}/metrics", timeout=10).text
    batches = [
        line
        for line in metrics.splitlines()
        if line.startswith("bentoml_service_adaptive_batch_size_count")
    ]
    assert batches, "no adaptive batching metric"
    assert sum(float(line.split()[-1]) for line in batches) < 48 + 2  # merged into batches

    info = _post(f"{services['sentiment']}/model", {}).json()
    assert info["model_version"] == sentiment_registry.active_version(home)
    assert info["max_texts"] == 1000


def test_the_stream_service_can_score_through_the_sentiment_service(services, home):
    from ecoin_assets.cleaning import clean_text
    from ecoin_assets.errors import SourceError
    from ecoin_assets.sentiment.remote import RemoteClassifier

    remote = RemoteClassifier(services["sentiment"])
    local = sentiment_registry.Classifier.load(home)
    assert remote.version == local.version
    clean = [clean_text(t) for t in TEXTS]
    assert remote.classify(clean, clean=True) == local.classify(clean, clean=True)
    with pytest.raises(SourceError, match="unavailable"):
        RemoteClassifier(f"http://127.0.0.1:{free_port()}", attempts=1)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("service", "path", "body", "status", "needle"),
    [
        ("forecast", "forecast", {"coin": "dogecoin", "horizon": 3}, 404, "no forecast model"),
        ("forecast", "forecast", {"coin": "bitcoin", "horizon": 0}, 400, "greater than or equal"),
        ("forecast", "forecast", {"coin": "bitcoin", "horizon": 31}, 400, "less than or equal"),
        ("forecast", "forecast", {"coin": "bitcoin", "horizon": 20}, 400, "up to 7 days"),
        ("forecast", "forecast", {"coin": "bitcoin"}, 400, "missing"),
        ("forecast", "forecast", {"coin": "", "horizon": 3}, 400, "at least 1 character"),
        ("forecast", "forecast", '{"coin": "bitcoin", ', 400, "json_invalid"),
        ("sentiment", "classify", {"texts": []}, 400, "at least 1 item"),
        ("sentiment", "classify", {"texts": ["a"] * 1001}, 400, "at most 1000 items"),
        ("sentiment", "classify", {"texts": ["x" * 10_001]}, 400, "at most 10000 characters"),
        ("sentiment", "classify", {"texts": [""]}, 400, "at least 1 character"),
        ("sentiment", "classify", {"texts": [42]}, 400, "valid string"),
        ("sentiment", "classify", {"text": "hello"}, 400, "missing"),
        ("sentiment", "classify", "not json", 400, "json_invalid"),
        ("sentiment", "classify", [1, 2], 400, "object"),
        ("sentiment", "aggregates", {"topic": "nope"}, 404, "no topic 'nope'"),
        ("sentiment", "aggregates", {"topic": "bitcoin", "freq": "week"}, 400, "'hour'"),
        (
            "sentiment",
            "aggregates",
            {"topic": "bitcoin", "start": "2026-03-02", "end": "2026-03-01"},
            400,
            "is empty",
        ),
        ("sentiment", "aggregates", {"topic": "bitcoin", "start": "yesterday"}, 400, "datetime"),
        ("sentiment", "series", {"coin": "ethereum", "topic": "bitcoin"}, 404, "no series"),
        (
            "sentiment",
            "correlation",
            {"coin": "bitcoin", "topic": "bitcoin", "freq": "day"},
            404,
            "correlation of bitcoin",
        ),
    ],
)
def test_bad_input_is_a_4xx_with_a_json_reason(services, service, path, body, status, needle):
    response = _post(f"{services[service]}/{path}", body)
    assert response.status_code == status, response.text
    assert needle in json.dumps(response.json())
    assert "error" in response.json()


@pytest.mark.slow
def test_published_analysis_endpoints_filter_by_window(services):
    url = services["sentiment"]
    day = _post(
        f"{url}/aggregates",
        {"topic": "bitcoin", "start": "2026-03-02T00:00:00Z", "end": "2026-03-02T06:00:00+00:00"},
    )
    assert day.status_code == 200, day.text
    body = day.json()
    assert body["model_version"] == "v1" and body["freq"] == "hour"
    assert [p["ts"] for p in body["points"]] == [f"2026-03-02T0{h}:00:00" for h in range(6)]
    assert body["points"][0]["posts"] == 10
    everything = _post(f"{url}/series", {"coin": "bitcoin", "topic": "bitcoin"}).json()
    assert len(everything["points"]) == 48
    assert everything["points"][0]["log_return"] is None
    assert everything["points"][1]["price_usd"] == 101.0
    assert everything["points"][1]["log_return"] == pytest.approx(math.log(101 / 100))
    rows = _post(f"{url}/correlation", {"coin": "bitcoin", "topic": "bitcoin"}).json()["rows"]
    assert len(rows) == 28
    assert {(r["lag"], r["against"], r["method"]) for r in rows} >= {(0, "return", "pearson")}


def test_no_published_analysis_is_not_ready(tmp_path):
    from ecoin_assets.serving.analysis import PublishedAnalysis

    with pytest.raises(NotReadyError, match="no analysis published yet"):
        PublishedAnalysis(tmp_path).aggregates("bitcoin", "hour", None, None)


@pytest.mark.slow
def test_a_full_batch_of_1000_texts_and_whitespace_only_texts(services):
    body = _post(
        f"{services['sentiment']}/classify", {"texts": ["   ", "🚀"] + [TEXTS[0]] * 998}
    ).json()
    assert len(body) == 1000
    assert {r["label"] for r in body[2:]} == {body[2]["label"]}


@pytest.mark.slow
def test_health_docs_and_metrics(services):
    for name, url in services.items():
        for probe in ("livez", "readyz", "healthz"):
            assert requests.get(f"{url}/{probe}", timeout=10).status_code == 200
        schema = requests.get(f"{url}/docs.json", timeout=10).json()
        routes = {
            "forecast": {"/forecast", "/coins"},
            "sentiment": {"/classify", "/model", "/aggregates", "/series", "/correlation"},
        }
        assert routes[name] <= set(schema["paths"])
        assert "swagger" in requests.get(f"{url}/", timeout=10).text.lower()  # the docs UI
        assert "bentoml_service_request_total" in requests.get(f"{url}/metrics", timeout=10).text


@pytest.mark.slow
@pytest.mark.parametrize("name", ["forecast", "sentiment"])
def test_fuzzing_the_openapi_schema_finds_no_server_error(services, name, tmp_path):
    url = services[name]
    no_server_errors(f"{url}/docs.json", url, tmp_path, "--request-timeout", "60")


@pytest.mark.slow
def test_bentos_build_offline_with_their_models(home):
    import bentoml

    for name, model in (("forecast", "ecoin-forecast"), ("sentiment", "ecoin-sentiment")):
        bento = bentoml.bentos.get(build_bento(name, home))
        assert bento.info.labels == {"project": "ecoin", "service": name}
        tags = [str(m.tag) for s in bento.info.services for m in s.models]
        assert len(tags) == 1 and tags[0].startswith(model + ":")
        requirements = (Path(bento.path) / "env" / "python" / "requirements.txt").read_text()
        assert "bentoml==1.4." in requirements
        assert ("torch==2.13.0" in requirements) == (name == "forecast")


def test_service_requirements_are_current():
    done = subprocess.run(
        [sys.executable, "-m", "bentos.requirements", "--check"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "media", ["multipart/form-data", "text/plain", "application/x-www-form-urlencoded"]
)
def test_a_body_that_is_not_json_is_a_415(services, media):
    for url in (f"{services['forecast']}/coins", f"{services['sentiment']}/classify"):
        response = requests.post(url, data=b'{"texts": ["hi"]}', headers={"Content-Type": media})
        assert response.status_code == 415
        assert "send application/json" in response.json()["error"]
