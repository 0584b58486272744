"""The forecast service: `POST /forecast` and `POST /coins` over the `ecoin-forecast` model.

Serve with `BENTOML_HOME=$ECOIN_HOME/bentoml bentoml serve bentos.forecast.service:Forecast`
(or `ecoin serve forecast`). Forecasts start from the latest prices in `$ECOIN_HOME`'s DuckDB.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Annotated

import bentoml
from pydantic import BaseModel, Field

from ecoin_assets.config import load_settings
from ecoin_assets.forecasting.model import MAX_HORIZON
from ecoin_assets.forecasting.registry import BENTO_MODEL_NAME, load_bundle
from ecoin_assets.serving.forecasts import ForecastServer
from ecoin_assets.serving.http import JsonBodiesOnly, JsonList, answer_or_error
from ecoin_assets.serving.launch import SERVICES
from ecoin_assets.storage import Database

CoinId = Annotated[
    str,
    Field(min_length=1, max_length=100, description="CoinGecko coin id", examples=["bitcoin"]),
]


class ForecastPoint(BaseModel):
    date: str = Field(description="Day forecast (UTC, YYYY-MM-DD)")
    yhat: float = Field(description="Forecast price in USD")
    yhat_lower: float = Field(description="Lower bound of the prediction interval, USD")
    yhat_upper: float = Field(description="Upper bound of the prediction interval, USD")


class ForecastResponse(BaseModel):
    coin: str
    model_version: str
    generated_at: str = Field(description="When this forecast was computed (UTC, ISO 8601)")
    interval: float = Field(description="Nominal coverage of the interval, e.g. 0.8")
    last_price_date: str = Field(description="The last stored price the forecast starts from")
    points: list[ForecastPoint]


class BacktestScore(BaseModel):
    horizon: int
    n_origins: int
    mae: float
    mape: float
    naive_mae: float
    mase: float | None
    interval: float
    coverage: float
    test_start: str
    test_end: str


class CoinModel(BaseModel):
    coin: str
    model_version: str
    trained_to: str
    calibrated_to: str
    max_horizon: int
    interval: float
    backtest: list[BacktestScore] = Field(description="The latest rolling-origin backtest")


# `concurrency`: the requests in flight one replica serves within the latency target (cached
# forecasts, benchmarks/serving_bench.py); BentoCloud's autoscaler adds replicas above it
@bentoml.service(name="ecoin-forecast", workers=1, traffic={"timeout": 60, "concurrency": 32})
class Forecast:
    bundle = bentoml.models.BentoModel(
        os.environ.get(SERVICES["forecast"].model_env) or f"{BENTO_MODEL_NAME}:latest"
    )

    def __init__(self) -> None:
        settings = load_settings()
        stored = self.bundle  # the resolved stored model
        models = load_bundle(Path(stored.path), stored.info.metadata["models"])
        self.server = ForecastServer(models, Database.from_settings(settings, open_timeout=3))
        self.server.warm()
        gc.freeze()  # keep the loaded model out of garbage collection passes (latency)

    @bentoml.api
    def forecast(
        self,
        coin: CoinId,
        horizon: Annotated[int, Field(ge=1, le=MAX_HORIZON, description="Days ahead")],
    ) -> ForecastResponse:
        """The coin's price for the next `horizon` days with its prediction interval."""
        return answer_or_error(lambda: ForecastResponse(**self.server.forecast(coin, horizon)))

    @bentoml.api
    def coins(self) -> JsonList[CoinModel]:
        """The coins with a model, their model versions and latest backtest scores."""
        return [CoinModel(**c) for c in self.server.coins()]


Forecast.add_asgi_middleware(JsonBodiesOnly)
