"""A throwaway PostgreSQL server for tests, from the server binaries on this machine.

Registered as a pytest plugin in `conftest.py`, so any test can ask for these fixtures:

- `postgres_server` (session): the running `PostgresServer`, started on first use;
- `postgres_url` (session): `postgresql://ecoin:<password>@127.0.0.1:<port>/postgres`, the
  superuser's URL of the server's default database;
- `postgres_database_url` (function): the URL of a fresh, empty database, dropped afterwards.

The server is a new cluster (`initdb`) in a temporary folder, listening on 127.0.0.1 on a free
port (password authentication) and on a Unix socket in that folder, with durability switched
off for speed. It is stopped and its folder removed at the end of the session. PostgreSQL
refuses to run as root, so under root the cluster belongs to, and runs as, the `nobody` user.

When the binaries are missing (Debian: `apt-get install postgresql`) or the server cannot
start, the tests that need it are skipped with the reason; with `ECOIN_REQUIRE_POSTGRES=1`
they fail instead, so that CI cannot pass without running them.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn
from urllib.parse import quote

import psycopg2
import pytest
from psycopg2 import sql

USER = "ecoin"
UNPRIVILEGED_USER = "nobody"
#: speed over durability: the cluster is thrown away after the session
_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "100",
    "shared_buffers": "32MB",
    "log_min_messages": "warning",
}


class PostgresUnavailableError(Exception):
    """The server binaries are missing or the server could not be started (the message says why)."""


def find_bindir() -> Path:
    """Folder with `initdb` and `postgres`: on `PATH`, else Debian's newest version."""
    on_path = shutil.which("initdb")
    candidates = [Path(on_path).resolve().parent] if on_path else []

    def version(path: str) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", Path(path).parent.parent.name))

    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version, reverse=True)
    candidates += [Path(p).parent for p in debian]
    for bindir in candidates:
        if all((bindir / tool).is_file() for tool in ("initdb", "postgres")):
            return bindir
    raise PostgresUnavailableError(
        "PostgreSQL server binaries (initdb, postgres) not found on PATH or under "
        "/usr/lib/postgresql/*/bin: install them, e.g. `apt-get install postgresql` on Debian"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """A PostgreSQL cluster in its own temporary folder; `start()`, then `stop()`."""

    def __init__(self, bindir: Path | None = None) -> None:
        self.bindir = bindir or find_bindir()
        self.password = secrets.token_urlsafe(18)
        self.port = 0
        self.root = Path(tempfile.mkdtemp(prefix="ecoin-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._run_as: pwd.struct_passwd | None = None
        self._proc: subprocess.Popen | None = None
        if os.geteuid() == 0:
            try:
                self._run_as = pwd.getpwnam(UNPRIVILEGED_USER)
            except KeyError:
                self._cleanup()
                raise PostgresUnavailableError(
                    f"running as root and there is no {UNPRIVILEGED_USER!r} user to run "
                    "PostgreSQL as (it refuses to run as root)"
                ) from None
            os.chown(self.root, self._run_as.pw_uid, self._run_as.pw_gid)

    def url(self, database: str = "postgres") -> str:
        """The superuser's URL of `database` over TCP."""
        return (
            f"postgresql://{USER}:{quote(self.password, safe='')}@127.0.0.1:{self.port}/"
            f"{quote(database, safe='')}"
        )

    def _child_options(self) -> dict:
        """`subprocess` options: a clean environment, and the unprivileged user under root."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"}
        options: dict = {"cwd": self.root, "env": env}
        if self._run_as is not None:
            options |= {
                "user": self._run_as.pw_uid,
                "group": self._run_as.pw_gid,
                "extra_groups": [],
            }
        return options

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **self._child_options(),
        )

    def _log_tail(self, lines: int = 8) -> str:
        with contextlib.suppress(OSError):
            return " | ".join(self.log.read_text(errors="replace").strip().splitlines()[-lines:])
        return "(no server log)"

    def start(self) -> None:
        """initdb, configure and start the server; raise `PostgresUnavailableError` on failure."""
        try:
            self._start()
        except (OSError, subprocess.SubprocessError) as exc:
            self.stop()
            raise PostgresUnavailableError(f"could not start PostgreSQL: {exc}") from exc
        except PostgresUnavailableError:
            self.stop()
            raise

    def _start(self) -> None:
        pwfile = self.root / "password"
        pwfile.write_text(self.password + "\n")
        if self._run_as is not None:
            os.chown(pwfile, self._run_as.pw_uid, self._run_as.pw_gid)
        done = self._run(
            "initdb",
            *("-D", str(self.data), "-U", USER, f"--pwfile={pwfile}"),
            *("--auth-host=scram-sha-256", "--auth-local=trust"),
            *("-E", "UTF8", "--locale=C", "--no-sync"),
        )
        pwfile.unlink()
        if done.returncode != 0:
            raise PostgresUnavailableError(
                f"initdb failed (exit {done.returncode}): {done.stderr.strip()[-600:]}"
            )
        settings = {**_SETTINGS, "unix_socket_directories": f"'{self.root}'"}
        for _attempt in range(3):  # another process may take the free port before the server
            self.port = _free_port()
            conf = {**settings, "port": str(self.port)}
            with (self.data / "postgresql.conf").open("a") as f:
                f.write("".join(f"{k} = {v}\n" for k, v in conf.items()))
            if self._launch():
                return
            if "could not bind" not in self._log_tail(20).lower():
                break
        raise PostgresUnavailableError(f"the PostgreSQL server did not start: {self._log_tail()}")

    def _launch(self, timeout: float = 60) -> bool:
        """Run `postgres` as a child process; True once it accepts connections."""
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen(
                [str(self.bindir / "postgres"), "-D", str(self.data)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                **self._child_options(),
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._proc = None
                return False
            try:
                psycopg2.connect(self.url(), connect_timeout=2).close()
                return True
            except psycopg2.OperationalError:
                time.sleep(0.05)
        self.stop_server()
        return False

    def stop_server(self) -> None:
        """Fast shutdown of the server process (SIGINT), killed if it takes over 30 s."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop(self) -> None:
        """Stop the server (if it runs) and remove its folder."""
        self.stop_server()
        self._cleanup()

    def _cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self) -> str:
        """Create a new empty database; return its URL."""
        name = f"test_{secrets.token_hex(6)}"
        with contextlib.closing(psycopg2.connect(self.url())) as con:
            con.autocommit = True
            with con.cursor() as cur:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, closing any connection still open to it."""
        with contextlib.closing(psycopg2.connect(self.url())) as con:
            con.autocommit = True
            with con.cursor() as cur:
                cur.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("ECOIN_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"ECOIN_REQUIRE_POSTGRES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session, started on first use (~1 s)."""
    try:
        server = PostgresServer()
        server.start()
    except PostgresUnavailableError as exc:
        _unavailable(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """URL of the session server's `postgres` database (superuser `ecoin`, with password)."""
    return postgres_server.url()


@pytest.fixture
def postgres_database_url(postgres_server: PostgresServer) -> Iterator[str]:
    """URL of a fresh, empty database on the session server, dropped after the test."""
    url = postgres_server.create_database()
    try:
        yield url
    finally:
        postgres_server.drop_database(url.rsplit("/", 1)[1])
