"""Analyses across domains: how sentiment and prices move together."""
