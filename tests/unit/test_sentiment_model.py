"""The sentiment model end to end: encoder, training on a tiny set, storage, scoring, CLI."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from factories import insert_post

from ecoin_assets.bento_store import use_store
from ecoin_assets.cli import run
from ecoin_assets.cli.hints import hint
from ecoin_assets.errors import UserError
from ecoin_assets.sentiment import registry
from ecoin_assets.sentiment.crypto_data import (
    TAG_RATE_NEUTRAL,
    TAG_RATE_STANCE,
    TaggedPosts,
    UntaggedPosts,
)
from ecoin_assets.sentiment.data import LabelledSet, load_seed
from ecoin_assets.sentiment.encoder import DEFAULT_ENCODER, SentenceEncoder, ensure_graph
from ecoin_assets.sentiment.model import fit_regression, train
from ecoin_assets.sentiment.scoring import score_pending, window_sentiment
from ecoin_assets.storage import Database

TINY = LabelledSet(
    texts=[
        "I love this, best day ever 😍",
        "what a great win, so happy",
        "amazing news, bitcoin is pumping 🚀",
        "this is terrible, I hate it",
        "worst service ever, so angry 😡",
        "lost everything in the crash, awful",
        "the meeting is at 3pm on tuesday",
        "bitcoin price is 64000 usd today",
        "the report comes out next week",
    ],
    labels=[2, 2, 2, 0, 0, 0, 1, 1, 1],
    source="tiny",
)


@pytest.fixture(scope="module")
def encoder(tmp_path_factory) -> SentenceEncoder:
    import os

    return SentenceEncoder(
        Path(os.environ.get("ECOIN_ENCODER_CACHE") or tmp_path_factory.mktemp("enc"))
    )


def test_encoder_gives_normalized_embeddings_in_input_order(encoder):
    texts = ["short", "a much longer text about the price of bitcoin today", "short"]
    vectors = encoder.encode(texts)
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert np.allclose(vectors[0], vectors[2])  # same text, same vector, whatever the batch
    assert float(vectors[0] @ vectors[1]) < 0.9


def test_training_on_a_tiny_set_learns_it_and_roundtrips(encoder, tmp_path):
    model = train(TINY, encoder)
    probs = model.predict_proba(TINY.texts, encoder)
    assert probs.shape == (9, 3)
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert list(probs.argmax(axis=1)) == TINY.labels
    registry.save(model, tmp_path)
    assert registry.active_version(tmp_path) == model.version
    loaded = registry.load(tmp_path)
    assert np.allclose(loaded.predict_proba(TINY.texts, encoder), probs, atol=1e-6)
    assert registry.versions(tmp_path) == [registry.bundled_version(), model.version]


@pytest.mark.slow  # trains a model for many seconds
def test_a_model_keeps_the_encoder_it_was_trained_with(encoder, ecoin_home):
    """Models trained with all 6 MiniLM layers (the encoder before the 3-layer default) load,
    score and register with that encoder, not with the default."""
    assert encoder.identity == DEFAULT_ENCODER
    full = SentenceEncoder(registry.encoder_cache(ecoin_home), identity="all-MiniLM-L6-v2-int8")
    assert not np.allclose(full.encode(TINY.texts[:2]), encoder.encode(TINY.texts[:2]), atol=0.05)
    model = train(TINY, full)
    assert model.encoder_id == "all-MiniLM-L6-v2-int8"
    registry.save(model, ecoin_home)
    classifier = registry.Classifier.load(ecoin_home)
    assert classifier.encoder.identity == "all-MiniLM-L6-v2-int8"
    assert [p.label for p in classifier.classify(TINY.texts)] == [
        ["negative", "neutral", "positive"][k] for k in TINY.labels
    ]
    with pytest.raises(UserError, match="trained with encoder all-MiniLM-L6-v2-int8"):
        model.predict_proba(TINY.texts, encoder)
    tag = registry.register_bentoml(model, ecoin_home)
    stored = registry.Classifier.from_bento(_bento_folder(ecoin_home, tag), threads=1)
    assert stored.encoder.identity == "all-MiniLM-L6-v2-int8"
    assert stored.encoder.graph.read_bytes() == full.graph.read_bytes()
    assert np.allclose(stored.probabilities(TINY.texts), classifier.probabilities(TINY.texts))


def _bento_folder(home: Path, tag: str) -> Path:
    return Path(use_store(home).models.get(tag).path)


def test_an_unknown_encoder_is_a_clear_error(encoder, tmp_path):
    with pytest.raises(UserError, match=r"unknown sentence encoder 'bert-9000'") as raised:
        ensure_graph(tmp_path, "bert-9000")
    assert "ecoin sentiment train" in hint(raised.value)  # what the CLI adds
    model = train(TINY, encoder)
    model.encoder_id = "bert-9000"
    registry.save(model, tmp_path)
    with pytest.raises(UserError, match="unknown sentence encoder 'bert-9000'"):
        registry.Classifier.load(tmp_path)


def test_training_needs_all_three_labels(encoder):
    data = LabelledSet(TINY.texts[:6], TINY.labels[:6], "two labels")
    with pytest.raises(UserError, match="no neutral posts"):
        train(data, encoder)


def _sparse_problem(rows: int = 240, columns: int = 12, seed: int = 3):
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, columns)) * (rng.random((rows, columns)) < 0.5)
    truth = rng.normal(size=(3, columns)) * 2
    scores = features @ truth.T + rng.gumbel(size=(rows, 3))
    scores[rng.random(rows) < 0.75, 0] = -np.inf  # class 0 rare, so that class weights matter
    return sp.csr_matrix(features), scores.argmax(axis=1)


def test_the_regression_is_sklearns_balanced_logistic_regression():
    from scipy.special import softmax
    from sklearn.linear_model import LogisticRegression

    features, labels = _sparse_problem()
    weights = len(labels) / (3 * np.bincount(labels)[labels])
    coef, intercept = fit_regression(features, labels, weights, c=0.5)
    reference = LogisticRegression(C=0.5, class_weight="balanced", tol=1e-10, max_iter=10_000)
    reference.fit(features, labels)
    assert np.allclose(coef, reference.coef_, atol=5e-3)
    assert np.allclose(intercept, reference.intercept_, atol=5e-3)
    probabilities = softmax(features @ coef.T + intercept, axis=1)
    assert np.allclose(probabilities, reference.predict_proba(features), atol=2e-3)


def test_classifying_one_post_does_not_copy_the_weights(encoder):
    """Whatever the memory order of the stored coefficients (sklearn's or fit_regression's), a
    one-post call multiplies the weights in place: it once copied the 3 MB TF-IDF block."""
    import dataclasses
    import tracemalloc

    model = train(TINY, encoder)
    fortran = dataclasses.replace(model, coef=np.asfortranarray(model.coef))
    for candidate in (model, fortran):
        candidate.predict_proba(["warm up"], encoder)
        tracemalloc.start()
        probs = candidate.predict_proba(["bitcoin to the moon"], encoder)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 500_000, peak
        assert np.allclose(probs, model.predict_proba(["bitcoin to the moon"], encoder))


def test_a_bullish_or_bearish_tag_is_no_evidence_about_neutral():
    """A word seen only in bullish-tagged posts makes a post more positive than negative and
    leaves its neutral score alone; had the tags been labels, it would count against neutral."""
    import scipy.sparse as sp

    features, labels = _sparse_problem()
    weights = np.ones(len(labels))
    rng = np.random.default_rng(5)
    tagged = rng.normal(size=(60, features.shape[1]))
    tags = np.repeat([0.0, 1.0], 30)
    word = np.where(tags == 1, 1.0, 0.0)[:, None]  # only in the bullish posts
    tagged = sp.csr_matrix(np.hstack([tagged, word]))
    labelled = sp.hstack([features, sp.csr_matrix((features.shape[0], 1))], format="csr")
    coef, _ = fit_regression(labelled, labels, weights, 1.0, (tagged, tags, np.ones(60)))
    negative, neutral, positive = coef[:, -1]
    assert positive > 0.5 and negative < -0.5
    assert neutral == pytest.approx(0.0, abs=1e-9)
    as_labels = sp.vstack([labelled, tagged], format="csr")
    coef, _ = fit_regression(
        as_labels, np.concatenate([labels, 2 * tags.astype(int)]), np.ones(300), 1.0
    )
    assert coef[1, -1] < -0.1


def _stance_objective(features, labels, weights, c, crypto, was_tagged, crypto_weights, theta):
    """fit_regression's objective with stance rows, written out plainly."""
    from scipy.special import log_softmax

    k, dim = 3, features.shape[1]
    coef, intercept = theta[:-k].reshape(k, dim), theta[-k:]
    log_p = log_softmax(features @ coef.T + intercept, axis=1)
    loss = -weights @ log_p[np.arange(len(labels)), labels]
    has_stance = 1 - np.exp(log_softmax(crypto @ coef.T + intercept, axis=1))[:, 1]
    tagged_p = TAG_RATE_NEUTRAL + (TAG_RATE_STANCE - TAG_RATE_NEUTRAL) * has_stance
    loss -= crypto_weights @ np.log(np.where(was_tagged == 1, tagged_p, 1 - tagged_p))
    total = weights.sum() + crypto_weights.sum()
    return (loss + 0.5 * np.sum(coef**2) / c) / total


def test_being_tagged_or_not_is_weak_evidence_of_stance_only():
    """A word seen only in posts that were tagged leans away from neutral, one seen only in
    untagged posts towards it; the fit is the optimum of the objective (its gradient, by
    finite differences, is zero there)."""
    from scipy.optimize import approx_fprime

    features, labels = _sparse_problem()
    weights = np.ones(len(labels))
    rng = np.random.default_rng(9)
    was_tagged = np.repeat([1.0, 0.0], 40)
    words = np.stack([was_tagged, 1 - was_tagged], axis=1)  # one word each side
    crypto = np.hstack([rng.normal(size=(80, features.shape[1])), words])
    labelled = np.hstack([features.toarray(), np.zeros((features.shape[0], 2))])
    stance = (crypto, was_tagged, np.full(80, 2.0))
    coef, intercept = fit_regression(labelled, labels, weights, 1.0, stance=stance)
    (tagged_neg, untagged_neg), (tagged_neu, untagged_neu), (tagged_pos, untagged_pos) = coef[
        :, -2:
    ]
    assert tagged_neu < -0.1 < 0.1 < untagged_neu
    assert min(tagged_neg, tagged_pos) > tagged_neu
    assert max(untagged_neg, untagged_pos) < untagged_neu
    theta = np.concatenate([coef.ravel(), intercept])
    gradient = approx_fprime(
        theta, lambda t: _stance_objective(labelled, labels, weights, 1.0, *stance, t), 1e-7
    )
    assert np.abs(gradient).max() < 1e-4


def test_training_with_tagged_posts_records_them_and_needs_both_tags(encoder):
    tagged = TaggedPosts(
        ["btc to the moon, longing here", "rekt, shorting this dump"],
        [1, 0],
        ["2022-07-10", "2022-07-10"],
        "tagged",
    )
    model = train(TINY, encoder, polarity=tagged, polarity_weight=0.5)
    assert model.meta["polarity_only"] == {
        "data": "tagged",
        "bearish": 1,
        "bullish": 1,
        "weight": 0.5,
    }
    assert list(model.predict_proba(TINY.texts, encoder).argmax(axis=1)) == TINY.labels
    one_sided = TaggedPosts(tagged.texts[:1], [1], tagged.days[:1], "bullish only")
    with pytest.raises(UserError, match="bullish only needs both bullish and bearish posts"):
        train(TINY, encoder, polarity=one_sided)


def test_training_with_untagged_posts_records_the_stance_and_needs_tagged_ones(encoder):
    tagged = TaggedPosts(
        ["btc to the moon, longing here", "rekt, shorting this dump"],
        [1, 0],
        ["2022-07-10", "2022-07-10"],
        "tagged",
    )
    untagged = UntaggedPosts(
        ["btc etf decision due next week", "what wallet do you use?"],
        ["2022-07-10", "2022-07-11"],
        "untagged",
    )
    model = train(TINY, encoder, polarity=tagged, untagged=untagged, stance_weight=0.5)
    assert model.meta["stance"] == {
        "data": "tagged and untagged",
        "tagged": 2,
        "untagged": 2,
        "weight": 0.5,
        "tag_rates": {"stance": TAG_RATE_STANCE, "neutral": TAG_RATE_NEUTRAL},
    }
    assert list(model.predict_proba(TINY.texts, encoder).argmax(axis=1)) == TINY.labels
    with pytest.raises(UserError, match="needs both tagged and untagged posts"):
        train(TINY, encoder, untagged=untagged)


def test_stripped_copies_add_rows_at_their_weight_and_keep_the_idf(encoder):
    from ecoin_assets.cleaning import clean_text, strip_text
    from ecoin_assets.sentiment.model import _fitting_rows, featurize

    texts = ["BTC to the MOON!!! 🚀 https://x.com/a", "What's the $ETH price?"]
    idf = np.ones(2**17, dtype=np.float32)
    features, weights = _fitting_rows(texts, 0.25, encoder, idf, "vader+crypto")
    assert weights.tolist() == [1.0, 1.0, 0.25, 0.25]
    stripped = featurize([clean_text(strip_text(t)) for t in texts], encoder, idf, "vader+crypto")
    assert np.array_equal(features[2:].toarray(), stripped.toarray())
    assert not np.array_equal(features[:2].toarray(), stripped.toarray())
    tagged = TaggedPosts(
        ["BTC to the MOON, longing here!", "rekt... shorting this dump"],
        [1, 0],
        ["2022-07-10", "2022-07-10"],
        "tagged",
    )
    untagged = UntaggedPosts(["BTC ETF decision due next week."], ["2022-07-10"], "untagged")
    plain = train(TINY, encoder, polarity=tagged, untagged=untagged)
    both = train(TINY, encoder, polarity=tagged, untagged=untagged, stripped_weight=0.5)
    assert (plain.meta["stripped_weight"], both.meta["stripped_weight"]) == (0.0, 0.5)
    assert np.array_equal(plain.idf, both.idf)  # from the posts as written only
    assert not np.allclose(plain.coef, both.coef)
    assert list(both.predict_proba(TINY.texts, encoder).argmax(axis=1)) == TINY.labels


def test_bundled_model_is_active_out_of_the_box_and_classifies_seed_posts(ecoin_home):
    classifier = registry.Classifier.load(ecoin_home)
    assert classifier.version == registry.load(ecoin_home, registry.BUNDLED).version
    seed = load_seed("test")
    predicted = classifier.probabilities(seed.texts).argmax(axis=1)
    recall = [np.mean(predicted[np.array(seed.labels) == k] == k) for k in range(3)]
    assert np.mean(recall) > 0.6, recall


def test_the_bundled_model_stays_active_across_an_upgrade_that_replaces_it(tmp_path):
    """`activate bundled` names it `bundled`; a pointer written by an earlier release names the
    version it bundled then, which the package no longer has: both follow the bundled model."""
    registry.activate(tmp_path, registry.BUNDLED)
    pointer = registry.models_dir(tmp_path) / "LATEST"
    assert pointer.read_text() == "bundled\n"
    assert registry.active_version(tmp_path) == registry.bundled_version()
    for former in sorted(registry.FORMER_BUNDLED):
        pointer.write_text(former + "\n")
        assert registry.active_version(tmp_path) == registry.bundled_version()
        assert registry.Classifier.load(tmp_path).version == registry.bundled_version()
    pointer.write_text("20990101T000000-00000000\n")  # any other missing version is an error
    with pytest.raises(UserError, match="no sentiment model version '20990101T000000-00000000'"):
        registry.load(tmp_path)


def test_unknown_version_is_a_clear_error(ecoin_home):
    with pytest.raises(UserError, match="no sentiment model version 'nope'"):
        registry.load(ecoin_home, "nope")


def _store_posts(db: Database, posts: list[tuple[int, str, str, bool]]) -> None:
    now = datetime(2026, 11, 23, 12, 0)
    with db.write() as con:
        for post_id, topic, text, keep in posts:
            insert_post(con, post_id, now, topic, text=text, keep=keep)


def test_score_pending_scores_kept_posts_once_and_aggregates(ecoin_home, capsys):
    db = Database(ecoin_home / "ecoin.duckdb")
    _store_posts(
        db,
        [
            (1, "bitcoin", "i love bitcoin, best investment ever", True),
            (2, "bitcoin", "bitcoin crashed again, i hate this", True),
            (3, "bitcoin", "giveaway dm me", False),
        ],
    )
    classifier = registry.Classifier.load(ecoin_home)
    assert score_pending(db, classifier) == 2
    assert score_pending(db, classifier) == 0  # nothing twice
    rows = db.query("SELECT post_id, label, model_version FROM post_sentiment ORDER BY 1")
    assert [(r[0], r[1]) for r in rows] == [(1, "positive"), (2, "negative")]
    assert {r[2] for r in rows} == {classifier.version}
    window = window_sentiment(
        db, classifier.version, datetime(2026, 11, 23), datetime(2026, 11, 24), "bitcoin"
    )
    assert window["scored"].tolist() == [2]
    assert window["share_positive"].tolist() == [0.5]
    assert window["share_negative"].tolist() == [0.5]

    assert run(["tweets", "export", "--format", "jsonl"]) == 0
    exported = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["label"] for e in exported] == ["positive", "negative", None]
    assert exported[0]["model_version"] == classifier.version


def test_cli_classify_arguments_and_stdin(capsys, monkeypatch):
    import io

    assert run(["sentiment", "classify", "what a wonderful day", "this is awful"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["label"] for line in lines] == ["positive", "negative"]
    assert set(lines[0]) == {"text", "label", "p_negative", "p_neutral", "p_positive"}
    assert abs(lines[0]["p_negative"] + lines[0]["p_neutral"] + lines[0]["p_positive"] - 1) < 1e-4

    monkeypatch.setattr("sys.stdin", io.StringIO("great job\n\nterrible news\n"))
    assert run(["sentiment", "classify"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_cli_train_and_eval_on_a_folder(tmp_path, ecoin_home, capsys):
    folder = tmp_path / "tiny"
    folder.mkdir()
    for split in ("train", "val"):
        (folder / f"{split}_text.txt").write_text("\n".join(TINY.texts) + "\n")
        (folder / f"{split}_labels.txt").write_text("\n".join(map(str, TINY.labels)) + "\n")
    assert run(["sentiment", "train", "--data", str(folder), "--json"]) == 0
    trained = json.loads(capsys.readouterr().out)
    assert trained["n_train"] == 9
    assert trained["metrics"]["macro_recall"] == 1.0
    assert trained["bentoml_tag"] == f"ecoin-sentiment:{trained['version']}".lower()
    import bentoml

    stored = bentoml.models.get(trained["bentoml_tag"])
    assert stored.info.metadata["macro_recall"] == 1.0
    assert (Path(stored.path) / "model" / "weights.npz").exists()

    assert run(["sentiment", "eval", "--data", str(folder), "--split", "val", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["model_version"] == trained["version"]
    assert result["n"] == 9 and result["macro_recall"] == 1.0
    assert result["posts_per_second"] > 0
    assert {"macro_f1", "accuracy", "confusion_matrix"} <= set(result)


def test_cli_eval_bad_data_is_one_clear_line(tmp_path, capsys):
    assert run(["sentiment", "eval", "--data", str(tmp_path / "missing")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "is not a folder" in err


def test_price_features_carry_the_previous_days_sentiment(ecoin_home):
    from datetime import date, timedelta

    from ecoin_assets.forecasting.service import refresh_features
    from ecoin_assets.prices.store import points_frame, upsert_prices
    from ecoin_assets.sources.coingecko import DailyPoint

    db = Database(ecoin_home / "ecoin.duckdb")
    days = [date(2026, 11, 20) + timedelta(days=i) for i in range(4)]
    with db.write() as con:
        upsert_prices(
            con,
            points_frame(DailyPoint("bitcoin", d, 100.0 + i, 1e9, 1e6) for i, d in enumerate(days)),
            source="test",
        )
    _store_posts(db, [(1, "bitcoin", "i love bitcoin, best investment ever", True)])
    with db.write() as con:
        con.execute("UPDATE posts SET created_at = TIMESTAMP '2026-11-21 12:00'")
    score_pending(db, registry.Classifier.load(ecoin_home))
    refresh_features(db, ecoin_home, "bitcoin")
    stored = {
        d: (posts, sentiment)
        for d, posts, sentiment in db.query(
            "SELECT date, posts_prev_day, sentiment_prev_day FROM price_features"
        )
    }
    assert stored[date(2026, 11, 21)] == (None, None)  # the post's own day: not known yet
    posts, sentiment = stored[date(2026, 11, 22)]  # the next day sees it
    assert posts == 1 and sentiment > 0.3
    assert stored[date(2026, 11, 23)][0] is None
