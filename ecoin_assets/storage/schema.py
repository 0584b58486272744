"""The tables, one definition each, in DuckDB's SQL; `render` adapts a statement to PostgreSQL.

The schema has a version: `schema_migrations` holds one row per migration applied. Opening a
database whose version is behind (an earlier release's, or a new one: version 0) creates the
tables it lacks (`CREATE TABLE IF NOT EXISTS`, every table of TABLES) and applies the
MIGRATIONS after its version, in order, in one transaction; a database at the current version
costs one query. On DuckDB this runs at the first write or read of a `Database` to a file
(again if the file is replaced, `db.py`); on PostgreSQL at its first connection, under an
advisory lock (`postgres.py`). A schema change appends a migration: a new table goes into
TABLES (created on the way) with a migration that names it; a new column goes last in its
table's CREATE statement and into a migration that adds it to existing tables (`ADD COLUMN IF
NOT EXISTS`).
Write type names in upper case and column names in lower case: `render` maps type names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from ecoin_assets.errors import UnavailableError
from ecoin_assets.storage.connection import Connection

TABLES: dict[str, str] = {
    # The stable, user-facing table (ARCHITECTURE.md, "Storage"): the CoinGecko point at 00:00
    # UTC of `date`.
    "prices": """
        CREATE TABLE IF NOT EXISTS prices (
            coin_id VARCHAR NOT NULL,
            date DATE NOT NULL,
            price_usd DOUBLE NOT NULL,
            market_cap_usd DOUBLE,
            volume_usd DOUBLE,
            source VARCHAR NOT NULL,
            ingested_at TIMESTAMP NOT NULL,
            PRIMARY KEY (coin_id, date)
        )""",
    # CoinGecko's intraday points, one per coin and UTC hour, observed at `ts`.
    "prices_hourly": """
        CREATE TABLE IF NOT EXISTS prices_hourly (
            coin_id VARCHAR NOT NULL,
            hour TIMESTAMP NOT NULL,
            ts TIMESTAMP NOT NULL,
            price_usd DOUBLE NOT NULL,
            market_cap_usd DOUBLE,
            volume_usd DOUBLE,
            source VARCHAR NOT NULL,
            ingested_at TIMESTAMP NOT NULL,
            PRIMARY KEY (coin_id, hour)
        )""",
    # Every CoinGecko answer as received, with the request it answered (never a secret).
    "raw_coingecko_answers": """
        CREATE TABLE IF NOT EXISTS raw_coingecko_answers (
            answer_id VARCHAR PRIMARY KEY,
            coin_id VARCHAR,
            endpoint VARCHAR NOT NULL,
            url VARCHAR NOT NULL,
            params JSON NOT NULL,
            status INTEGER,
            error VARCHAR,
            body VARCHAR NOT NULL,
            received_at TIMESTAMP NOT NULL
        )""",
    # Kept current by every write to `prices` (same transaction).
    "price_monthly_range": """
        CREATE TABLE IF NOT EXISTS price_monthly_range (
            coin_id VARCHAR NOT NULL,
            month DATE NOT NULL,
            min_price_usd DOUBLE NOT NULL,
            min_date DATE NOT NULL,
            max_price_usd DOUBLE NOT NULL,
            max_date DATE NOT NULL,
            days INTEGER NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            PRIMARY KEY (coin_id, month)
        )""",
    # The SQL analyses of prices/analysis.py, rebuilt whole by their assets.
    "analysis_monthly_avg_price": """
        CREATE TABLE IF NOT EXISTS analysis_monthly_avg_price (
            coin_id VARCHAR NOT NULL,
            month DATE NOT NULL,
            avg_price_usd DOUBLE NOT NULL,
            days BIGINT NOT NULL,
            PRIMARY KEY (coin_id, month)
        )""",
    "analysis_losing_streak_rebound": """
        CREATE TABLE IF NOT EXISTS analysis_losing_streak_rebound (
            coin_id VARCHAR PRIMARY KEY,
            events BIGINT NOT NULL,
            avg_next_day_rise_usd DOUBLE,
            avg_next_day_rise_pct DOUBLE,
            avg_3_day_rise_pct DOUBLE,
            avg_7_day_rise_pct DOUBLE,
            share_next_day_up DOUBLE,
            current_market_cap_usd DOUBLE,
            market_cap_date DATE
        )""",
    # Per coin and day: what the forecaster sees (rebuilt per coin by the features asset).
    "price_features": """
        CREATE TABLE IF NOT EXISTS price_features (
            coin_id VARCHAR NOT NULL,
            date DATE NOT NULL,
            price_usd DOUBLE NOT NULL,
            log_price DOUBLE NOT NULL,
            log_return DOUBLE,
            volatility_7d DOUBLE,
            volatility_30d DOUBLE,
            log_volume DOUBLE,
            volume_ratio_7d DOUBLE,
            log_market_cap DOUBLE,
            weekday INTEGER NOT NULL,
            sentiment_prev_day DOUBLE,
            posts_prev_day INTEGER,
            PRIMARY KEY (coin_id, date)
        )""",
    "forecasts": """
        CREATE TABLE IF NOT EXISTS forecasts (
            coin_id VARCHAR NOT NULL,
            forecast_date DATE NOT NULL,
            target_date DATE NOT NULL,
            model_version VARCHAR NOT NULL,
            horizon INTEGER NOT NULL,
            yhat DOUBLE NOT NULL,
            yhat_lower DOUBLE NOT NULL,
            yhat_upper DOUBLE NOT NULL,
            interval DOUBLE NOT NULL,
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (coin_id, forecast_date, target_date, model_version)
        )""",
    # Each stored forecast point once its target day's price has arrived (scored once): the
    # realized price and the naive forecast issued the same day (the price at forecast_date).
    "forecast_scores": """
        CREATE TABLE IF NOT EXISTS forecast_scores (
            coin_id VARCHAR NOT NULL,
            forecast_date DATE NOT NULL,
            target_date DATE NOT NULL,
            model_version VARCHAR NOT NULL,
            horizon INTEGER NOT NULL,
            yhat DOUBLE NOT NULL,
            yhat_lower DOUBLE NOT NULL,
            yhat_upper DOUBLE NOT NULL,
            interval DOUBLE NOT NULL,
            issued_at TIMESTAMP NOT NULL,
            actual DOUBLE NOT NULL,
            naive DOUBLE NOT NULL,
            scored_at TIMESTAMP NOT NULL,
            PRIMARY KEY (coin_id, forecast_date, target_date, model_version)
        )""",
    "forecast_backtests": """
        CREATE TABLE IF NOT EXISTS forecast_backtests (
            coin_id VARCHAR NOT NULL,
            model_version VARCHAR NOT NULL,
            horizon INTEGER NOT NULL,
            n_origins INTEGER NOT NULL,
            mae DOUBLE NOT NULL,
            mape DOUBLE NOT NULL,
            naive_mae DOUBLE NOT NULL,
            mase DOUBLE,
            interval DOUBLE NOT NULL,
            coverage DOUBLE NOT NULL,
            test_start DATE NOT NULL,
            test_end DATE NOT NULL,
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (coin_id, model_version, horizon)
        )""",
    # Per coin and day: finance features (analysis/finance.py); `target` is the next day's price.
    "finance_features": """
        CREATE TABLE IF NOT EXISTS finance_features (
            coin_id VARCHAR NOT NULL,
            date DATE NOT NULL,
            price_usd DOUBLE NOT NULL,
            change_1d DOUBLE,
            lag_1 DOUBLE, lag_2 DOUBLE, lag_3 DOUBLE, lag_4 DOUBLE,
            lag_5 DOUBLE, lag_6 DOUBLE, lag_7 DOUBLE,
            trend_7d DOUBLE,
            var_7d DOUBLE,
            weekday INTEGER NOT NULL,
            is_weekend BOOLEAN NOT NULL,
            week_of_year INTEGER NOT NULL,
            month INTEGER NOT NULL,
            is_us_holiday BOOLEAN NOT NULL,
            is_cn_holiday BOOLEAN NOT NULL,
            volume_usd DOUBLE,
            volume_change DOUBLE,
            volume_ratio_7d DOUBLE,
            risk_class VARCHAR NOT NULL,
            target DOUBLE,
            PRIMARY KEY (coin_id, date)
        )""",
    # Per coin and calendar month: the worst day-to-day change and the risk class.
    "price_risk_classes": """
        CREATE TABLE IF NOT EXISTS price_risk_classes (
            coin_id VARCHAR NOT NULL,
            month DATE NOT NULL,
            worst_change_1d DOUBLE,
            risk_class VARCHAR NOT NULL,
            PRIMARY KEY (coin_id, month)
        )""",
    # One-day-ahead scores of the naive, linear and NeuralProphet models on the same origins.
    "model_comparison": """
        CREATE TABLE IF NOT EXISTS model_comparison (
            coin_id VARCHAR NOT NULL,
            model VARCHAR NOT NULL,
            horizon INTEGER NOT NULL,
            n_origins INTEGER NOT NULL,
            mae DOUBLE NOT NULL,
            mape DOUBLE NOT NULL,
            naive_mae DOUBLE NOT NULL,
            mase DOUBLE,
            test_start DATE NOT NULL,
            test_end DATE NOT NULL,
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (coin_id, model, horizon)
        )""",
    # Correlation of a topic's sentiment with a coin's price and returns, per lag and method,
    # for one window and frequency (the latest computation replaces the previous one).
    "sentiment_price_correlation": """
        CREATE TABLE IF NOT EXISTS sentiment_price_correlation (
            coin_id VARCHAR NOT NULL,
            topic VARCHAR NOT NULL,
            freq VARCHAR NOT NULL,
            window_start TIMESTAMP NOT NULL,
            window_end TIMESTAMP NOT NULL,
            model_version VARCHAR NOT NULL,
            lag INTEGER NOT NULL,
            against VARCHAR NOT NULL,
            method VARCHAR NOT NULL,
            r DOUBLE,
            p_value DOUBLE,
            n INTEGER NOT NULL,
            computed_at TIMESTAMP NOT NULL,
            PRIMARY KEY (coin_id, topic, freq, lag, against, method)
        )""",
    # One row per X post id, stored exactly once; the raw text is kept beside the clean one.
    "posts": """
        CREATE TABLE IF NOT EXISTS posts (
            post_id BIGINT PRIMARY KEY,
            created_at TIMESTAMP,
            author_id VARCHAR,
            lang VARCHAR,
            text_raw VARCHAR NOT NULL,
            text_clean VARCHAR NOT NULL,
            tokens VARCHAR[] NOT NULL,
            is_retweet BOOLEAN NOT NULL,
            keep BOOLEAN NOT NULL,
            drop_reason VARCHAR,
            source VARCHAR NOT NULL,
            ingested_at TIMESTAMP NOT NULL,
            like_count INTEGER,
            retweet_count INTEGER,
            reply_count INTEGER,
            quote_count INTEGER
        )""",
    # The tracked topics (ECOIN_TOPICS seeds it at the first change, tweets/topics.py); a
    # removed topic keeps its row, with `removed_at`, and its posts.
    "topics": """
        CREATE TABLE IF NOT EXISTS topics (
            name VARCHAR PRIMARY KEY,
            query VARCHAR NOT NULL,
            coin_id VARCHAR,
            added_at TIMESTAMP NOT NULL,
            removed_at TIMESTAMP
        )""",
    # Alert rules (alerts/rules.py): a condition on a topic's signal over a trailing window.
    "alert_rules": """
        CREATE TABLE IF NOT EXISTS alert_rules (
            name VARCHAR PRIMARY KEY,
            topic VARCHAR NOT NULL,
            signal VARCHAR NOT NULL,
            op VARCHAR NOT NULL,
            threshold DOUBLE NOT NULL,
            window_minutes INTEGER NOT NULL,
            cooldown_minutes INTEGER NOT NULL,
            webhook VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL,
            removed_at TIMESTAMP
        )""",
    # Every firing of a rule, once (its id: rule and minute), and how its delivery went.
    "alerts": """
        CREATE TABLE IF NOT EXISTS alerts (
            alert_id VARCHAR PRIMARY KEY,
            rule VARCHAR NOT NULL,
            topic VARCHAR NOT NULL,
            signal VARCHAR NOT NULL,
            value DOUBLE NOT NULL,
            condition VARCHAR NOT NULL,
            window_start TIMESTAMP NOT NULL,
            window_end TIMESTAMP NOT NULL,
            fired_at TIMESTAMP NOT NULL,
            text VARCHAR NOT NULL,
            attempts INTEGER NOT NULL,
            delivered_at TIMESTAMP,
            last_error VARCHAR
        )""",
    # A post matching several topics is stored once and linked to each.
    "post_topics": """
        CREATE TABLE IF NOT EXISTS post_topics (
            post_id BIGINT NOT NULL,
            topic VARCHAR NOT NULL,
            PRIMARY KEY (post_id, topic)
        )""",
    # The newest post id stored per topic: where the next search starts (`since_id`).
    "topic_cursors": """
        CREATE TABLE IF NOT EXISTS topic_cursors (
            topic VARCHAR PRIMARY KEY,
            newest_id BIGINT NOT NULL,
            updated_at TIMESTAMP NOT NULL
        )""",
    # Per topic and minute of `created_at`: posts stored and posts kept for sentiment.
    "topic_minute_stats": """
        CREATE TABLE IF NOT EXISTS topic_minute_stats (
            topic VARCHAR NOT NULL,
            minute TIMESTAMP NOT NULL,
            posts INTEGER NOT NULL,
            kept INTEGER NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            PRIMARY KEY (topic, minute)
        )""",
    # Per topic and minute of `created_at`: the distinct authors who posted on it (what
    # unique-author counts of any period are read from, added to as posts are stored).
    "topic_minute_authors": """
        CREATE TABLE IF NOT EXISTS topic_minute_authors (
            topic VARCHAR NOT NULL,
            minute TIMESTAMP NOT NULL,
            author_id VARCHAR NOT NULL,
            PRIMARY KEY (topic, minute, author_id)
        )""",
    # Per topic and 10-minute bucket of `created_at`: in how many kept posts each term occurs
    # (tweets/terms.py), added to as posts are stored; what trending compares.
    "topic_term_counts": """
        CREATE TABLE IF NOT EXISTS topic_term_counts (
            topic VARCHAR NOT NULL,
            bucket TIMESTAMP NOT NULL,
            term VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            posts INTEGER NOT NULL,
            PRIMARY KEY (topic, bucket, term)
        )""",
    # Sentiment of each kept post, one row per (post, model version): which model scored a post
    # is always recorded, and a new version adds rows beside the old ones, never over them.
    "post_sentiment": """
        CREATE TABLE IF NOT EXISTS post_sentiment (
            post_id BIGINT NOT NULL,
            model_version VARCHAR NOT NULL,
            label VARCHAR NOT NULL,
            p_negative DOUBLE NOT NULL,
            p_neutral DOUBLE NOT NULL,
            p_positive DOUBLE NOT NULL,
            score DOUBLE NOT NULL,
            scored_at TIMESTAMP NOT NULL,
            PRIMARY KEY (post_id, model_version)
        )""",
    # Per day of `created_at`, topic and model version: how the posts' labels and confidence
    # compare with the model's reference (ecoin_assets/sentiment/drift.py).
    "sentiment_drift": """
        CREATE TABLE IF NOT EXISTS sentiment_drift (
            day DATE NOT NULL,
            topic VARCHAR NOT NULL,
            model_version VARCHAR NOT NULL,
            posts INTEGER NOT NULL,
            share_negative DOUBLE NOT NULL,
            share_neutral DOUBLE NOT NULL,
            share_positive DOUBLE NOT NULL,
            mean_confidence DOUBLE NOT NULL,
            low_confidence_share DOUBLE NOT NULL,
            drift_score DOUBLE NOT NULL,
            drifting BOOLEAN NOT NULL,
            computed_at TIMESTAMP NOT NULL,
            PRIMARY KEY (day, topic, model_version)
        )""",
    # Per topic, minute of `created_at` and model version: the sentiment aggregates; the
    # engagement weights' sum and the weighted scores' sum make engagement-weighted sentiment.
    "topic_minute_sentiment": """
        CREATE TABLE IF NOT EXISTS topic_minute_sentiment (
            topic VARCHAR NOT NULL,
            minute TIMESTAMP NOT NULL,
            model_version VARCHAR NOT NULL,
            scored INTEGER NOT NULL,
            negative INTEGER NOT NULL,
            neutral INTEGER NOT NULL,
            positive INTEGER NOT NULL,
            mean_sentiment DOUBLE NOT NULL,
            share_negative DOUBLE NOT NULL,
            share_positive DOUBLE NOT NULL,
            weighted_sentiment DOUBLE NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            engaged_weight DOUBLE,
            engaged_total DOUBLE,
            PRIMARY KEY (topic, minute, model_version)
        )""",
}


DIALECTS = ("duckdb", "postgres")


@dataclass(frozen=True)
class Migration:
    version: int
    summary: str
    statements: tuple[str, ...] = ()  # DuckDB SQL, idempotent; `render` adapts it
    # the backends whose databases run the statements (every backend records the version)
    dialects: tuple[str, ...] = DIALECTS


MIGRATIONS: tuple[Migration, ...] = (
    # what every release up to 2026-12-03 created, and the tables that release added
    # (forecast_scores, sentiment_drift): CREATE TABLE IF NOT EXISTS makes them
    Migration(1, "the tables of the first versioned schema"),
    # X's public_metrics at ingestion (NULL for posts stored before they were kept)
    Migration(
        2,
        "posts keep X's public_metrics",
        tuple(
            f"ALTER TABLE posts ADD COLUMN IF NOT EXISTS {column} INTEGER"
            for column in ("like_count", "retweet_count", "reply_count", "quote_count")
        ),
    ),
    # Unique authors and engagement-weighted sentiment kept per minute as posts arrive, instead
    # of read from the window's posts; filled here from what is stored (the weight as in
    # sentiment/scoring.py ENGAGEMENT_WEIGHT when this migration was written).
    Migration(
        3,
        "per-minute unique authors and engagement-weighted sentiment",
        (
            "ALTER TABLE topic_minute_sentiment ADD COLUMN IF NOT EXISTS engaged_weight DOUBLE",
            "ALTER TABLE topic_minute_sentiment ADD COLUMN IF NOT EXISTS engaged_total DOUBLE",
            """
            UPDATE topic_minute_sentiment SET engaged_weight = e.w, engaged_total = e.ws
            FROM (
                SELECT t.topic, date_trunc('minute', p.created_at) AS minute, s.model_version,
                       sum(p.w) AS w, sum(p.w * s.score) AS ws
                FROM (SELECT post_id, created_at, 1 + ln(1 + coalesce(like_count, 0)
                             + 2 * coalesce(retweet_count, 0) + coalesce(reply_count, 0)
                             + coalesce(quote_count, 0)) AS w
                      FROM posts WHERE created_at IS NOT NULL) p
                JOIN post_topics t ON t.post_id = p.post_id
                JOIN post_sentiment s ON s.post_id = p.post_id
                GROUP BY 1, 2, 3
            ) e
            WHERE topic_minute_sentiment.topic = e.topic
              AND topic_minute_sentiment.minute = e.minute
              AND topic_minute_sentiment.model_version = e.model_version
              AND topic_minute_sentiment.engaged_weight IS NULL
            """,
            """
            INSERT INTO topic_minute_authors
            SELECT DISTINCT t.topic, date_trunc('minute', p.created_at), p.author_id
            FROM posts p JOIN post_topics t ON t.post_id = p.post_id
            WHERE p.created_at IS NOT NULL AND p.author_id IS NOT NULL
            ON CONFLICT DO NOTHING
            """,
        ),
    ),
    # The dashboard polls the posts stored in the last seconds every second, and its health
    # reads the newest post and those of the last hour: on PostgreSQL each was a scan of
    # `posts`. DuckDB needs no index for them: posts are appended in `ingested_at` order, so
    # its per-row-group min/max skip all but the newest row groups.
    Migration(
        4,
        "posts found by when they were stored (PostgreSQL)",
        ("CREATE INDEX IF NOT EXISTS posts_ingested_at ON posts (ingested_at, post_id)",),
        dialects=("postgres",),
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1].version
VERSION_TABLE = """
    CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY,
        summary VARCHAR NOT NULL,
        applied_at TIMESTAMP NOT NULL
    )"""

#: DuckDB type names that PostgreSQL spells differently (VARCHAR, VARCHAR[], INTEGER, BIGINT,
#: BOOLEAN, DATE, TIMESTAMP and JSON mean the same in both; JSON keeps the text as given)
_POSTGRES_TYPES = {"DOUBLE": "DOUBLE PRECISION"}
_POSTGRES_TYPE_WORDS = re.compile(r"\b(" + "|".join(_POSTGRES_TYPES) + r")\b(?! PRECISION)")


def render(ddl: str, dialect: str = "duckdb") -> str:
    """A statement of TABLES in `dialect`'s SQL."""
    if dialect == "duckdb":
        return ddl
    if dialect == "postgres":
        return _POSTGRES_TYPE_WORDS.sub(lambda m: _POSTGRES_TYPES[m.group(1)], ddl)
    raise ValueError(f"unknown SQL dialect {dialect!r}: use one of {', '.join(DIALECTS)}")


def schema_statements(dialect: str = "duckdb") -> list[str]:
    """Every CREATE TABLE statement, in `dialect`'s SQL."""
    return [render(ddl, dialect) for ddl in TABLES.values()]


def check_version(version: int, label: str) -> bool:
    """True when a database at `version` needs migrating; an error when a newer release made
    it (this one would not know its tables)."""
    if version > SCHEMA_VERSION:
        raise UnavailableError(
            f"the database {label} has schema version {version}, made by a newer ecoin release "
            f"than this one (which knows up to {SCHEMA_VERSION}): upgrade ecoin to use it"
        )
    return version < SCHEMA_VERSION


def migration_statements(version: int, dialect: str = "duckdb") -> list[str]:
    """What brings a database from `version` to SCHEMA_VERSION, in `dialect`'s SQL: every
    table, then each later migration and its row in `schema_migrations`."""
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")
    statements = [render(VERSION_TABLE, dialect), *schema_statements(dialect)]
    for migration in MIGRATIONS:
        if migration.version <= version:
            continue
        if dialect in migration.dialects:
            statements += [render(st, dialect) for st in migration.statements]
        summary = migration.summary.replace("'", "''")
        statements.append(
            "INSERT INTO schema_migrations VALUES "
            f"({migration.version}, '{summary}', TIMESTAMP '{now}')"
        )
    return statements


def stored_version(con: Connection) -> int:
    """The schema version of an open database (0: none recorded, an earlier release's)."""
    tables = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
    ).fetchone()
    if not tables or not tables[0]:
        return 0
    row = con.execute("SELECT max(version) FROM schema_migrations").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def apply_schema(con: Connection, dialect: str = "duckdb", label: str = "") -> int:
    """Migrate the open database to SCHEMA_VERSION (nothing when it is there); returns the
    version it had."""
    version = stored_version(con)
    if check_version(version, label or "in use"):
        for statement in migration_statements(version, dialect):
            con.execute(statement)
    return version
