"""Two simple baselines the model is measured against (`benchmarks/sentiment_bench.py`).

- VADER (`vaderSentiment`): a rule-based lexicon scorer with no training, on the raw post
  (it reads capitals, punctuation and emoji itself); compound >= 0.05 is positive, <= -0.05
  negative, otherwise neutral (VADER's documented thresholds).
- TF-IDF + logistic regression: word 1-2-grams of the clean text, balanced class weights.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ecoin_assets.cleaning import clean_text

VADER_THRESHOLD = 0.05


class VaderBaseline:
    name = "vader"

    def __init__(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._analyzer = SentimentIntensityAnalyzer()

    def fit(self, texts: Sequence[str], labels: Sequence[int]) -> VaderBaseline:
        return self  # nothing to learn

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """VADER's neg, neu and pos scores per text (n, 3): its polarity, for comparisons."""
        rows = (self._analyzer.polarity_scores(t) for t in texts)
        return np.array([[r["neg"], r["neu"], r["pos"]] for r in rows]).reshape(len(texts), 3)

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        compound = np.array([self._analyzer.polarity_scores(t)["compound"] for t in texts])
        return np.where(
            compound >= VADER_THRESHOLD, 2, np.where(compound <= -VADER_THRESHOLD, 0, 1)
        )


class TfidfBaseline:
    name = "tfidf-logreg"

    def __init__(self, c: float = 1.0) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self._vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        self._classifier = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")

    def fit(self, texts: Sequence[str], labels: Sequence[int]) -> TfidfBaseline:
        features = self._vectorizer.fit_transform([clean_text(t) for t in texts])
        self._classifier.fit(features, np.asarray(labels))
        return self

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        features = self._vectorizer.transform([clean_text(t) for t in texts])
        return self._classifier.predict(features)
