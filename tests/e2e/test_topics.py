"""Topics at run time: `ecoin topics`, stored in the database, followed by a running service."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import dagster as dg
import pytest
from ecoin_cli import run_ecoin

from ecoin_assets.config import load_settings
from ecoin_assets.errors import UserError
from ecoin_assets.sources.x import FilteredStream
from ecoin_assets.storage import Database
from ecoin_assets.tweets.topics import (
    active_topics,
    add_topic,
    list_topics,
    remove_topic,
    seeds,
    topic_coins,
)


@pytest.fixture
def env(tmp_path, monkeypatch) -> dict[str, str]:
    monkeypatch.setenv("ECOIN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ECOIN_TOPICS", "bitcoin,ethereum")
    monkeypatch.setenv("ECOIN_COINS", "bitcoin,ethereum")
    return dict(os.environ)


def test_seeds_until_the_first_change_then_the_table(env, tmp_path):
    db = Database(tmp_path / "home" / "ecoin.duckdb")
    seeded = seeds(load_settings())
    assert active_topics(db, seeded) == {"bitcoin": "bitcoin", "ethereum": "ethereum"}
    assert not db.exists()  # listing wrote nothing
    query = "(bitcoin OR btc) news -airdrop"
    add_topic(db, "btc news", query, "bitcoin", seeded=seeded, known_coins=["bitcoin"])
    remove_topic(db, "ethereum", seeded=seeded)
    assert active_topics(db, []) == {  # now the stored topics, whatever the seeds
        "bitcoin": "bitcoin",
        "btc news": "(bitcoin OR btc) news -airdrop",
    }
    assert topic_coins(db, []) == {"bitcoin": "bitcoin", "btc news": "bitcoin"}
    removed = [t for t in list_topics(db, [], removed=True) if not t.active]
    assert [t.name for t in removed] == ["ethereum"]
    add_topic(db, "ethereum", "ethereum OR eth", seeded=[], known_coins=[])  # another query
    assert active_topics(db, [])["ethereum"] == "ethereum OR eth"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("add", "x", "--query", "(bitcoin"), "invalid X query for topic 'x': unbalanced"),
        (("add", "x", "--query", "-bitcoin"), "nothing positive to match"),
        (("add", "x", "--query", "b" * 513), "at most 512"),
        (("add", "bitcoin"), "topic 'bitcoin' already exists"),
        (("add", "btc", "--query", "bitcoin"), "topic 'bitcoin' already follows the query"),
        (("add", "a,b"), "comma"),
        (("add", " "), "the topic name is empty"),
        (("add", "x", "--coin", "dogecoin"), "unknown coin 'dogecoin'"),
        (("remove", "solana"), "no active topic named 'solana' (active: bitcoin, ethereum)"),
    ],
)
def test_bad_changes_are_refused_and_change_nothing(env, tmp_path, args, message):
    proc = run_ecoin("topics", *args, env=env)
    assert proc.returncode == 1 and message in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1
    listed = json.loads(run_ecoin("topics", "list", "--all", "--json", env=env).stdout)
    assert [(t["name"], t["query"], t["active"]) for t in listed] == [
        ("bitcoin", "bitcoin", True),
        ("ethereum", "ethereum", True),
    ]


def test_cli_add_list_remove(env):
    added = run_ecoin("topics", "add", "sol", "--query", "solana OR $SOL", "--json", env=env)
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["query"] == "solana OR $SOL"
    assert run_ecoin("topics", "remove", "bitcoin", env=env).stdout.startswith("removed topic")
    listed = run_ecoin("topics", "list", env=env).stdout.splitlines()
    assert listed == ["ethereum: ethereum  [ethereum]", "sol: solana OR $SOL"]
    everything = run_ecoin("topics", "list", "--all", env=env).stdout
    assert "bitcoin: bitcoin  [bitcoin]  (removed " in everything


def test_a_running_stream_service_follows_topic_changes(
    x_sandbox_factory, env, tmp_path, monkeypatch
):
    server = x_sandbox_factory(clock=time.time, rate_per_minute=600, backlog_minutes=0.2)
    monkeypatch.setenv("ECOIN_TOPICS", "bitcoin")
    env = dict(env, X_API_URL=server.url, ECOIN_TOPICS="bitcoin")
    command = [sys.executable, "-m", "ecoin_assets", "tweets", "stream", "--mode", "stream"]
    proc = subprocess.Popen(
        [*command, "--json"],  # until SIGTERM
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    client = FilteredStream(server.url, "sandbox")

    def rules_become(expected: list[tuple[str, str]], within: float = 8.0) -> float:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if sorted((r.tag, r.value) for r in client.rules()) == expected:
                return time.time()
            time.sleep(0.2)
        pytest.fail(f"the rules stayed {[(r.tag, r.value) for r in client.rules()]}")

    db = Database(tmp_path / "home" / "ecoin.duckdb")
    rules_become([("ecoin:bitcoin", "bitcoin")], within=60)
    add_topic(db, "eth", "ethereum", seeded=seeds(load_settings()), known_coins=[])
    rules_become([("ecoin:bitcoin", "bitcoin"), ("ecoin:eth", "ethereum")])
    time.sleep(2)
    removed_at = time.time()
    remove_topic(db, "bitcoin", seeded=[])
    rules_become([("ecoin:eth", "ethereum")])
    time.sleep(2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert json.loads(out)["stored"] > 0
    rows = db.query(
        "SELECT topic, count(*), max(epoch(p.created_at)) FROM post_topics "
        "JOIN posts p USING (post_id) GROUP BY topic"
    )
    found = {topic: (n, newest) for topic, n, newest in rows}
    assert found["eth"][0] > 0  # recovered from the start, then followed live
    assert found["bitcoin"][1] < removed_at + 3  # collection stopped within seconds
    assert set(found) == {"bitcoin", "eth"}


def test_dagster_topic_partitions_follow_the_stored_topics(env, tmp_path):
    from ecoin_assets.resources import EcoinSettings, EcoinStore
    from ecoin_assets.tweets.sensors import topic_partitions_sensor

    settings = EcoinSettings.from_env()  # the fixture's home and seed topics
    store = EcoinStore(settings=settings)
    with dg.DagsterInstance.ephemeral() as instance:

        def tick():
            with dg.build_sensor_context(
                instance=instance, resources={"store": store, "settings": settings}
            ) as context:
                result = topic_partitions_sensor(context)
            for request in getattr(result, "dynamic_partitions_requests", None) or []:
                if isinstance(request, dg.AddDynamicPartitionsRequest):
                    instance.add_dynamic_partitions("topics", list(request.partition_keys))
                else:
                    for key in request.partition_keys:
                        instance.delete_dynamic_partition("topics", key)
            return sorted(instance.get_dynamic_partitions("topics"))

        assert tick() == ["bitcoin", "ethereum"]
        add_topic(store.database(), "sol", "solana", seeded=seeds(load_settings()), known_coins=[])
        remove_topic(store.database(), "ethereum", seeded=[])
        assert tick() == ["bitcoin", "sol"]
        with dg.build_sensor_context(
            instance=instance, resources={"store": store, "settings": settings}
        ) as context:
            assert isinstance(topic_partitions_sensor(context), dg.SkipReason)


def test_a_removed_topic_is_refused_twice(env, tmp_path):
    db = Database(tmp_path / "home" / "ecoin.duckdb")
    remove_topic(db, "bitcoin", seeded=seeds(load_settings()))
    with pytest.raises(UserError, match="no active topic named 'bitcoin'"):
        remove_topic(db, "bitcoin", seeded=[])
