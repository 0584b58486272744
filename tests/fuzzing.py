"""Fuzzing an OpenAPI schema with schemathesis, as the service tests do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def no_server_errors(schema_url: str, base_url: str, cwd: Path, *extra: str) -> None:
    """Run schemathesis's examples, coverage and fuzzing phases against `base_url` (30 examples
    an operation, seed 1) and fail on any 5xx answer."""
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            schema_url,
            "--url",
            base_url,
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "30",
            "--phases",
            "examples,coverage,fuzzing",
            "--seed",
            "1",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
