"""The quality gate a newly trained forecast model passes before it is served.

Evidence: the rolling-origin backtest of the same configuration on the same prices
(`backtest.py`: trained on the history before the last 365 days, scored on them). The model
is served only if, at 7 days, it is no worse than the naive forecast by more than 1% (MASE at
most 1.01) and its 80% interval covers 70-90% of the actual prices. A refused model stays
stored with its verdict (`verdict.json` beside it); `--force` serves it anyway.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

GATE_HORIZON = 7
MAX_MASE = 1.01
COVERAGE_RANGE = (0.70, 0.90)
VERDICT_FILE = "verdict.json"


@dataclass
class Verdict:
    passed: bool
    reasons: list[str]
    mase: float
    coverage: float
    backtest_version: str
    test_window: str
    forced: bool = False
    judged_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def serve(self) -> bool:
        return self.passed or self.forced

    def summary(self) -> str:
        figures = (
            f"{GATE_HORIZON}-day backtest MASE {self.mase:.3f}, coverage {self.coverage:.0%} "
            f"({self.test_window})"
        )
        if self.passed:
            return f"passed the gate: {figures}"
        return f"refused: {'; '.join(self.reasons)} ({figures})"

    def as_json(self) -> dict:
        return asdict(self)


def judge(scores: dict, forced: bool = False) -> Verdict:
    """The verdict on a model from its backtest's scores at GATE_HORIZON (`Backtest.at`)."""
    mase = float("nan") if scores["mase"] is None else float(scores["mase"])
    coverage = float(scores["coverage"])
    reasons = []
    if not mase <= MAX_MASE:  # NaN fails too
        reasons.append(f"MASE {mase:.3f} is above {MAX_MASE} (worse than naive by over 1%)")
    low, high = COVERAGE_RANGE
    if not low <= coverage <= high:
        reasons.append(
            f"the {scores['interval']:.0%} interval covered {coverage:.1%}, outside "
            f"{low:.0%}-{high:.0%}"
        )
    return Verdict(
        passed=not reasons,
        reasons=reasons,
        mase=mase,
        coverage=coverage,
        backtest_version=str(scores["model_version"]),
        test_window=f"{scores['test_start']}..{scores['test_end']}",
        forced=forced and bool(reasons),
    )


def write_verdict(folder: Path, verdict: Verdict) -> None:
    tmp = folder / (VERDICT_FILE + ".tmp")
    tmp.write_text(json.dumps(verdict.as_json(), indent=2))
    tmp.replace(folder / VERDICT_FILE)


def read_verdict(folder: Path) -> Verdict | None:
    """The stored verdict, or None for a model an earlier release saved (served ungated)."""
    path = folder / VERDICT_FILE
    return Verdict(**json.loads(path.read_text())) if path.exists() else None
