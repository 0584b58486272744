"""The `ecoin` command end to end: real processes, real HTTP to the sandbox, a real DuckDB."""

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta

import pytest
import requests
from ecoin_cli import run_ecoin

from ecoin_assets.processes import free_port
from ecoin_assets.sources.sandbox.faults import FaultConfig
from ecoin_assets.sources.sandbox.market import midnight_ms
from ecoin_assets.storage import Database


@pytest.fixture
def ecoin(tmp_path, sandbox):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COINGECKO_", "ECOIN_", "X_"))}
    env.update(ECOIN_HOME=str(tmp_path / "home"), COINGECKO_API_URL=sandbox.api_url)

    def run(*args: str, ok: bool = True, **extra_env: str) -> subprocess.CompletedProcess:
        proc = run_ecoin(*args, env=env | extra_env, timeout=180)
        if ok:
            assert proc.returncode == 0, proc.stderr
        return proc

    run.db = Database(tmp_path / "home" / "ecoin.duckdb")
    return run


def _snapshot(db: Database) -> list[tuple]:
    if not db.path.exists():
        return []
    return db.query("SELECT * FROM prices ORDER BY coin_id, date")


def test_fetch_three_coins_three_years_with_faults(ecoin, sandbox):
    """A rate-limited server that injects 429s, 5xx and broken bodies: exact daily points."""
    sandbox.limiter.limit = 30
    sandbox.faults.configure(
        FaultConfig(script=["429", "500", "malformed", "503", "truncated", "drop", "502"])
    )
    coins = ["bitcoin", "ethereum", "dogecoin"]
    start, end = date(2021, 1, 1), date(2023, 12, 31)
    args = [
        "prices",
        "fetch",
        *[arg for c in coins for arg in ("--coin", c)],
        "--start",
        str(start),
        "--end",
        str(end),
        "--json",
    ]
    out = json.loads(ecoin(*args).stdout)
    days = (end - start).days + 1
    assert out["inserted"] == 3 * days
    for coin in coins:
        assert out["coins"][coin]["data_calls"] <= 3  # at most one per coin-year
        rows = ecoin.db.query(
            "SELECT date, price_usd, market_cap_usd, volume_usd FROM prices "
            "WHERE coin_id = ? ORDER BY date",
            [coin],
        )
        assert [r[0] for r in rows] == [start + timedelta(days=i) for i in range(days)]
        for d, price, mcap, volume in rows:
            expected = sandbox.market.daily(coin, d)
            assert expected.ts_ms == midnight_ms(d)
            assert (price, mcap, volume) == (expected.price, expected.market_cap, expected.volume)
    before = _snapshot(ecoin.db)
    again = json.loads(ecoin(*args).stdout)
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 3 * days)
    assert _snapshot(ecoin.db) == before


def test_fetch_single_day_and_status(ecoin):
    out = ecoin("prices", "fetch", "--coin", "solana", "--start", "2024-02-29").stdout
    assert "stored 1 daily prices" in out
    status = json.loads(ecoin("status", "--json").stdout)
    (coin,) = status["coins"]
    assert (coin["coin_id"], coin["first_date"], coin["rows"], coin["missing_days"]) == (
        "solana",
        "2024-02-29",
        1,
        0,
    )
    assert "solana" in ecoin("status").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--coin", "nosuchcoin", "--start", "2024-01-01"], "unknown coin 'nosuchcoin'"),
        (["--coin", "bitcoin", "--coin", "nosuchcoin", "--start", "2024-01-01"], "unknown coin"),
        (["--coin", "Bit coin!", "--start", "2024-01-01"], "invalid coin id"),
        (["--coin", "bitcoin", "--start", "2024-13-01"], "invalid --start"),
        (["--coin", "bitcoin", "--start", "01/02/2024"], "invalid --start"),
        (["--coin", "bitcoin", "--start", "2024-03-01", "--end", "2024-02-01"], "reversed"),
        (["--coin", "bitcoin", "--start", "2024-01-01", "--end", "2999-01-01"], "in the future"),
        (["--start", "2024-01-01"], "Missing option '--coin'"),
    ],
)
def test_bad_fetch_input_is_one_line_and_changes_nothing(ecoin, args, message):
    ecoin("prices", "fetch", "--coin", "bitcoin", "--start", "2024-01-01", "--end", "2024-01-05")
    before = _snapshot(ecoin.db)
    proc = ecoin("prices", "fetch", *args, ok=False)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert _snapshot(ecoin.db) == before


def test_demo_key_range_limit_is_clear(ecoin):
    old = (date.today() - timedelta(days=400)).isoformat()
    proc = ecoin(
        "prices",
        "fetch",
        "--coin",
        "bitcoin",
        "--start",
        old,
        ok=False,
        COINGECKO_DEMO_API_KEY="demo-secret-key",
    )
    assert proc.returncode == 1
    assert "365 days" in proc.stderr and "demo-secret-key" not in proc.stderr


def test_secrets_never_stored(ecoin):
    ecoin(
        "prices",
        "fetch",
        "--coin",
        "bitcoin",
        "--start",
        "2024-01-01",
        COINGECKO_PRO_API_KEY="pro-secret-key",
    )
    dump = json.dumps(ecoin.db.query("SELECT * FROM raw_coingecko_answers"), default=str)
    assert "pro-secret-key" not in dump and "market_chart/range" in dump


def test_import_export_roundtrip(ecoin, tmp_path):
    csv_file = tmp_path / "btc.csv"
    csv_file.write_text(
        "snapped_at,price,market_cap,total_volume\n"
        "2017-06-05 00:00:00 UTC,2500.5,41000000000.0,1000000000.0\n"
        "2017-06-06 23:29:55 UTC,2903.4,47547556371.0,1211604496.3\n"
        "2017-06-07 00:00:00 UTC,2700.0,,900000000.0\n"
    )
    out = json.loads(
        ecoin("prices", "import", "--coin", "bitcoin", "--csv", str(csv_file), "--json").stdout
    )
    assert (out["rows"], out["inserted"]) == (3, 3)
    exported = tmp_path / "export.csv"
    ecoin("prices", "export", "--coin", "bitcoin", "--output", str(exported))
    assert exported.read_text().splitlines()[0].startswith("coin_id,date,price_usd")
    before = _snapshot(ecoin.db)
    again = json.loads(
        ecoin("prices", "import", "--coin", "bitcoin", "--csv", str(exported), "--json").stdout
    )
    assert again["inserted"] == 0 and again["rows"] == 3
    assert [r[:5] for r in _snapshot(ecoin.db)] == [r[:5] for r in before]
    as_json = json.loads(
        ecoin(
            "prices", "export", "--format", "json", "--start", "2017-06-06", "--end", "2017-06-07"
        ).stdout
    )
    assert [(r["date"], r["price_usd"]) for r in as_json] == [
        ("2017-06-06", 2903.4),
        ("2017-06-07", 2700.0),
    ]


def test_import_bad_row_names_the_line_and_writes_nothing(ecoin, tmp_path):
    ecoin("prices", "fetch", "--coin", "bitcoin", "--start", "2024-01-01")
    before = _snapshot(ecoin.db)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "snapped_at,price,market_cap,total_volume\n"
        "2024-02-01 00:00:00 UTC,100,1,1\n"
        "2024-02-02 00:00:00 UTC,-5,1,1\n"
    )
    proc = ecoin("prices", "import", "--coin", "bitcoin", "--csv", str(bad), ok=False)
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert "line 3" in line and "price" in line
    assert _snapshot(ecoin.db) == before


def test_every_command_has_help(ecoin):
    for args in (
        ["--help"],
        ["status", "--help"],
        ["sandbox", "serve", "--help"],
        ["prices", "fetch", "--help"],
        ["prices", "import", "--help"],
        ["prices", "export", "--help"],
        ["demo", "--help"],
    ):
        assert "Usage:" in ecoin(*args).stdout


def test_sandbox_serve_command(tmp_path):
    port, x_port = free_port(), free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ecoin_assets",
            "sandbox",
            "serve",
            "--coingecko-port",
            str(port),
            "--rate-limit",
            "5",
            "--x-port",
            str(x_port),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/api/v3"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/ping", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        codes = [requests.get(f"{url}/coins/list", timeout=5).status_code for _ in range(5)]
        assert codes == [200, 200, 200, 200, 429]  # the ping counted too
        x = requests.get(
            f"http://127.0.0.1:{x_port}/2/tweets/search/recent",
            params={"query": "bitcoin"},
            headers={"Authorization": "Bearer t"},
            timeout=5,
        )
        assert x.status_code == 200 and x.json()["meta"]["result_count"] == 10
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    banner = proc.stderr.read()
    assert f"127.0.0.1:{port}/api/v3" in banner and f"127.0.0.1:{x_port}" in banner
