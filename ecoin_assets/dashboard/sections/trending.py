"""The chosen topic's trending terms of the last hour, as chips."""

from __future__ import annotations

import html

import pandas as pd
import panel as pn

from ecoin_assets.dashboard.snapshot import Snapshot


def trending_html(terms: pd.DataFrame, topic: str | None) -> str:
    """`terms` (term, z, posts) of `topic` as chips, or a note that there are none."""
    topic = html.escape(topic or "")
    if terms.empty:
        return f"<span class='ecoin-muted'>no trending terms for {topic} in the last hour</span>"
    chips = " ".join(
        f"<span title='z {row.z:+.1f}, in {row.posts} posts' style='display:inline-block;"
        f"padding:2px 8px;margin:2px;border-radius:10px;background:#eef1f4'>"
        f"{html.escape(str(row.term))}</span>"
        for row in terms.itertuples()
    )
    return f"<b>Trending in {topic}</b> (last hour): {chips}"


class TrendingView:
    def __init__(self) -> None:
        self.terms = pn.pane.HTML("", margin=(0, 10))

    def components(self) -> list:
        return [self.terms]

    def update(self, snapshot: Snapshot, topic: str | None) -> None:
        self.terms.object = trending_html(snapshot.trending, topic)
