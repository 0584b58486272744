"""Scoring through the BentoML sentiment service (`ECOIN_SENTIMENT_URL`) instead of in-process,
so that scoring scales out with the model-serving tier. Same interface as
`registry.Classifier` where the ingestion uses it: `version` and `classify(texts, clean=...)`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import requests

from ecoin_assets.errors import SourceError
from ecoin_assets.sentiment.registry import Prediction


class RemoteClassifier:
    def __init__(self, url: str, attempts: int = 4, timeout: float = 30.0):
        self.url = url.rstrip("/")
        self.attempts, self.timeout = attempts, timeout
        self.session = requests.Session()
        info = self._post("/model", {})
        self.version, self.max_texts = info["model_version"], int(info["max_texts"])

    def classify(self, texts: Sequence[str], clean: bool = False) -> list[Prediction]:
        """Labels and probabilities from the service (which cleans texts itself; cleaning a
        clean text again leaves it as it is)."""
        out: list[Prediction] = []
        for start in range(0, len(texts), self.max_texts):
            chunk = list(texts[start : start + self.max_texts])
            answers = self._post("/classify", {"texts": chunk})
            for a in answers:
                self.version = a["model_version"]
                out.append(Prediction(a["label"], a["p_negative"], a["p_neutral"], a["p_positive"]))
        return out

    def _post(self, path: str, body: dict):
        for attempt in range(1, self.attempts + 1):
            try:
                response = self.session.post(self.url + path, json=body, timeout=self.timeout)
                if response.status_code < 500:
                    if response.status_code >= 400:
                        raise SourceError(
                            f"the sentiment service at {self.url} refused {path}: "
                            f"HTTP {response.status_code} {response.text[:200]}"
                        )
                    return response.json()
                reason = f"HTTP {response.status_code}"
            except (requests.RequestException, ValueError) as exc:
                reason = type(exc).__name__
            if attempt < self.attempts:
                time.sleep(0.5 * 2 ** (attempt - 1))
        raise SourceError(
            f"the sentiment service at {self.url} is unavailable ({reason} after "
            f"{self.attempts} attempts); check ECOIN_SENTIMENT_URL"
        )
