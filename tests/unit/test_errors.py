"""Errors by meaning: domain code says what is wrong and names a remedy; the CLI words the
remedy as a command, the HTTP layers answer the type with its status code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from ecoin_assets.cli.hints import HINTS, hint, one_line
from ecoin_assets.errors import (
    InvalidInputError,
    NoDataError,
    NotFoundError,
    Remedy,
    UnavailableError,
    UserError,
    error_body,
    http_status,
)

PACKAGE = Path(__file__).resolve().parents[2] / "ecoin_assets"
COMMAND = re.compile(r"'ecoin [a-z]")


def test_every_remedy_has_a_hint_with_its_details():
    assert set(HINTS) == set(Remedy)
    for remedy in Remedy:
        worded = hint(UserError("x", remedy=remedy, coin="solana", topic="doge", horizon=9))
        assert worded and "{" not in worded, (remedy, worded)
    error = NoDataError("no trained model for solana", remedy=Remedy.TRAIN_FORECAST, coin="solana")
    assert one_line(error) == (
        "no trained model for solana; train one with 'ecoin forecast train --coin solana'"
    )
    assert hint(UserError("bad")) is None and one_line(UserError("bad")) == "bad"


@pytest.mark.parametrize(
    ("error", "status", "bento_status"),
    [
        (InvalidInputError("x"), 422, 400),
        (NotFoundError("x"), 404, 404),
        (NoDataError("x"), 409, 409),
        (UnavailableError("x"), 503, 503),
        (UserError("x"), 400, 400),
    ],
)
def test_http_status_follows_the_type(error, status, bento_status):
    assert http_status(error) == status
    assert http_status(error, invalid=400) == bento_status


def test_error_body_carries_the_remedy_as_a_code_not_a_command():
    body = error_body(NotFoundError("no prices stored for x", remedy=Remedy.FETCH_PRICES, coin="x"))
    assert body == {"error": "no prices stored for x", "remedy": "fetch_prices"}
    assert error_body(UserError("plain")) == {"error": "plain"}


def _raised_commands(path: Path, root: Path = PACKAGE) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Raise) or node.exc is None:
            continue
        texts = [p.value for p in ast.walk(node.exc) if isinstance(p, ast.Constant)]
        if any(isinstance(t, str) and COMMAND.search(t) for t in texts):
            found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_domain_errors_name_no_cli_commands():
    """Only the CLI words commands; an error raised anywhere else names a Remedy instead."""
    offenders = [
        where
        for path in sorted(PACKAGE.rglob("*.py"))
        if "cli" not in path.relative_to(PACKAGE).parts
        for where in _raised_commands(path)
    ]
    assert offenders == []


def test_the_check_sees_a_command_in_a_raise(tmp_path: Path):
    bad = tmp_path / "bad.py"
    bad.write_text("raise ValueError(f\"no model: run 'ecoin forecast train'\")\n")
    assert _raised_commands(bad, tmp_path) == ["bad.py:1"]
