"""The sentiment metrics in a fresh Python process: a cheap import, and an unwritable HF_HOME."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_cheap_import_and_an_unwritable_hf_home(tmp_path: Path) -> None:
    """In a fresh process: importing does not import `evaluate`; with HF_HOME impossible to
    create (below a regular file), the modules are copied into a temporary folder that is gone
    once they are loaded, and nothing is written to the working directory."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    workdir, tmpdir = tmp_path / "cwd", tmp_path / "tmp"
    workdir.mkdir()
    tmpdir.mkdir()
    script = textwrap.dedent(
        """
        import json, os, sys
        import ecoin_assets.sentiment.evaluation as evaluation
        assert "evaluate" not in sys.modules
        result = evaluation.compute_metrics([0, 1, 2, 2], [0, 1, 1, 2])
        leftovers = os.listdir(os.environ["TMPDIR"])
        result = evaluation.compute_metrics([0, 1, 2, 2], [0, 1, 1, 2])  # still works
        print(json.dumps({"result": result, "leftovers": leftovers}))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "XDG_CACHE"))}
    env.update(HF_HOME=str(blocker / "huggingface"), TMPDIR=str(tmpdir), PYTHONPATH=str(REPO))
    # torch keeps its compile cache in $TMPDIR unless told (a process that imported torch, as this
    # one does when a model test ran first, passes it on): keep it out of the folder checked below
    env["TORCHINDUCTOR_CACHE_DIR"] = str(tmp_path / "torchinductor")
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    output = json.loads(completed.stdout.strip().splitlines()[-1])
    # recall 1/1, 1/1, 1/2 -> macro 5/6
    assert output["result"]["macro_recall"] == pytest.approx(5 / 6)
    assert output["result"]["confusion_matrix"] == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]
    assert output["leftovers"] == []
    assert list(workdir.iterdir()) == []
