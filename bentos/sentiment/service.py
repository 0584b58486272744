"""The sentiment service: `POST /classify` over the `ecoin-sentiment` model, batched, and the
published analysis for other teams: `POST /aggregates`, `POST /series`, `POST /correlation`.

Serve with `BENTOML_HOME=$ECOIN_HOME/bentoml bentoml serve bentos.sentiment.service:Sentiment`
(or `ecoin serve sentiment`). Concurrent requests are merged by BentoML's adaptive batching
into one model call (without BentoML's idle wait: `serving/batching.py`); a request of many
texts is split into batches of at most MAX_BATCH.
"""

from __future__ import annotations

import gc
import os
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

import bentoml
from pydantic import BaseModel, Field

from ecoin_assets.config import load_settings
from ecoin_assets.sentiment.registry import BENTO_MODEL_NAME, Classifier
from ecoin_assets.serving.analysis import PublishedAnalysis
from ecoin_assets.serving.batching import release_when_idle
from ecoin_assets.serving.http import JsonBodiesOnly, JsonList, answer_or_error
from ecoin_assets.serving.launch import SERVICES

MAX_TEXTS = 1000
MAX_CHARS = 10_000  # X allows long posts; the encoder reads the first 128 tokens
MAX_BATCH = 8  # small batches keep the tail short on one core per worker (measured)
# Worker processes, each running the encoder on one thread: HTTP handling in one overlaps
# with the model in another (one process alternates between them: -20% throughput on 2 cores).
WORKERS = int(os.environ.get("ECOIN_SENTIMENT_WORKERS", min(4, len(os.sched_getaffinity(0)))))

Text = Annotated[str, Field(min_length=1, max_length=MAX_CHARS)]


class Classification(BaseModel):
    label: Literal["negative", "neutral", "positive"]
    p_negative: float = Field(ge=0, le=1)
    p_neutral: float = Field(ge=0, le=1)
    p_positive: float = Field(ge=0, le=1)
    model_version: str


class ModelInfo(BaseModel):
    model_version: str
    bentoml_tag: str
    labels: list[str]
    metrics: dict[str, float] = Field(description="Evaluation scores stored with the model")
    max_texts: int
    max_chars: int


Name = Annotated[str, Field(min_length=1, max_length=200)]
Freq = Annotated[Literal["hour", "day"], Field(description="Period of the series")]
Start = Annotated[
    datetime | None, Field(description="First period start, ISO 8601 (UTC when no offset)")
]
End = Annotated[datetime | None, Field(description="Periods before this instant (exclusive)")]


class Published(BaseModel):
    published_at: str = Field(description="When the pipeline published the analysis (UTC)")
    model_version: str
    freq: Literal["hour", "day"]


class AggregatePoint(BaseModel):
    ts: str
    sentiment: float | None
    posts: int
    negative: int
    neutral: int
    positive: int


class Aggregates(Published):
    topic: str
    points: list[AggregatePoint]


class SeriesPoint(BaseModel):
    ts: str
    sentiment: float | None
    posts: int | None
    price_usd: float | None = Field(description="Price known at the period's end")
    log_return: float | None = Field(description="Log change of the price from the period before")


class Series(Published):
    coin: str
    topic: str
    points: list[SeriesPoint]


class CorrelationRow(BaseModel):
    lag: int = Field(description="Sentiment of period t against price or return of t + lag")
    against: Literal["price", "return"]
    method: Literal["pearson", "spearman"]
    r: float | None
    p_value: float | None
    n: int
    window_start: str
    window_end: str
    computed_at: str


class Correlation(Published):
    coin: str
    topic: str
    rows: list[CorrelationRow]


@bentoml.service(
    name="ecoin-sentiment",
    workers=WORKERS,
    # `concurrency`: the requests in flight one replica (2 CPUs) serves within the latency
    # target, measured with benchmarks/serving_bench.py; BentoCloud's autoscaler adds replicas
    # above it (BentoML itself does not cap requests with it)
    traffic={"timeout": 60, "concurrency": 16},
    logging={"access": {"enabled": False}},  # a log line per text costs throughput
)
class Sentiment:
    stored_model = bentoml.models.BentoModel(
        os.environ.get(SERVICES["sentiment"].model_env) or f"{BENTO_MODEL_NAME}:latest"
    )

    def __init__(self) -> None:
        stored = self.stored_model
        self.tag = str(stored.tag)
        self.metadata = dict(stored.info.metadata)
        self.classifier = Classifier.from_bento(Path(stored.path), threads=1)  # a core a worker
        self.classifier.classify(["warm up the encoder"])
        self.analysis = PublishedAnalysis(load_settings().home)
        release_when_idle()  # batch what queues while a batch runs; never hold one back idle
        gc.freeze()  # keep the loaded model out of garbage collection passes (latency)

    @bentoml.api(batchable=True, max_batch_size=MAX_BATCH, max_latency_ms=20_000)
    def classify(
        self,
        texts: Annotated[list[Text], Field(min_length=1, max_length=MAX_TEXTS)],
    ) -> JsonList[Classification]:
        """Label each text negative, neutral or positive, with the three probabilities."""
        version = self.classifier.version
        return [
            Classification(**p.as_dict(), model_version=version)
            for p in self.classifier.classify(texts)
        ]

    @bentoml.api
    def model(self) -> ModelInfo:
        """The served model: version, BentoML tag, evaluation scores and request limits."""
        return ModelInfo(
            model_version=self.classifier.version,
            bentoml_tag=self.tag,
            labels=["negative", "neutral", "positive"],
            metrics={k: float(v) for k, v in self.metadata.items() if isinstance(v, int | float)},
            max_texts=MAX_TEXTS,
            max_chars=MAX_CHARS,
        )

    @bentoml.api
    def aggregates(
        self, topic: Name, freq: Freq = "hour", start: Start = None, end: End = None
    ) -> Aggregates:
        """The topic's sentiment per hour or day (mean, posts, label counts), as published."""
        return answer_or_error(
            lambda: Aggregates(**self.analysis.aggregates(topic, freq, start, end))
        )

    @bentoml.api
    def series(
        self,
        coin: Name,
        topic: Name,
        freq: Freq = "hour",
        start: Start = None,
        end: End = None,
    ) -> Series:
        """Sentiment per period beside the price known at its end and its log return."""
        return answer_or_error(
            lambda: Series(**self.analysis.series(coin, topic, freq, start, end))
        )

    @bentoml.api
    def correlation(self, coin: Name, topic: Name, freq: Freq = "hour") -> Correlation:
        """Pearson and Spearman correlation of the sentiment with price and returns, lags
        -3..+3, with p-values and pairs, as published."""
        return answer_or_error(lambda: Correlation(**self.analysis.correlation(coin, topic, freq)))


Sentiment.add_asgi_middleware(JsonBodiesOnly)
