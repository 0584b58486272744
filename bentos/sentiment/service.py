"""The sentiment service: `POST /classify` over the `ecoin-sentiment` model, batched.

Serve with `BENTOML_HOME=$ECOIN_HOME/bentoml bentoml serve bentos.sentiment.service:Sentiment`
(or `ecoin serve sentiment`). Concurrent requests are merged by BentoML's adaptive batching
into one model call; a request of many texts is split into batches of at most MAX_BATCH.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Annotated, Literal

import bentoml
from pydantic import BaseModel, Field

from ecoin_assets.sentiment.registry import BENTO_MODEL_NAME, Classifier
from ecoin_assets.serving.http import JsonBodiesOnly
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


@bentoml.service(
    name="ecoin-sentiment",
    workers=WORKERS,
    traffic={"timeout": 60},
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
        gc.freeze()  # keep the loaded model out of garbage collection passes (latency)

    @bentoml.api(batchable=True, max_batch_size=MAX_BATCH, max_latency_ms=20_000)
    def classify(
        self,
        texts: Annotated[list[Text], Field(min_length=1, max_length=MAX_TEXTS)],
    ) -> list[Classification]:
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


Sentiment.add_asgi_middleware(JsonBodiesOnly)
