"""The latest posts as they are stored, newest first, filtered by topic and label; new posts
are streamed into the table without reloading it."""

from __future__ import annotations

import pandas as pd
import panel as pn
from bokeh.models import NumberFormatter

from ecoin_assets.dashboard.sections.common import COLORS, heading
from ecoin_assets.dashboard.snapshot import Snapshot

COLUMNS = ["post_id", "stored", "topic", "label", "confidence", "text"]
ROLLOVER = 1000  # rows the table keeps


def new_posts(snapshot: Snapshot, seen: set[int]) -> tuple[pd.DataFrame, set[int]]:
    """The snapshot's posts not in `seen`, oldest first as table rows, and the ids to remember
    (the newest POSTS_SHOWN, no more)."""
    fresh = snapshot.posts[~snapshot.posts["post_id"].isin(seen)]
    ids = set(snapshot.posts["post_id"])
    if fresh.empty:
        return pd.DataFrame(columns=COLUMNS), ids
    rows = pd.DataFrame(
        {
            "post_id": fresh["post_id"].astype(str),  # exact in JavaScript too
            "stored": fresh["ingested_at"].dt.strftime("%Y-%m-%d %H:%M:%S"),
            "topic": fresh["topic"],
            "label": fresh["label"].fillna("unscored"),
            "confidence": fresh["confidence"].astype("float64"),
            "text": fresh["text"],
        }
    ).iloc[::-1]
    return rows, ids


def post_filter(topic: str, label: str, df: pd.DataFrame) -> pd.DataFrame:
    """The rows of the chosen topic ("all": any) and label ("all": any)."""
    if topic != "all":
        df = df[df["topic"].str.split(", ").apply(lambda topics: topic in topics)]
    if label != "all":
        df = df[df["label"] == label]
    return df


def label_colors(column: pd.Series) -> list[str]:
    return [f"color: {COLORS.get(v, '#495057')}; font-weight: 600" for v in column]


class PostsView:
    """The posts table and its topic and label filters."""

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.topic = pn.widgets.Select(name="Topic", options=["all"], value="all", width=160)
        self.label = pn.widgets.Select(
            name="Label", options=["all", *COLORS], value="all", width=160
        )
        self.table = pn.widgets.Tabulator(
            pd.DataFrame(columns=COLUMNS).astype({"confidence": "float64"}),
            name="latest_posts",
            show_index=False,
            disabled=True,
            height=640,
            sizing_mode="stretch_width",
            hidden_columns=["post_id"],
            sorters=[{"field": "stored", "dir": "desc"}],
            formatters={
                "confidence": NumberFormatter(format="0%", text_align="right"),
                "text": {"type": "textarea"},
            },
            widths={"stored": 145, "topic": 120, "label": 80, "confidence": 95},
            layout="fit_data_stretch",
            pagination=None,
        )
        self.table.add_filter(pn.bind(post_filter, self.topic, self.label))
        self.table.style.apply(label_colors, subset=["label"])

    def layout(self) -> pn.Column:
        return pn.Column(
            pn.pane.HTML(heading("Latest posts")),
            pn.Row(self.topic, self.label),
            self.table,
            sizing_mode="stretch_width",
        )

    def update(self, snapshot: Snapshot) -> None:
        options = ["all", *snapshot.topics]
        if list(self.topic.options) != options:
            self.topic.options = options
        rows, self.seen = new_posts(snapshot, self.seen)
        if rows.empty:
            return
        if self.table.value.empty:  # a stream into a table not shown yet is lost: set it
            self.table.value = rows.reset_index(drop=True)
        else:
            self.table.stream(rows, rollover=ROLLOVER, follow=False)
