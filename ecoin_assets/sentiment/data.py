"""Labelled posts in TweetEval layout, and the seed set the project ships.

TweetEval layout: a folder with `{split}_text.txt` and `{split}_labels.txt`, one post and one
label per line, labels 0 negative, 1 neutral, 2 positive. Lines are stripped (TweetEval's
validation lines end in a space). Every problem is reported with the file and line number.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ecoin_assets.errors import UserError

LABELS = ("negative", "neutral", "positive")
SEED_DIR = Path(__file__).parent / "seed"


@dataclass(frozen=True)
class LabelledSet:
    """Posts (raw text, as written) with their labels, and where they came from."""

    texts: list[str]
    labels: list[int]
    source: str

    def __len__(self) -> int:
        return len(self.texts)

    def counts(self) -> dict[str, int]:
        return {name: self.labels.count(i) for i, name in enumerate(LABELS)}


def _read_lines(path: Path) -> list[str]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{path} is missing") from None
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8-sig")  # a BOM (Windows editors) is not text
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UserError(f"{path}, line {line}: not UTF-8 text") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line; it does not start a new one
    return [line.rstrip("\r") for line in lines]


def splits(folder: Path) -> list[str]:
    """The splits present in a TweetEval-layout folder (those with both files)."""
    return sorted(
        p.name.removesuffix("_text.txt")
        for p in Path(folder).glob("*_text.txt")
        if (p.parent / p.name.replace("_text.txt", "_labels.txt")).exists()
    )


def load_split(folder: Path | str, split: str) -> LabelledSet:
    """Read one split of a TweetEval-layout folder, validating every line."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder (expected TweetEval layout: see --help)")
    text_path, label_path = folder / f"{split}_text.txt", folder / f"{split}_labels.txt"
    if not text_path.exists() and not label_path.exists():
        found = ", ".join(splits(folder)) or "none"
        raise UserError(
            f"{folder} has no split {split!r} ({split}_text.txt and {split}_labels.txt); "
            f"splits found: {found}"
        )
    texts = _read_lines(text_path)
    raw_labels = _read_lines(label_path)
    if len(texts) != len(raw_labels):
        raise UserError(
            f"{text_path.name} has {len(texts)} lines but {label_path.name} has "
            f"{len(raw_labels)}: every post needs exactly one label"
        )
    if not texts:
        raise UserError(f"{text_path} is empty")
    labels = []
    for number, (text, raw) in enumerate(zip(texts, raw_labels, strict=True), start=1):
        value = raw.strip()
        if value not in ("0", "1", "2"):
            raise UserError(
                f"{label_path}, line {number}: label {raw!r} is not 0 (negative), "
                "1 (neutral) or 2 (positive)"
            )
        if not text.strip():
            raise UserError(f"{text_path}, line {number}: empty post")
        labels.append(int(value))
    return LabelledSet(texts=[t.strip() for t in texts], labels=labels, source=f"{folder}:{split}")


def load_seed(split: str = "train") -> LabelledSet:
    """The seed set shipped with ecoin (written for the project; see seed/README.md)."""
    data = load_split(SEED_DIR, split)
    return LabelledSet(data.texts, data.labels, source=f"seed:{split}")


def resolve(data: str, split: str) -> LabelledSet:
    """`seed` or a TweetEval-layout folder, as the CLI and the assets name them."""
    return load_seed(split) if data == "seed" else load_split(Path(data).expanduser(), split)
