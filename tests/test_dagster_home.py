"""The Dagster instance ecoin writes: no telemetry and no first-visit dialog, upgraded in place."""

from __future__ import annotations

import dagster as dg

from ecoin_assets.config import load_settings
from ecoin_assets.dagster_home import _EARLIER, INSTANCE_YAML, ensure_dagster_home


def test_a_new_instance_has_no_telemetry_and_no_newsletter_dialog(ecoin_home, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    home = ensure_dagster_home(load_settings())
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert not instance.nux_enabled  # the UI's shouldShowNux
        assert not instance.telemetry_enabled


def test_an_earlier_release_config_is_upgraded_and_a_users_is_kept(ecoin_home, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    home = ensure_dagster_home(load_settings())
    (home / "dagster.yaml").write_text(_EARLIER[0])
    ensure_dagster_home(load_settings())
    assert (home / "dagster.yaml").read_text() == INSTANCE_YAML
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: true\n")
    ensure_dagster_home(load_settings())
    assert (home / "dagster.yaml").read_text() == "telemetry:\n  enabled: true\n"
