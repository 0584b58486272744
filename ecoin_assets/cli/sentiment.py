"""`ecoin sentiment fetch-tweeteval | train | eval | classify | score | models`."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import click

from ecoin_assets.cli.common import database, json_option, print_json, settings
from ecoin_assets.errors import UserError

DATA_HELP = "'seed' (the set shipped with ecoin) or a folder in TweetEval layout."


@click.group()
def sentiment() -> None:
    """Sentiment model of X posts: data, training, evaluation, classification.

    Labelled data is a folder in TweetEval layout: {split}_text.txt and {split}_labels.txt,
    one post and one label per line (0 negative, 1 neutral, 2 positive). Until a model is
    trained, the bundled crypto-aware model (see 'ecoin sentiment finetune') is active.
    """


@sentiment.command("fetch-tweeteval")
@click.option(
    "--dest",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder to write into (default: $ECOIN_HOME/tweeteval).",
)
@click.option("--url", default=None, help="Base URL of a mirror of TweetEval's sentiment files.")
def fetch_tweeteval_cmd(dest: Path | None, url: str | None) -> None:
    """Download TweetEval's sentiment splits (needs internet), checking every checksum."""
    from ecoin_assets.sentiment.download import TWEETEVAL_URL, fetch_tweeteval

    dest = dest or settings().home / "tweeteval"
    fetch_tweeteval(
        dest,
        base_url=url or TWEETEVAL_URL,
        progress=lambda name, what: click.echo(f"{name}: {what}", err=True),
    )
    click.echo(f"TweetEval sentiment (train, val, test) in {dest}")


@sentiment.command()
@click.option("--data", default="seed", show_default=True, metavar="seed|DIR", help=DATA_HELP)
@click.option("--split", default="train", show_default=True, help="Split to train on.")
@click.option(
    "--eval-split",
    default=None,
    help="Split of the same data to evaluate on (default: val or test when present).",
)
@click.option("--force", is_flag=True, help="Activate the new model even if the gate refuses it.")
@json_option
def train(data: str, split: str, eval_split: str | None, force: bool, as_json: bool) -> None:
    """Train a model and store it as a new version; it becomes the active one only if it is
    no worse than the active model on the evaluation split (macro-recall), or with --force.
    """
    from ecoin_assets.sentiment.service import train_and_register

    result = train_and_register(settings().home, data, split, eval_split, force=force)
    if as_json:
        print_json(result)
        return
    click.echo(
        f"trained sentiment model {result['version']} on {result['trained_on']} "
        f"({result['n_train']} posts, {result['train_seconds']} s)"
    )
    if result.get("metrics"):
        m = result["metrics"]
        click.echo(
            f"on {result['evaluated_on']}: macro-recall {m['macro_recall']:.3f}, "
            f"macro-F1 {m['macro_f1']:.3f}, accuracy {m['accuracy']:.3f} (n={m['n']})"
        )
    _say_gate(result)


def _say_gate(result: dict) -> None:
    from ecoin_assets.sentiment.gate import SentimentVerdict

    verdict = SentimentVerdict(**result["gate"])
    if verdict.passed:
        click.echo(f"{verdict.summary()}; it is now active")
    elif verdict.forced:
        click.echo(f"{verdict.summary()}; active anyway (--force)")
    else:
        click.echo(
            f"{verdict.summary()}; it stays stored, the active model is unchanged "
            f"('ecoin sentiment activate --version {result['version']} --force' activates it)"
        )


@sentiment.command()
@click.option(
    "--tweeteval",
    "tweeteval",
    required=True,
    metavar="DIR",
    help="TweetEval sentiment folder (train and val splits; 'ecoin sentiment fetch-tweeteval').",
)
@click.option(
    "--crypto",
    "crypto_csv",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="CSV of crypto posts, tagged bullish/bearish by their authors or untagged "
    "(columns created_at,symbol,tag,text).",
)
@click.option(
    "--holdout-from",
    default=None,
    metavar="YYYY-MM-DD",
    help="Crypto posts from this day on are held out for evaluation (default: the last day).",
)
@click.option("--layers", default=1, show_default=True, type=click.IntRange(1, 6))
@click.option("--epochs", default=1, show_default=True, type=click.IntRange(1, 20))
@click.option(
    "--work",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Checkpoint folder (default: under $ECOIN_HOME/models/finetune); a run resumes there.",
)
@click.option("--force", is_flag=True, help="Activate the new model even if the gate refuses it.")
@json_option
def finetune(
    tweeteval: str,
    crypto_csv: Path,
    holdout_from: str | None,
    layers: int,
    epochs: int,
    work: Path | None,
    force: bool,
    as_json: bool,
) -> None:
    """Fine-tune the crypto-aware model (the bundled model's recipe) on the CPU.

    Trains the first LAYERS transformer layers of MiniLM with a 3-class head on TweetEval's
    train split and the seed set, and on the tagged crypto posts as polarity; fits the
    classifier on the same posts and on whether each crypto post was tagged (as stance); reports
    TweetEval val macro-recall, seed test macro-recall and the held-out posts' balanced
    polarity; stores the model as a new version. It becomes active (and is registered in
    BentoML) only if it is no worse than the active model on each of those, or with --force.
    Progress goes to stderr; an interrupted run resumes from its last epoch.
    """
    from ecoin_assets.sentiment.finetune import FinetuneConfig
    from ecoin_assets.sentiment.service import finetune_and_register

    result = finetune_and_register(
        settings().home,
        tweeteval,
        crypto_csv,
        FinetuneConfig(layers=layers, epochs=epochs),
        holdout_from=holdout_from,
        work=work,
        progress=lambda line: click.echo(line, err=True),
        force=force,
    )
    if as_json:
        print_json(result)
        return
    m, seed, polarity = result["metrics"], result["seed_test"], result["crypto_polarity"]
    click.echo(
        f"fine-tuned sentiment model {result['version']} ({result['n_train']} posts, "
        f"{result['train_seconds']} s)"
    )
    click.echo(
        f"on {result['evaluated_on']}: macro-recall {m['macro_recall']:.3f}, "
        f"{m['posts_per_second']:.0f} posts/s; seed test macro-recall {seed['macro_recall']:.3f}"
    )
    if polarity:
        click.echo(
            f"on {polarity['data']}: balanced polarity {polarity['balanced_polarity']:.3f} "
            f"(n={polarity['n']})"
        )
    _say_gate(result)


@sentiment.command("eval")
@click.option("--data", required=True, metavar="seed|DIR", help=DATA_HELP)
@click.option("--split", default="test", show_default=True, help="Split to evaluate on.")
@click.option("--version", default=None, help="Model version (default: the active one).")
@json_option
def eval_cmd(data: str, split: str, version: str | None, as_json: bool) -> None:
    """Evaluate a model on labelled posts: macro-recall, macro-F1, accuracy, speed."""
    from ecoin_assets.sentiment.service import evaluate_model

    result = evaluate_model(settings().home, data, split, version)
    if as_json:
        print_json(result)
        return
    click.echo(
        f"model {result['model_version']} on {result['data']} (n={result['n']}): "
        f"macro-recall {result['macro_recall']:.3f}, macro-F1 {result['macro_f1']:.3f}, "
        f"accuracy {result['accuracy']:.3f}, {result['posts_per_second']:.0f} posts/s"
    )
    click.echo(
        "recall: "
        + ", ".join(f"{k} {result['recall_' + k]:.3f}" for k in ("negative", "neutral", "positive"))
    )
    click.echo("confusion matrix (rows true, columns predicted: negative, neutral, positive):")
    for row in result["confusion_matrix"]:
        click.echo("  " + " ".join(f"{v:6d}" for v in row))


@sentiment.command()
@click.argument("texts", nargs=-1)
@click.option("--version", default=None, help="Model version (default: the active one).")
def classify(texts: tuple[str, ...], version: str | None) -> None:
    """Classify TEXTS (or one text per stdin line): JSON lines with label and probabilities."""
    from ecoin_assets.sentiment.registry import Classifier

    if not texts:
        if sys.stdin.isatty():
            raise UserError("give texts as arguments, or one text per line on stdin")
        texts = tuple(line.rstrip("\n") for line in sys.stdin if line.strip())
    if not texts:
        raise UserError("no text to classify: stdin was empty")
    classifier = Classifier.load(settings().home, version)
    for text, prediction in zip(texts, classifier.classify(texts), strict=True):
        click.echo(json.dumps({"text": text} | prediction.as_dict(), ensure_ascii=False))


@sentiment.command()
@json_option
def score(as_json: bool) -> None:
    """Score every stored post the active model has not scored yet (and its aggregates)."""
    from ecoin_assets.sentiment.registry import Classifier
    from ecoin_assets.sentiment.scoring import score_pending

    classifier = Classifier.load(settings().home)
    started = time.perf_counter()
    done = score_pending(database(), classifier)
    if as_json:
        print_json({"model_version": classifier.version, "scored": done})
    else:
        click.echo(
            f"scored {done} posts with {classifier.version} in "
            f"{time.perf_counter() - started:.1f} s"
        )


@sentiment.command()
@json_option
def models(as_json: bool) -> None:
    """List the model versions, the active one, each one's gate and posts scored."""
    from ecoin_assets.sentiment.registry import active_version, gate_of, versions
    from ecoin_assets.sentiment.scoring import scored_versions

    home = settings().home
    active, scored = active_version(home), scored_versions(database())
    rows = [
        {
            "version": v,
            "active": v == active,
            "posts_scored": scored.get(v, 0),
            "gate": gate_of(home, v),
        }
        for v in versions(home)
    ]
    if as_json:
        print_json(rows)
        return
    for row in rows:
        mark = "*" if row["active"] else " "
        gate = row["gate"]
        said = "" if gate is None else "; " + ("passed" if gate["passed"] else "refused")
        if gate and gate.get("forced"):
            said += ", activated with --force"
        click.echo(f"{mark} {row['version']}  ({row['posts_scored']} posts scored{said})")


@sentiment.command()
@click.option("--version", required=True, help="A stored version, or 'bundled'.")
@click.option("--force", is_flag=True, help="Activate it even though its gate refused it.")
def activate(version: str, force: bool) -> None:
    """Make a stored model the active one (e.g. to roll back) and register it in BentoML; a
    model its gate refused needs --force."""
    from ecoin_assets.sentiment.service import activate_version

    tag = activate_version(settings().home, version, force=force)
    click.echo(f"sentiment model {tag.split(':', 1)[1]} is now active (BentoML model {tag})")


@sentiment.command()
@click.option("--days", default=7, show_default=True, type=click.IntRange(1, 90))
@click.option("--topic", default=None, help="Only this topic.")
@json_option
def drift(days: int, topic: str | None, as_json: bool) -> None:
    """Per day and topic: does the active model see posts like its reference data?

    Recomputes the last DAYS days (table sentiment_drift) and prints each day's label shares,
    mean confidence, low-confidence share and drift score (the Jensen-Shannon distance of the
    labels from the reference's, the model's answers on the seed test split), marking the
    days that drift.
    """
    from ecoin_assets.sentiment.drift import reference, refresh_drift

    ref = reference(settings().home)
    frame = refresh_drift(database(), ref, days)
    if topic is not None:
        frame = frame[frame["topic"] == topic]
    rows = frame.drop(columns=["computed_at"]).to_dict("records")
    if as_json:
        print_json({"reference": asdict(ref), "days": rows})
        return
    shares = ", ".join(f"{k} {v:.0%}" for k, v in ref.shares.items())
    click.echo(
        f"reference ({ref.version} on {ref.data}, {ref.n} posts): {shares}; mean confidence "
        f"{ref.mean_confidence:.2f}, low-confidence {ref.low_confidence_share:.0%}"
    )
    if not rows:
        click.echo(f"no scored posts in the last {days} day(s)")
    for r in rows:
        mark = "DRIFT" if r["drifting"] else "ok"
        click.echo(
            f"{r['day']} {r['topic']}: {r['posts']} posts, negative {r['share_negative']:.0%}, "
            f"neutral {r['share_neutral']:.0%}, positive {r['share_positive']:.0%}; "
            f"confidence {r['mean_confidence']:.2f}, low {r['low_confidence_share']:.0%}; "
            f"drift {r['drift_score']:.2f} {mark}"
        )
