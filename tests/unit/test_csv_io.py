"""CSV import (three formats, validated whole) and export (ecoin_assets/prices/csv_io.py)."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

from ecoin_assets.errors import UserError
from ecoin_assets.prices.csv_io import EXPORT_COLUMNS, export_rows, read_prices_csv
from ecoin_assets.prices.store import PRICE_COLUMNS, upsert_prices
from ecoin_assets.storage import Database

COINGECKO_HEADER = "snapped_at,price,market_cap,total_volume"
ECOIN_HEADER = "coin_id,date,price_usd,market_cap_usd,volume_usd"
CHART_HEADER = "timestamp_ms,date,price_usd,market_cap_usd,total_volume_usd"


@pytest.fixture
def write_csv(tmp_path: Path):
    def write(text: str, name: str = "prices.csv", encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding=encoding)
        return path

    return write


def rows_of(df: pd.DataFrame) -> list[tuple]:
    assert list(df.columns) == PRICE_COLUMNS
    return [
        tuple(None if isinstance(v, float) and v != v else v for v in row)
        for row in df.itertuples(index=False, name=None)
    ]


# --- CoinGecko's website export ------------------------------------------------------------


def test_coingecko_export(write_csv) -> None:
    path = write_csv(
        f"{COINGECKO_HEADER}\n"
        "2017-06-06 23:29:55 UTC,2.6e3,4.1e10,1.2e9\n"
        "2024-01-01 00:00:00 UTC,42280.23,828000000000.5,15000000000\n"
        "2024-01-02 00:00:00 UTC,44187.14,,\n"
        "2024-01-03 00:59:59 UTC,45000,0,0\n"
    )
    df = read_prices_csv(path, "bitcoin")
    assert rows_of(df) == [
        ("bitcoin", date(2017, 6, 6), 2600.0, 4.1e10, 1.2e9),  # a late snapshot: its own day
        ("bitcoin", date(2024, 1, 1), 42280.23, 828000000000.5, 15000000000.0),
        ("bitcoin", date(2024, 1, 2), 44187.14, None, None),
        ("bitcoin", date(2024, 1, 3), 45000.0, 0.0, 0.0),
    ]


def test_coingecko_export_with_bom_crlf_and_blank_lines(write_csv) -> None:
    path = write_csv(
        f"{COINGECKO_HEADER.upper()}\r\n"
        "2024-01-01 00:00:00 UTC,1.5,2,3\r\n"
        "\r\n"
        "2024-01-02 00:00:00 UTC,1.6,,\r\n"
        "\r\n",
        encoding="utf-8-sig",
    )
    assert rows_of(read_prices_csv(path, "dogecoin")) == [
        ("dogecoin", date(2024, 1, 1), 1.5, 2.0, 3.0),
        ("dogecoin", date(2024, 1, 2), 1.6, None, None),
    ]


def test_coingecko_export_late_snapshot_counts_for_its_own_day(write_csv) -> None:
    # as in CoinGecko's real export: 2017-06-06's midnight is missing, a 23:29:55 snapshot
    # stands in for it, and 2017-06-07 00:00 follows
    path = write_csv(
        f"{COINGECKO_HEADER}\n2023-12-31 23:00:00 UTC,1,,\n2024-01-01 00:00:00 UTC,2,,\n"
    )
    assert rows_of(read_prices_csv(path, "bitcoin")) == [
        ("bitcoin", date(2023, 12, 31), 1.0, None, None),
        ("bitcoin", date(2024, 1, 1), 2.0, None, None),
    ]


# --- ecoin's own export --------------------------------------------------------------------


def test_ecoin_format_minimal_header(write_csv) -> None:
    path = write_csv(f"{ECOIN_HEADER}\nethereum,2024-02-29,3000.5,,1e9\n")
    assert rows_of(read_prices_csv(path, "ethereum")) == [
        ("ethereum", date(2024, 2, 29), 3000.5, None, 1e9)
    ]


def test_ecoin_export_round_trip(write_csv, tmp_path: Path) -> None:
    values = [
        ("bitcoin", date(2024, 1, 1), 0.1 + 0.2, 8.281234567891234e11, 1.0e-8),
        ("bitcoin", date(2024, 1, 2), 42280.123456789, None, 15000000000.0),
        ("bitcoin", date(2024, 1, 3), 1 / 3, 0.0, None),
        ("bitcoin", date(2024, 1, 5), 1e-12, 123.0, 4.5),
    ]
    db = Database(tmp_path / "ecoin.duckdb")
    with db.write() as con:
        upsert_prices(
            con, pd.DataFrame(values, columns=PRICE_COLUMNS), "csv:a,b.csv", datetime(2024, 3, 1)
        )
    exported = db.query(f"SELECT {', '.join(EXPORT_COLUMNS)} FROM prices ORDER BY date")
    text = export_rows(exported, "csv")
    assert text.splitlines()[0] == ",".join(EXPORT_COLUMNS)
    assert text.splitlines()[1].endswith(',"csv:a,b.csv",2024-03-01T00:00:00')

    df = read_prices_csv(write_csv(text, "export.csv"), "bitcoin")
    assert rows_of(df) == values

    # Importing the export again changes nothing.
    with db.write() as con:
        summary = upsert_prices(con, df, "csv:a,b.csv", datetime(2024, 3, 2))
    assert (summary.inserted, summary.updated, summary.unchanged) == (0, 0, 4)


def test_export_json() -> None:
    rows = [("bitcoin", date(2024, 1, 1), 1.5, None, 2.0, "s", datetime(2024, 3, 1, 12, 30))]
    assert json.loads(export_rows(rows, "json")) == [
        {
            "coin_id": "bitcoin",
            "date": "2024-01-01",
            "price_usd": 1.5,
            "market_cap_usd": None,
            "volume_usd": 2.0,
            "source": "s",
            "ingested_at": "2024-03-01T12:30:00",
        }
    ]
    assert export_rows([], "json") == "[]\n"
    assert export_rows([], "csv") == ",".join(EXPORT_COLUMNS) + "\n"


# --- the market-chart dump -----------------------------------------------------------------


def test_market_chart_dump(write_csv) -> None:
    path = write_csv(
        f"{CHART_HEADER}\n"
        "1704067200000,2024-01-01,0.0891,12700000000.0,500000000.0\n"
        "1704153600000,2024-01-02,0.0912,,\n"
    )
    assert rows_of(read_prices_csv(path, "dogecoin")) == [
        ("dogecoin", date(2024, 1, 1), 0.0891, 12700000000.0, 500000000.0),
        ("dogecoin", date(2024, 1, 2), 0.0912, None, None),
    ]


# --- validation errors ---------------------------------------------------------------------


def assert_line_error(path: Path, coin: str, line: int, *fragments: str) -> str:
    with pytest.raises(UserError) as info:
        read_prices_csv(path, coin)
    message = str(info.value)
    assert message.startswith(f"{path}, line {line}: "), message
    assert message.endswith("; nothing was imported"), message
    for fragment in fragments:
        assert fragment in message, message
    return message


CG_OK = "2024-01-01 00:00:00 UTC,1,2,3\n"
EC_OK = "bitcoin,2024-01-01,1,2,3\n"


@pytest.mark.parametrize(
    ("text", "line", "fragments"),
    [
        # bad dates
        (f"{ECOIN_HEADER}\n{EC_OK}bitcoin,2024-13-01,1,2,3\n", 3, ["bad date '2024-13-01'"]),
        (f"{ECOIN_HEADER}\n{EC_OK}bitcoin,2024-02-30,1,2,3\n", 3, ["bad date '2024-02-30'"]),
        (f"{ECOIN_HEADER}\nbitcoin,01/02/2024,1,2,3\n", 2, ["bad date '01/02/2024'"]),
        (f"{ECOIN_HEADER}\nbitcoin,,1,2,3\n", 2, ["bad date ''"]),
        (f"{CHART_HEADER}\n1704067200000,20240101,1,2,3\n", 2, ["bad date '20240101'"]),
        (f"{COINGECKO_HEADER}\n2024-01-01,1,2,3\n", 2, ["bad date '2024-01-01'"]),
        (
            f"{COINGECKO_HEADER}\n{CG_OK}2024-01-02 12:00 UTC,1,2,3\n",
            3,
            ["bad date '2024-01-02 12:00 UTC'"],
        ),
        # numbers
        (f"{ECOIN_HEADER}\nbitcoin,2024-01-01,abc,2,3\n", 2, ["price 'abc' is not a number"]),
        (f"{ECOIN_HEADER}\nbitcoin,2024-01-01,1,1.2.3,3\n", 2, ["market cap '1.2.3'"]),
        (f"{ECOIN_HEADER}\nbitcoin,2024-01-01,1,2,$3\n", 2, ["volume '$3' is not a number"]),
        (f"{ECOIN_HEADER}\nbitcoin,2024-01-01,nan,2,3\n", 2, ["price 'nan'", "finite"]),
        (f"{ECOIN_HEADER}\nbitcoin,2024-01-01,inf,2,3\n", 2, ["price 'inf'", "finite"]),
        (f"{ECOIN_HEADER}\nbitcoin,2024-01-01,,2,3\n", 2, ["price is empty"]),
        (f"{ECOIN_HEADER}\n{EC_OK}bitcoin,2024-01-02,-5,2,3\n", 3, ["price '-5' must be positive"]),
        (f"{ECOIN_HEADER}\nbitcoin,2024-01-01,0,2,3\n", 2, ["price '0' must be positive"]),
        (f"{ECOIN_HEADER}\nbitcoin,2024-01-01,0.0,2,3\n", 2, ["price '0.0' must be positive"]),
        (
            f"{ECOIN_HEADER}\nbitcoin,2024-01-01,1,-2,3\n",
            2,
            ["market cap '-2' must be zero or more"],
        ),
        (f"{ECOIN_HEADER}\nbitcoin,2024-01-01,1,2,-3\n", 2, ["volume '-3' must be zero or more"]),
        (f"{COINGECKO_HEADER}\n2024-01-01 00:00:00 UTC,0,2,3\n", 2, ["price '0' must be"]),
        (f"{CHART_HEADER}\n1,2024-01-01,-0.5,2,3\n", 2, ["price '-0.5' must be positive"]),
        # duplicates
        (
            f"{ECOIN_HEADER}\n{EC_OK}bitcoin,2024-01-02,1,2,3\n\nbitcoin,2024-01-01,9,9,9\n",
            5,
            ["duplicate date 2024-01-01 (first on line 2)"],
        ),
        (
            f"{COINGECKO_HEADER}\n2017-06-06 00:00:00 UTC,1,2,3\n2017-06-06 23:29:55 UTC,1,2,3\n",
            3,
            ["duplicate date 2017-06-06 (first on line 2)"],
        ),
        # field counts
        (f"{ECOIN_HEADER}\n{EC_OK}bitcoin,2024-01-02,1,2\n", 3, ["expected 5 fields, found 4"]),
        (f"{ECOIN_HEADER}\nbitcoin,2024-01-02,1,2,3,4\n", 2, ["expected 5 fields, found 6"]),
        (f"{COINGECKO_HEADER}\n2024-01-01 00:00:00 UTC\n", 2, ["expected 4 fields, found 1"]),
        # coin ids in the ecoin format
        (
            f"{ECOIN_HEADER}\n{EC_OK}ethereum,2024-01-02,1,2,3\n",
            3,
            ["coin_id 'ethereum' is not --coin 'bitcoin'"],
        ),
        (f"{ECOIN_HEADER}\n,2024-01-02,1,2,3\n", 2, ["coin_id '' is not --coin 'bitcoin'"]),
    ],
)
def test_row_errors_name_file_and_line(write_csv, text, line, fragments) -> None:
    path = write_csv(text)
    assert_line_error(path, "bitcoin", line, *fragments)


def test_line_numbers_count_blank_lines(write_csv) -> None:
    path = write_csv(f"{ECOIN_HEADER}\n\n{EC_OK}\n\nbitcoin,2024-01-02,x,2,3\n")
    assert_line_error(path, "bitcoin", 6, "price 'x' is not a number")


def test_first_bad_line_is_reported(write_csv) -> None:
    path = write_csv(f"{ECOIN_HEADER}\nbitcoin,2024-01-01,0,2,3\nbitcoin,bad,1,2,3\n")
    assert_line_error(path, "bitcoin", 2, "price '0' must be positive")


def test_unknown_header(write_csv) -> None:
    path = write_csv("day,close,cap,volume\n2024-01-01,1,2,3\n")
    with pytest.raises(UserError) as info:
        read_prices_csv(path, "bitcoin")
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert "unrecognised CSV header 'day,close,cap,volume'" in message
    assert "snapped_at,price,market_cap,total_volume" in message


def test_ecoin_header_without_coin_id_is_unknown(write_csv) -> None:
    path = write_csv("date,price_usd,market_cap_usd,volume_usd\n2024-01-01,1,2,3\n")
    with pytest.raises(UserError, match="unrecognised CSV header"):
        read_prices_csv(path, "bitcoin")


@pytest.mark.parametrize("text", ["", "\n", "\ufeff"])
def test_empty_file(write_csv, text) -> None:
    path = write_csv(text)
    with pytest.raises(UserError, match=re.escape(f"{path} is empty")):
        read_prices_csv(path, "bitcoin")


@pytest.mark.parametrize("header", [COINGECKO_HEADER, ECOIN_HEADER, CHART_HEADER])
def test_header_only_file(write_csv, header) -> None:
    path = write_csv(f"{header}\n\n\n")
    with pytest.raises(UserError, match=re.escape(f"{path} has a header but no price rows")):
        read_prices_csv(path, "bitcoin")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    with pytest.raises(UserError, match=re.escape(f"no such file: {path}")):
        read_prices_csv(path, "bitcoin")


def test_unreadable_file_is_a_user_error(write_csv) -> None:
    path = write_csv("")
    path.write_bytes(COINGECKO_HEADER.encode() + b"\n\xff\xfe,1,2,3\n")
    with pytest.raises(UserError, match=re.escape(f"cannot read {path}")):
        read_prices_csv(path, "bitcoin")


def test_directory_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=re.escape(str(tmp_path))):
        read_prices_csv(tmp_path, "bitcoin")
