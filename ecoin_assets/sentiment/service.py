"""Training and evaluation as the CLI and the Dagster assets run them."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from ecoin_assets.errors import InvalidInputError, UserError
from ecoin_assets.sentiment import data as datasets
from ecoin_assets.sentiment import registry
from ecoin_assets.sentiment.crypto_data import load_posts
from ecoin_assets.sentiment.encoder import SentenceEncoder, tokenizer_file
from ecoin_assets.sentiment.evaluation import balanced_polarity, compute_metrics
from ecoin_assets.sentiment.finetune import FinetuneConfig
from ecoin_assets.sentiment.gate import judge
from ecoin_assets.sentiment.model import SentimentModel
from ecoin_assets.sentiment.model import train as fit


def evaluate_classifier(classifier: registry.Classifier, labelled: datasets.LabelledSet) -> dict:
    """Scores of the classifier on labelled posts, and its steady-state speed: a few posts go
    through first, untimed, so that loading the lexicon and the first graph run (a few tenths
    of a second, once a process) do not count as classification time."""
    classifier.probabilities(labelled.texts[:8])
    started = time.perf_counter()
    probabilities = classifier.probabilities(labelled.texts)
    seconds = time.perf_counter() - started
    metrics = compute_metrics(labelled.labels, probabilities.argmax(axis=1).tolist())
    return metrics | {
        "data": labelled.source,
        "model_version": classifier.version,
        "seconds": round(seconds, 3),
        "posts_per_second": round(len(labelled) / max(seconds, 1e-9), 1),
    }


def evaluate_model(home: Path, data: str, split: str, version: str | None = None) -> dict:
    labelled = datasets.resolve(data, split)
    return evaluate_classifier(registry.Classifier.load(home, version), labelled)


def _default_eval_split(data: str, train_split: str) -> str | None:
    folder = datasets.SEED_DIR if data == "seed" else Path(data).expanduser()
    present = datasets.splits(folder)
    return next((s for s in ("val", "test") if s in present and s != train_split), None)


def train_and_register(
    home: Path,
    data: str,
    split: str = "train",
    eval_split: str | None = None,
    *,
    force: bool = False,
) -> dict:
    """Train on `data` and evaluate it and the active model on its held-out split; store it,
    and activate it and register it in BentoML if it passes the gate (`gate.py`) or with
    `force`. Returns what was done (version, training data, metrics, verdict)."""
    labelled = datasets.resolve(data, split)
    eval_split = eval_split or _default_eval_split(data, split)
    held_out = datasets.resolve(data, eval_split) if eval_split else None
    encoder = SentenceEncoder(registry.encoder_cache(home))
    model: SentimentModel = fit(labelled, encoder)
    result = {
        "version": model.version,
        "trained_on": labelled.source,
        "n_train": len(labelled),
        "train_seconds": model.meta["train_seconds"],
    }
    candidate: dict[str, float] = {}
    active: dict[str, float] = {}
    active_classifier = registry.Classifier.load(home)
    if held_out is not None:
        metrics = evaluate_classifier(registry.Classifier(model, encoder), held_out)
        model.meta["evaluation"] = metrics
        result |= {"evaluated_on": held_out.source, "metrics": metrics}
        name = f"{held_out.source} macro-recall"
        candidate[name] = metrics["macro_recall"]
        active[name] = evaluate_classifier(active_classifier, held_out)["macro_recall"]
    return result | _gate_and_store(model, home, candidate, active, active_classifier, force)


def _gate_and_store(
    model: SentimentModel,
    home: Path,
    candidate: dict[str, float],
    active: dict[str, float],
    active_classifier: registry.Classifier,
    force: bool,
) -> dict:
    """Judge the new model against the active one, store it with its verdict, and activate
    and register it in BentoML only if it passed (or with `force`)."""
    verdict = judge(candidate, active, active_classifier.version, forced=force)
    model.meta["gate"] = verdict.as_json()
    registry.save(model, home, make_active=verdict.activate)
    tag = None
    if verdict.activate:
        tag = registry.register_bentoml(model, home, model.meta.get("evaluation"))
    return {"active": verdict.activate, "gate": verdict.as_json(), "bentoml_tag": tag}


def activate_version(home: Path, version: str, *, force: bool = False) -> str:
    """Make a stored version active and register it in BentoML; one its gate refused only
    with `force` (the bundled model has no verdict to honour: whatever its own gate said when
    it was made, shipping it was the release's decision). Returns its BentoML tag."""
    model = registry.load(home, version)
    verdict = registry.gate_of(home, version)
    if verdict and not verdict["passed"] and not force:
        raise InvalidInputError(
            f"sentiment model {model.version} was refused: {'; '.join(verdict['reasons'])}; "
            "add --force to activate it anyway"
        )
    registry.activate(home, version)
    return registry.register_bentoml(model, home, model.meta.get("evaluation"))


SEED_REPEATS = 3  # the seed set's crypto posts are the only 3-class in-domain labels: upweighted
# A self-tag says the author took a stance, and which, but not that the post is not neutral: in
# the final classifier it counts for positive against negative only (`model.fit_regression`),
# each tag (bullish and bearish balanced) as much as a labelled post
TAGGED_WEIGHT = 1.0
# Whether a crypto post was tagged at all is weak evidence that it takes a stance (`crypto_data`,
# `model.fit_regression`): each post, tagged or not, as much as a labelled post
STANCE_WEIGHT = 1.0
# Some sources deliver posts lower-cased without links, punctuation or emoji (`strip_text`): the
# classifier fits every training post that way too, as much as the post as written
STRIPPED_WEIGHT = 0.5


def finetune_and_register(
    home: Path,
    tweeteval: str,
    crypto_csv: Path,
    config: FinetuneConfig | None = None,
    holdout_from: str | None = None,
    work: Path | None = None,
    progress: Callable[[str], None] = lambda line: None,
    seed_repeats: int = SEED_REPEATS,
    *,
    force: bool = False,
) -> dict:
    """Fine-tune the crypto-aware model (`finetune.py`) on TweetEval's train split, the seed
    set's train split and the crypto posts tagged before `holdout_from` (default: their last
    day), and fit its classifier on the same posts and the untagged crypto posts before that
    day (`model.train`: tagged or not, as evidence of stance); evaluate it on TweetEval's val
    split, the held-out tagged posts and the seed test split, the active model on the same
    data; store it, and activate it and register it in BentoML if it passes the gate
    (`gate.py`) or with `force`. Resumes an interrupted run that had the same configuration
    from its checkpoint in `work`."""
    from ecoin_assets.sentiment import finetune

    config = config or FinetuneConfig()
    general = datasets.resolve(tweeteval, "train")
    val = datasets.resolve(tweeteval, "val")
    seed = datasets.load_seed("train")
    tagged, untagged = load_posts(crypto_csv)
    holdout_from = holdout_from or max(tagged.days)
    tagged_train, tagged_eval = tagged.before(holdout_from), tagged.since(holdout_from)
    untagged_train = untagged.before(holdout_from)
    if not tagged_train.texts:
        raise UserError(f"{crypto_csv} has no tagged posts before {holdout_from} to train on")
    if len(set(tagged_train.tags)) < 2:
        raise UserError(
            f"{crypto_csv} needs both bullish and bearish posts before {holdout_from} to train on"
        )
    examples = finetune.examples(
        general.texts + seed.texts * seed_repeats,
        general.labels + seed.labels * seed_repeats,
        tagged_train.texts,
        tagged_train.tags,
        seed=config.seed,
    )
    key = hashlib.sha256(
        json.dumps([asdict(config), len(general), len(tagged_train)]).encode()
    ).hexdigest()[:10]
    work = work or home / "models" / "finetune" / key
    progress(f"{len(examples)} training examples; checkpoints in {work}")
    started = time.perf_counter()
    net, history = finetune.finetune(examples, work, config, log=progress)
    graph = work / "encoder.onnx"
    finetune.export_encoder(net, graph)
    digest = hashlib.sha256(graph.read_bytes()).hexdigest()[:8]
    encoder = SentenceEncoder.from_files(
        graph, tokenizer_file(), identity=f"ecoin-crypto-minilm-L{config.layers}-int8-{digest}"
    )
    progress("fitting the classifier over the fine-tuned embedding, TF-IDF and VADER")
    labelled = datasets.LabelledSet(
        general.texts + seed.texts * seed_repeats,
        general.labels + seed.labels * seed_repeats,
        source=f"{general.source} + seed:train x{seed_repeats}",
    )
    model = fit(
        labelled,
        encoder,
        polarity=tagged_train,
        polarity_weight=TAGGED_WEIGHT,
        untagged=untagged_train if untagged_train.texts else None,
        stance_weight=STANCE_WEIGHT,
        stripped_weight=STRIPPED_WEIGHT,
    )
    model.graph = graph
    stance = f" and {untagged_train.source} (tagged or not as stance)" * bool(untagged_train.texts)
    stripped = ", each also stripped" * bool(STRIPPED_WEIGHT)
    model.meta |= {
        "trained_on": f"{labelled.source} + {tagged_train.source} (the tags as polarity only)"
        f"{stance}{stripped}; encoder fine-tuned on the labelled and tagged posts",
        "train_seconds": round(time.perf_counter() - started, 1),
        "finetune": asdict(config) | {"examples": len(examples), "history": history},
    }
    classifier = registry.Classifier(model, encoder)
    evaluation = evaluate_classifier(classifier, val)
    model.meta["evaluation"] = evaluation
    seed_test = datasets.load_seed("test")
    model.meta["seed_test"] = evaluate_classifier(classifier, seed_test)
    active_classifier = registry.Classifier.load(home)
    candidate = {
        f"{val.source} macro-recall": evaluation["macro_recall"],
        f"{seed_test.source} macro-recall": model.meta["seed_test"]["macro_recall"],
    }
    active = {
        f"{val.source} macro-recall": evaluate_classifier(active_classifier, val)["macro_recall"],
        f"{seed_test.source} macro-recall": evaluate_classifier(active_classifier, seed_test)[
            "macro_recall"
        ],
    }
    if tagged_eval.texts:
        polarity = balanced_polarity(tagged_eval.tags, classifier.probabilities(tagged_eval.texts))
        model.meta["crypto_polarity"] = polarity | {"data": tagged_eval.source}
        name = f"{tagged_eval.source} balanced polarity"
        candidate[name] = polarity["balanced_polarity"]
        active[name] = balanced_polarity(
            tagged_eval.tags, active_classifier.probabilities(tagged_eval.texts)
        )["balanced_polarity"]
    progress(f"judging it against the active model {active_classifier.version}")
    stored = _gate_and_store(model, home, candidate, active, active_classifier, force)
    return stored | {
        "version": model.version,
        "trained_on": model.meta["trained_on"],
        "n_train": model.meta["n_train"],
        "train_seconds": model.meta["train_seconds"],
        "evaluated_on": val.source,
        "metrics": evaluation,
        "seed_test": model.meta["seed_test"],
        "crypto_polarity": model.meta.get("crypto_polarity"),
    }
