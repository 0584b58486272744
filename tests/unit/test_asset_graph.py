"""The asset graph as reviewed: keys, groups, dependencies, partitions, checks, automation and
freshness, jobs and sensors. A change to any of them changes `snapshots/asset_graph.json`, so
that it is seen in review: regenerate it with
`ECOIN_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/unit/test_asset_graph.py`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

from ecoin_assets.definitions import defs

SNAPSHOT = Path(__file__).parents[1] / "snapshots" / "asset_graph.json"


def _partitions(definition: dg.PartitionsDefinition | None) -> str | None:
    if definition is None:
        return None
    if isinstance(definition, dg.MultiPartitionsDefinition):
        dims = ", ".join(
            f"{d.name}: {_partitions(d.partitions_def)}" for d in definition.partitions_defs
        )
        return f"multi({dims})"
    if isinstance(definition, dg.DynamicPartitionsDefinition):
        return f"dynamic({definition.name})"
    if isinstance(definition, dg.TimeWindowPartitionsDefinition):
        return f"time({definition.cron_schedule}, from {definition.start:%Y-%m-%d})"
    return type(definition).__name__.replace("PartitionsDefinition", "").lower()


def _freshness(policy) -> str | None:
    if policy is None:
        return None

    def hours(window) -> str:
        return f"{(window.days * 86_400 + window.seconds) / 3600:g} h"

    warn = f", warn after {hours(policy.warn_window)}" if policy.warn_window else ""
    return f"fail after {hours(policy.fail_window)}{warn}"


def graph_snapshot() -> dict:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        freshness = node.freshness_policy
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "partitions": _partitions(node.partitions_def),
            "automation": node.automation_condition.get_label()
            if node.automation_condition
            else None,
            "freshness": _freshness(freshness),
            "checks": sorted(
                c.name + (" (blocking)" if graph.get(c).blocking else "")
                for c in graph.asset_check_keys
                if c.asset_key == key
            ),
        }
    return {
        "assets": assets,
        "jobs": sorted(j.name for j in defs.jobs or []),
        "sensors": sorted(s.name for s in defs.sensors or []),
        "schedules": sorted(s.name for s in defs.schedules or []),
    }


def test_the_asset_graph_is_as_reviewed():
    found = graph_snapshot()
    if os.environ.get("ECOIN_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(found, indent=2) + "\n")
    assert found == json.loads(SNAPSHOT.read_text()), (
        "the asset graph changed: review the difference, then regenerate "
        "tests/snapshots/asset_graph.json with ECOIN_UPDATE_SNAPSHOTS=1"
    )
