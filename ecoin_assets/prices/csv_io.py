"""CSV import (validated whole before anything is written) and export of `prices`.

Accepted import formats, recognised by their header:

- CoinGecko's website export: `snapped_at,price,market_cap,total_volume`, with `snapped_at`
  like `2024-01-31 00:00:00 UTC` (a late snapshot, e.g. `23:29:55`, counts for its own day);
- the project's export: `coin_id,date,price_usd,market_cap_usd,volume_usd[,source,ingested_at]`;
- the market-chart dump: `timestamp_ms,date,price_usd,market_cap_usd,total_volume_usd`.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd

from ecoin_assets.errors import UserError
from ecoin_assets.prices.store import PRICE_COLUMNS
from ecoin_assets.sources.coingecko import snapshot_day

EXPORT_COLUMNS = [*PRICE_COLUMNS, "source", "ingested_at"]


@dataclass(frozen=True)
class _Format:
    name: str
    date_col: str
    price: str
    market_cap: str
    volume: str
    coin_col: str | None = None


_FORMATS = (
    _Format("coingecko", "snapped_at", "price", "market_cap", "total_volume"),
    _Format("ecoin", "date", "price_usd", "market_cap_usd", "volume_usd", coin_col="coin_id"),
    _Format("market_chart", "date", "price_usd", "market_cap_usd", "total_volume_usd"),
)


def _detect(header: list[str], path: Path) -> _Format:
    cols = {h.strip().lower() for h in header}
    for fmt in _FORMATS:
        needed = {fmt.date_col, fmt.price, fmt.market_cap, fmt.volume} | (
            {fmt.coin_col} if fmt.coin_col else set()
        )
        if needed <= cols:
            return fmt
    raise UserError(
        f"{path}: unrecognised CSV header {','.join(header)!r}; expected CoinGecko's export "
        "(snapped_at,price,market_cap,total_volume) or ecoin's "
        "(coin_id,date,price_usd,market_cap_usd,volume_usd)"
    )


def _parse_day(raw: str, fmt: _Format) -> date:
    text = raw.strip()
    if fmt.name != "coingecko":
        return datetime.strptime(text, "%Y-%m-%d").date()
    stamp = datetime.strptime(text.removesuffix(" UTC"), "%Y-%m-%d %H:%M:%S")
    return snapshot_day(int(stamp.replace(tzinfo=UTC).timestamp() * 1000))


def _number(raw: str | None, what: str, required: bool) -> float | None:
    text = (raw or "").strip()
    if not text:
        if required:
            raise ValueError(f"{what} is empty")
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} {text!r} is not a finite number")
    if value < 0 or (required and value == 0):
        raise ValueError(f"{what} {text!r} must be {'positive' if required else 'zero or more'}")
    return value


def read_prices_csv(path: str | Path, coin_id: str) -> pd.DataFrame:
    """Parse and validate every row; raise a UserError naming the first bad line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UserError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise UserError(f"{path} is empty: expected a header line and price rows")
    fmt = _detect(header, path)
    index = {h.strip().lower(): i for i, h in enumerate(header)}
    rows: list[tuple] = []
    first_line: dict[date, int] = {}
    for line_no, fields in enumerate(reader, start=2):
        if not any(f.strip() for f in fields):
            continue

        def cell(col: str, fields: list[str] = fields) -> str | None:
            i = index[col]
            return fields[i] if i < len(fields) else None

        try:
            if len(fields) != len(header):
                raise ValueError(f"expected {len(header)} fields, found {len(fields)}")
            if fmt.coin_col and (cell(fmt.coin_col) or "").strip() != coin_id:
                raise ValueError(f"coin_id {cell(fmt.coin_col)!r} is not --coin {coin_id!r}")
            try:
                day = _parse_day(cell(fmt.date_col) or "", fmt)
            except ValueError as exc:
                detail = "" if "does not match" in str(exc) else f" ({exc})"
                raise ValueError(f"bad date {cell(fmt.date_col)!r}{detail}") from None
            price = _number(cell(fmt.price), "price", required=True)
            market_cap = _number(cell(fmt.market_cap), "market cap", required=False)
            volume = _number(cell(fmt.volume), "volume", required=False)
            if day in first_line:
                raise ValueError(f"duplicate date {day} (first on line {first_line[day]})")
        except ValueError as exc:
            raise UserError(f"{path}, line {line_no}: {exc}; nothing was imported") from None
        first_line[day] = line_no
        rows.append((coin_id, day, price, market_cap, volume))
    if not rows:
        raise UserError(f"{path} has a header but no price rows")
    return pd.DataFrame(rows, columns=PRICE_COLUMNS)


def export_rows(rows: Iterable[tuple], fmt: str) -> str:
    """Render rows of `EXPORT_COLUMNS` as CSV (the import format) or a JSON list."""
    rows = list(rows)
    if fmt == "json":
        return (
            json.dumps(
                [
                    {
                        col: (val.isoformat() if isinstance(val, (date, datetime)) else val)
                        for col, val in zip(EXPORT_COLUMNS, row, strict=True)
                    }
                    for row in rows
                ],
                indent=1,
            )
            + "\n"
        )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                ""
                if v is None
                else (
                    v.isoformat()
                    if isinstance(v, (date, datetime))
                    else repr(v)
                    if isinstance(v, float)
                    else v
                )
                for v in row
            ]
        )
    return out.getvalue()
