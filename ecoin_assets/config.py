"""Settings from the environment: the one module that reads it (ARCHITECTURE.md,
"Configuration"; README.md lists the variables).

Every variable is optional. Entry points (the CLI, the Dagster definitions, the services, the
dashboard, the report notebooks) call `load_settings()` once, or build the `EcoinSettings`
resource (resources.py), and hand the result down; domain code never reads the environment.
Secrets (API keys, tokens, the database URL) are read here and nowhere else, and
`Settings.__repr__` never shows them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ecoin_assets.errors import InvalidInputError, UserError

DEFAULT_COINS = ("bitcoin", "ethereum", "cardano", "solana", "dogecoin")
SANDBOX_HOST = "127.0.0.1"
SANDBOX_COINGECKO_PORT = 8701
SANDBOX_X_PORT = 8702
PUBLIC_COINGECKO_URL = "https://api.coingecko.com/api/v3/"
PRO_COINGECKO_URL = "https://pro-api.coingecko.com/api/v3/"

_COIN_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def validate_coin_id(coin: str) -> str:
    """Return a CoinGecko coin id in canonical form, or raise a UserError."""
    cid = coin.strip().lower()
    if not _COIN_ID.match(cid):
        raise InvalidInputError(
            f"invalid coin id {coin!r}: use a CoinGecko id such as 'bitcoin' "
            "(lowercase letters, digits and dashes)"
        )
    return cid


#: `Settings` inputs: the `EcoinSettings` resource field for each variable
VARIABLES = {
    "ecoin_home": "ECOIN_HOME",
    "ecoin_mode": "ECOIN_MODE",
    "ecoin_coins": "ECOIN_COINS",
    "ecoin_topics": "ECOIN_TOPICS",
    "coingecko_api_url": "COINGECKO_API_URL",
    "x_api_url": "X_API_URL",
    "ecoin_sentiment_url": "ECOIN_SENTIMENT_URL",
}
#: the secret ones: passed to Dagster as `EnvVar`s, never as values
SECRET_VARIABLES = {
    "coingecko_demo_api_key": "COINGECKO_DEMO_API_KEY",
    "coingecko_pro_api_key": "COINGECKO_PRO_API_KEY",
    "x_bearer_token": "X_BEARER_TOKEN",
    "ecoin_database_url": "ECOIN_DATABASE_URL",
}


def read_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The `Settings` variables set (non-empty) in `env` (default: the process environment)."""
    env = os.environ if env is None else env
    names = (*VARIABLES.values(), *SECRET_VARIABLES.values())
    return {name: env[name] for name in names if env.get(name)}


def environment_value(name: str) -> str | None:
    """A variable looked up when it is used rather than at start, for the few that must be:
    `DAGSTER_HOME` (Dagster's own), `ECOIN_ENCODER_CACHE` (a build cache shared by test
    runs) and the webhook secrets alerts name as `env:NAME` (resolved only to send)."""
    return os.environ.get(name) or None


@dataclass(frozen=True)
class Settings:
    home: Path
    mode: str
    coins: tuple[str, ...]
    topics: tuple[str, ...]
    coingecko_url: str
    x_api_url: str
    coingecko_demo_key: str | None = field(default=None, repr=False)
    coingecko_pro_key: str | None = field(default=None, repr=False)
    x_bearer_token: str | None = field(default=None, repr=False)
    #: `ECOIN_DATABASE_URL`: a PostgreSQL database instead of the DuckDB file (may hold a password)
    database_url: str | None = field(default=None, repr=False)
    #: `ECOIN_SENTIMENT_URL`: the BentoML sentiment service that scores for the stream service
    sentiment_url: str | None = None

    @property
    def db_path(self) -> Path:
        """The DuckDB file, used when `database_url` is not set."""
        return self.home / "ecoin.duckdb"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from `env` (default: the process environment)."""
    env = read_environment(env)
    mode = env.get("ECOIN_MODE", "sandbox").strip().lower() or "sandbox"
    if mode not in ("sandbox", "live"):
        raise UserError(f"ECOIN_MODE must be 'sandbox' or 'live', not {mode!r}")
    home = Path(env.get("ECOIN_HOME") or "./data").expanduser().resolve()

    coins_raw = env.get("ECOIN_COINS", "")
    coins = tuple(validate_coin_id(c) for c in coins_raw.split(",") if c.strip()) or DEFAULT_COINS
    topics_raw = env.get("ECOIN_TOPICS", "")
    topics = tuple(t.strip() for t in topics_raw.split(",") if t.strip()) or coins

    demo_key = env.get("COINGECKO_DEMO_API_KEY") or None
    pro_key = env.get("COINGECKO_PRO_API_KEY") or None
    if env.get("COINGECKO_API_URL"):
        coingecko_url = env["COINGECKO_API_URL"]
    elif mode == "sandbox":
        coingecko_url = f"http://{SANDBOX_HOST}:{SANDBOX_COINGECKO_PORT}/api/v3/"
    else:
        coingecko_url = PRO_COINGECKO_URL if pro_key else PUBLIC_COINGECKO_URL

    if env.get("X_API_URL"):
        x_url = env["X_API_URL"]
    elif mode == "sandbox":
        x_url = f"http://{SANDBOX_HOST}:{SANDBOX_X_PORT}"
    else:
        x_url = "https://api.x.com"

    database_url = env.get("ECOIN_DATABASE_URL", "").strip() or None
    if database_url and not database_url.startswith(("postgresql://", "postgres://")):
        raise UserError(
            "ECOIN_DATABASE_URL must be a PostgreSQL URL (postgresql://user:password@host/db); "
            "unset it to use the DuckDB file in ECOIN_HOME"
        )

    return Settings(
        home=home,
        mode=mode,
        coins=coins,
        topics=topics,
        coingecko_url=coingecko_url,
        x_api_url=x_url,
        coingecko_demo_key=demo_key,
        coingecko_pro_key=pro_key,
        x_bearer_token=env.get("X_BEARER_TOKEN") or None,
        database_url=database_url,
        sentiment_url=env.get("ECOIN_SENTIMENT_URL", "").strip().rstrip("/") or None,
    )
