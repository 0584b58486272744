"""The sentiment model: one multinomial logistic regression over three feature blocks of the
clean post (the same cleaning as ingestion, `cleaning.clean_text`):

1. a MiniLM sentence embedding, 384 values: from the shared encoder (`encoder.py`: 3 of its
   6 layers, frozen) for `ecoin sentiment train`, or from the model's own encoder, MiniLM's
   first layer fine-tuned for crypto-aware sentiment (`finetune.py`; the bundled model), kept
   in its folder as `encoder.onnx` (`graph`);
2. word 1-2-grams hashed into 2**17 buckets with sublinear TF-IDF weights: a vocabulary-free
   TF-IDF, so the saved model holds numbers only (no word list, no pickle);
3. VADER's lexicon scores (negative, neutral, positive, compound), 4 values, with crypto slang
   added to its lexicon (`crypto_lexicon.py`) for models trained since 2026-12-02.

Classes are weighted inversely to their frequency, since the official metric (macro-averaged
recall) weighs the rare negative class as much as the others. Posts tagged bullish or bearish by
their authors (the bundled model's crypto posts) can be added as evidence of polarity only: they
pull the positive and negative scores apart and say nothing for or against neutral; and, with
the untagged posts of the same source, as weak evidence of stance: whether a post was tagged at
all (`fit_regression`). Every training post can also count a second time as a stripped source
delivers it (`train`'s `stripped_weight`). On TweetEval's validation split
this reaches about 0.715 macro-recall (0.72 with all 6 encoder layers; 0.66 with TF-IDF alone).

A saved model is a folder with `weights.npz` (float16 coefficients, IDF weights),
`model.json` (version, encoder, training data, metrics) and its own `encoder.onnx` if it has
one; loading executes no code.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ecoin_assets.cleaning import clean_text, strip_text
from ecoin_assets.errors import Remedy, UserError
from ecoin_assets.sentiment.crypto_data import (
    TAG_RATE_NEUTRAL,
    TAG_RATE_STANCE,
    TaggedPosts,
    UntaggedPosts,
)
from ecoin_assets.sentiment.crypto_lexicon import CRYPTO_LEXICON
from ecoin_assets.sentiment.data import LABELS, LabelledSet
from ecoin_assets.sentiment.encoder import EMBEDDING_DIM, SentenceEncoder

HASH_BITS = 17
TOKEN_PATTERN = r"(?u)\b\w+\b|[!?]"  # words, and the marks that carry tone
REGULARIZATION_C = 1.0
VADER_FEATURES = 4
OWN_GRAPH = "encoder.onnx"  # a fine-tuned model's encoder, in its folder


def _hasher():
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        n_features=2**HASH_BITS,
        ngram_range=(1, 2),
        token_pattern=TOKEN_PATTERN,
        alternate_sign=False,
        norm=None,
        lowercase=False,  # clean text is lowercase already
    )


def _idf(counts: sp.csr_matrix) -> np.ndarray:
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    return (np.log((1 + n) / (1 + df)) + 1).astype(np.float32)


def _tfidf(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """Sublinear TF times IDF, each row L2-normalized (computed on the CSR arrays directly)."""
    data = (np.log(counts.data.astype(np.float32)) + 1) * idf[counts.indices]
    row_of = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
    norms = np.sqrt(np.bincount(row_of, weights=data * data, minlength=counts.shape[0]))
    data /= np.clip(norms, 1e-12, None).astype(np.float32)[row_of]
    return sp.csr_matrix((data, counts.indices, counts.indptr), shape=counts.shape)


LEXICONS = ("vader", "vader+crypto")  # VADER alone (models before 2026-12-02), or with slang


class _Vader:
    _analyzers: dict = {}

    @classmethod
    def scores(cls, texts: Sequence[str], lexicon: str = "vader") -> np.ndarray:
        analyzer = cls._analyzers.get(lexicon)
        if analyzer is None:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            if lexicon not in LEXICONS:
                raise UserError(f"unknown sentiment lexicon {lexicon!r}: retrain the model")
            analyzer = SentimentIntensityAnalyzer()
            if lexicon == "vader+crypto":
                analyzer.lexicon.update(CRYPTO_LEXICON)
            cls._analyzers[lexicon] = analyzer
        rows = (analyzer.polarity_scores(t) for t in texts)
        return np.array(
            [[r["neg"], r["neu"], r["pos"], r["compound"]] for r in rows], dtype=np.float32
        ).reshape(len(texts), VADER_FEATURES)


def featurize(
    clean_texts: Sequence[str], encoder: SentenceEncoder, idf: np.ndarray, lexicon: str
) -> sp.csr_matrix:
    """The feature matrix of clean texts: [embedding | hashed TF-IDF | VADER]."""
    counts = _hasher().transform(clean_texts).tocsr()
    return sp.hstack(
        [
            sp.csr_matrix(encoder.encode(clean_texts)),
            _tfidf(counts, idf),
            sp.csr_matrix(_Vader.scores(clean_texts, lexicon)),
        ],
        format="csr",
    )


@dataclass
class SentimentModel:
    version: str
    encoder_id: str
    coef: np.ndarray  # (3, features)
    intercept: np.ndarray  # (3,)
    idf: np.ndarray  # (2**HASH_BITS,)
    meta: dict = field(default_factory=dict)
    graph: Path | None = None  # the model's own encoder graph (a fine-tuned encoder)

    def __post_init__(self) -> None:
        # each block's weights (features, 3) in float64, contiguous: a one-post call multiplies
        # them in place (a strided view would be copied, 3 MB for the TF-IDF block, every call)
        coef, dim = np.asarray(self.coef, dtype=np.float64), EMBEDDING_DIM
        self._weights = tuple(
            np.ascontiguousarray(block.T)
            for block in (coef[:, :dim], coef[:, dim:-VADER_FEATURES], coef[:, -VADER_FEATURES:])
        )

    @property
    def lexicon(self) -> str:
        """The lexicon of its VADER features (models without the entry used VADER's alone)."""
        return self.meta.get("features", {}).get("lexicon", "vader")

    def predict_proba_clean(self, clean_texts: Sequence[str], encoder: SentenceEncoder):
        """Probabilities (n, 3) of negative, neutral, positive for already-clean texts."""
        if not clean_texts:
            return np.zeros((0, len(LABELS)), dtype=np.float32)
        if encoder.identity != self.encoder_id:
            raise UserError(
                f"model {self.version} was trained with encoder {self.encoder_id}, "
                f"not {encoder.identity}",
                remedy=Remedy.TRAIN_SENTIMENT,
            )
        # featurize(...) @ coef.T without assembling the feature matrix, so that a text's
        # probabilities do not depend on how many texts share the call: the dense blocks go
        # row by row through the same product (BLAS sums a matrix product in an order that
        # depends on its number of rows), the sparse one is a product per row already
        embedding_weights, tfidf_weights, lexicon_weights = self._weights
        embeddings = encoder.encode_later(clean_texts)  # on worker threads, while we go on
        tfidf = _tfidf(_hasher().transform(clean_texts).tocsr(), self.idf).astype(np.float64)
        lexicon = _Vader.scores(clean_texts, self.lexicon).astype(np.float64)
        logits = (
            _rowwise(embeddings().astype(np.float64), embedding_weights)
            + tfidf @ tfidf_weights
            + _rowwise(lexicon, lexicon_weights)
            + self.intercept
        )
        return _softmax(logits)

    def predict_proba(self, texts: Sequence[str], encoder: SentenceEncoder) -> np.ndarray:
        """Probabilities for raw posts (cleaned exactly as ingestion cleans them)."""
        return self.predict_proba_clean([clean_text(t) for t in texts], encoder)


def _softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax (shifted by each row's maximum, so that exp cannot overflow)."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _rowwise(rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """rows @ weights, each row through the same (1, d) @ (d, k) product whatever their number."""
    return np.matmul(rows[:, None, :], weights)[:, 0, :]


def _balanced(classes: np.ndarray) -> np.ndarray:
    """Each row's weight n / (k * count of its class): every class weighs the same in all."""
    counts = np.bincount(classes)
    return len(classes) / (np.count_nonzero(counts) * counts[classes])


def fit_regression(
    features: sp.csr_matrix,
    labels: np.ndarray,
    weights: np.ndarray,
    c: float,
    polarity: tuple[sp.csr_matrix, np.ndarray, np.ndarray] | None = None,
    stance: tuple[sp.csr_matrix, np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients (3, features) and intercepts (3,) of the L2-regularised multinomial logistic
    regression (sklearn's objective: the weighted mean log-loss plus |coef|^2 / (2 c * total
    weight), intercepts unpenalised), fitted with L-BFGS.

    `polarity` adds rows known only to be bearish (0) or bullish (1), with their weights: each
    adds the log-loss of p(positive) / (p(negative) + p(positive)), so its tag moves the negative
    and positive rows apart and is no evidence for or against neutral. (Refitted with the tags
    as negative/positive labels, the bundled model called 2% of untagged crypto posts neutral.)

    `stance` adds crypto posts known only to be tagged (1) or not (0), with their weights: each
    adds -log P(tagged or not), where P(tagged) = TAG_RATE_NEUTRAL + (TAG_RATE_STANCE -
    TAG_RATE_NEUTRAL) * (1 - p(neutral)), so that what authors tag leans away from neutral and
    what they leave untagged towards it, as much as the tagging rates say and no more.
    """
    from scipy.optimize import minimize
    from scipy.special import expit

    features = sp.csr_matrix(features)
    k, dim = len(LABELS), features.shape[1]
    rows = np.arange(features.shape[0])
    onehot = np.zeros((len(rows), k))
    onehot[rows, labels] = 1.0
    total = weights.sum() + sum(extra[2].sum() for extra in (polarity, stance) if extra)
    transposed = features.T.tocsr()
    if polarity:
        tagged, tags, tag_weights = polarity
        tagged = sp.csr_matrix(tagged)
        sign, tagged_t = 2.0 * tags - 1.0, tagged.T.tocsr()
    if stance:
        crypto, was_tagged, crypto_weights = stance
        crypto = sp.csr_matrix(crypto)
        crypto_t, was_tagged = crypto.T.tocsr(), np.asarray(was_tagged, dtype=bool)
        gap = TAG_RATE_STANCE - TAG_RATE_NEUTRAL
    neg, neu, pos = (LABELS.index(name) for name in ("negative", "neutral", "positive"))

    def loss_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        coef, intercept = theta[:-k].reshape(k, dim), theta[-k:]
        logits = features @ coef.T + intercept
        logits -= logits.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(logits).sum(axis=1))
        loss = weights @ (log_norm - logits[rows, labels])
        residual = (np.exp(logits - log_norm[:, None]) - onehot) * weights[:, None]
        grad_coef = (transposed @ residual).T
        grad_intercept = residual.sum(axis=0)
        if polarity:
            margin = sign * (tagged @ (coef[pos] - coef[neg]) + intercept[pos] - intercept[neg])
            loss += tag_weights @ np.logaddexp(0.0, -margin)
            pull = -tag_weights * sign * expit(-margin)  # d loss / d (z_positive - z_negative)
            towards = tagged_t @ pull
            grad_coef[pos] += towards
            grad_coef[neg] -= towards
            grad_intercept[pos] += pull.sum()
            grad_intercept[neg] -= pull.sum()
        if stance:
            p = _softmax(crypto @ coef.T + intercept)
            has_stance = 1.0 - p[:, neu]
            likelihood = np.where(
                was_tagged,
                TAG_RATE_NEUTRAL + gap * has_stance,
                1 - TAG_RATE_NEUTRAL - gap * has_stance,
            )
            loss += crypto_weights @ -np.log(likelihood)
            # d loss / d has_stance, then through has_stance = 1 - softmax(z)[neutral]
            d_stance = np.where(was_tagged, -gap, gap) / likelihood * crypto_weights
            d_logits = p * p[:, [neu]]
            d_logits[:, neu] = -p[:, neu] * has_stance
            d_logits *= d_stance[:, None]
            grad_coef += (crypto_t @ d_logits).T
            grad_intercept += d_logits.sum(axis=0)
        loss = (loss + 0.5 * np.sum(coef * coef) / c) / total
        grad_coef = (grad_coef + coef / c) / total
        return loss, np.concatenate([grad_coef.ravel(), grad_intercept / total])

    result = minimize(
        loss_and_gradient,
        np.zeros(k * dim + k),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 3000, "maxls": 50, "gtol": 1e-4, "ftol": 64 * np.finfo(float).eps},
    )
    if not result.success:
        warnings.warn(f"the regression did not converge: {result.message}", stacklevel=2)
    return result.x[:-k].reshape(k, dim), result.x[-k:]


def _fitting_rows(
    texts: Sequence[str], stripped_weight: float, encoder: SentenceEncoder, idf, lexicon: str
) -> tuple[sp.csr_matrix, np.ndarray]:
    """The features of posts as written and, if `stripped_weight`, of the same posts after them
    as a stripped source delivers them (`strip_text`), with the weight of each row."""
    forms = [clean_text(t) for t in texts]
    weights = np.ones(len(forms))
    if stripped_weight:
        forms += [clean_text(strip_text(t)) for t in texts]
        weights = np.r_[weights, np.full(len(texts), stripped_weight)]
    return featurize(forms, encoder, idf, lexicon), weights


def train(
    data: LabelledSet,
    encoder: SentenceEncoder,
    c: float = REGULARIZATION_C,
    lexicon: str = "vader+crypto",
    polarity: TaggedPosts | None = None,
    polarity_weight: float = 1.0,
    untagged: UntaggedPosts | None = None,
    stance_weight: float = 1.0,
    stripped_weight: float = 0.0,
):
    """Fit the model on labelled raw posts; on `polarity` posts tagged bullish/bearish as
    evidence of polarity only (`fit_regression`), each tag weighing `polarity_weight` times a
    labelled post on average; and, given the `untagged` posts of the same source, on all of
    them as evidence of stance (tagged or not), each weighing `stance_weight` times a labelled
    post on average. With `stripped_weight`, every one of those posts counts a second time as
    a stripped source delivers it, at that weight. The IDF weights come from the posts as
    written. Deterministic for the same data and encoder."""
    if len(set(data.labels)) < len(LABELS):
        missing = [LABELS[i] for i in range(len(LABELS)) if i not in set(data.labels)]
        raise UserError(f"{data.source} has no {', '.join(missing)} posts: all 3 labels needed")
    if polarity is not None and len(set(polarity.tags)) < 2:
        raise UserError(f"{polarity.source} needs both bullish and bearish posts")
    if untagged is not None and (polarity is None or not untagged.texts):
        raise UserError("the stance of crypto posts needs both tagged and untagged posts")
    started = time.perf_counter()
    crypto = (polarity.texts if polarity else []) + (untagged.texts if untagged else [])
    idf = _idf(_hasher().transform([clean_text(t) for t in data.texts + crypto]).tocsr())
    forms = 1 + bool(stripped_weight)
    features, weights = _fitting_rows(data.texts, stripped_weight, encoder, idf, lexicon)
    labels = np.tile(data.labels, forms)
    weights *= np.tile(_balanced(np.asarray(data.labels)), forms)
    tagged = stance = None
    if polarity:
        tags = np.asarray(polarity.tags)
        tagged_features, tagged_forms = _fitting_rows(
            polarity.texts, stripped_weight, encoder, idf, lexicon
        )
        tag_weights = tagged_forms * polarity_weight * np.tile(_balanced(tags), forms)
        tagged = (tagged_features, np.tile(tags, forms).astype(np.float64), tag_weights)
        if untagged:
            untagged_features, untagged_forms = _fitting_rows(
                untagged.texts, stripped_weight, encoder, idf, lexicon
            )
            stance = (
                sp.vstack([tagged_features, untagged_features], format="csr"),
                np.r_[np.ones(len(tagged_forms)), np.zeros(len(untagged_forms))],
                stance_weight * np.r_[tagged_forms, untagged_forms],
            )
    coef, intercept = fit_regression(features, labels, weights, c, tagged, stance)
    coef = coef.astype(np.float16).astype(np.float32)  # as saved
    intercept = intercept.astype(np.float32)
    idf = idf.astype(np.float16).astype(np.float32)
    digest = hashlib.sha256(coef.tobytes() + intercept.tobytes()).hexdigest()[:8]
    meta = {
        "trained_on": data.source,
        "n_train": len(data),
        "train_counts": data.counts(),
        "train_seconds": round(time.perf_counter() - started, 1),
        "features": {
            "embedding": EMBEDDING_DIM,
            "hashed_tfidf": 2**HASH_BITS,
            "vader": VADER_FEATURES,
            "lexicon": lexicon,
        },
        "c": c,
        "stripped_weight": stripped_weight,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if polarity:
        meta["polarity_only"] = {
            "data": polarity.source,
            "bearish": polarity.tags.count(0),
            "bullish": polarity.tags.count(1),
            "weight": polarity_weight,
        }
    if untagged:
        meta["stance"] = {
            "data": f"{polarity.source} and {untagged.source}",
            "tagged": len(polarity.texts),
            "untagged": len(untagged.texts),
            "weight": stance_weight,
            "tag_rates": {"stance": TAG_RATE_STANCE, "neutral": TAG_RATE_NEUTRAL},
        }
    return SentimentModel(
        version=f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{digest}",
        encoder_id=encoder.identity,
        coef=coef,
        intercept=intercept,
        idf=idf,
        meta=meta,
    )


# -- persistence ------------------------------------------------------------------------------
def save_files(model: SentimentModel, folder: Path, with_graph: bool = True) -> None:
    """Write `weights.npz`, `model.json` and the model's own encoder graph (if it has one and
    `with_graph`) into `folder` (which must not exist), atomically."""
    if folder.exists():
        raise UserError(f"sentiment model version {model.version} already exists at {folder}")
    tmp = folder.with_name(folder.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        tmp / "weights.npz",
        coef=model.coef.astype(np.float16),
        intercept=model.intercept,
        idf=model.idf.astype(np.float16),
    )
    if model.graph is not None and with_graph:
        shutil.copyfile(model.graph, tmp / OWN_GRAPH)
    info = {"version": model.version, "encoder_id": model.encoder_id, "labels": list(LABELS)}
    (tmp / "model.json").write_text(json.dumps(info | {"meta": model.meta}, indent=2) + "\n")
    os.replace(tmp, folder)
    if model.graph is not None and with_graph:
        model.graph = folder / OWN_GRAPH


def load_files(folder: Path) -> SentimentModel:
    try:
        info = json.loads((folder / "model.json").read_text())
        with np.load(folder / "weights.npz", allow_pickle=False) as weights:
            coef, intercept, idf = (
                weights[k].astype(np.float32) for k in ("coef", "intercept", "idf")
            )
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"cannot read the sentiment model in {folder}: {exc}") from None
    return SentimentModel(
        version=info["version"],
        encoder_id=info["encoder_id"],
        coef=coef,
        intercept=intercept,
        idf=idf,
        meta=info.get("meta", {}),
        graph=folder / OWN_GRAPH if (folder / OWN_GRAPH).exists() else None,
    )
