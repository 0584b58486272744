"""Running the `ecoin` command in a new process, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping


def run_ecoin(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """`python -m ecoin_assets ARGS` with `env` (default: this process's environment)."""
    return subprocess.run(
        [sys.executable, "-m", "ecoin_assets", *args],
        env=dict(os.environ if env is None else env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
