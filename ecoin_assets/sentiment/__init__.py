"""Sentiment of X posts: data, model, evaluation, scoring."""
