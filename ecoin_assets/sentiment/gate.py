"""The gate a newly trained sentiment model passes before it becomes the active one.

The new model and the active one are scored on the same evaluation data, the data the
training was given (its held-out split; for a fine-tune, TweetEval val, the seed test split
and the held-out tagged crypto posts). The new model becomes active only if it is no worse on
every one of them (macro-recall, or balanced polarity for the tagged posts). A model trained
with no evaluation data cannot be judged and is not activated. A refused model stays stored
with its verdict (in its `model.json`); `--force` activates it anyway.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime


@dataclass
class SentimentVerdict:
    passed: bool
    reasons: list[str]
    candidate: dict[str, float]  # evaluation -> score of the new model
    active: dict[str, float]  # the same for the model that was active
    active_version: str
    forced: bool = False
    judged_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def activate(self) -> bool:
        return self.passed or self.forced

    def summary(self) -> str:
        figures = "; ".join(
            f"{name} {self.candidate[name]:.3f} vs {self.active.get(name, float('nan')):.3f}"
            for name in self.candidate
        )
        against = f"against the active {self.active_version}"
        if self.passed:
            return f"passed the gate {against}: {figures}"
        return f"refused: {'; '.join(self.reasons)}" + (
            f" ({against}: {figures})" if figures else ""
        )

    def as_json(self) -> dict:
        return asdict(self)


def judge(
    candidate: dict[str, float],
    active: dict[str, float],
    active_version: str,
    forced: bool = False,
) -> SentimentVerdict:
    """The verdict from both models' scores on the same evaluations (higher is better)."""
    reasons = [
        f"{name} {score:.3f} is below the active model's {active[name]:.3f}"
        for name, score in candidate.items()
        if not score >= active[name]
    ]
    if not candidate:
        reasons.append("no evaluation data was given to judge it by")
    return SentimentVerdict(
        passed=not reasons,
        reasons=reasons,
        candidate=candidate,
        active=active,
        active_version=active_version,
        forced=forced and bool(reasons),
    )
