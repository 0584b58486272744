"""Alerts on topic signals: rules, continuous evaluation, webhook delivery."""
