"""The latest posts as they are stored, newest first, filtered by topic and label; new posts
are streamed into the table without reloading it.

The page polls for posts every second on its own, apart from its other sections: each poll
reads only the posts stored since shortly before the newest one shown (`since`), so a post is
on screen about a second after it is stored however long the rest of the page takes."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import panel as pn
from bokeh.models import NumberFormatter

from ecoin_assets.dashboard.sections.common import COLORS, heading

COLUMNS = ["post_id", "stored", "topic", "label", "confidence", "text"]
ROLLOVER = 1000  # rows the table keeps
OVERLAP = timedelta(seconds=60)
SEEN_KEPT = 5000  # ids remembered as shown: more than a poll's overlap can bring back


def new_posts(posts: pd.DataFrame, seen: dict[int, None]) -> pd.DataFrame:
    """The posts (newest first, as `latest_posts` reads them) not in `seen`, oldest first as
    table rows; `seen` remembers their ids (the newest SEEN_KEPT, no more)."""
    fresh = posts[~posts["post_id"].isin(list(seen))]
    if fresh.empty:
        return pd.DataFrame(columns=COLUMNS)
    for post_id in fresh["post_id"].iloc[::-1]:
        seen[post_id] = None
    for post_id in list(seen)[: max(len(seen) - SEEN_KEPT, 0)]:
        del seen[post_id]
    return pd.DataFrame(
        {
            "post_id": fresh["post_id"].astype(str),  # exact in JavaScript too
            "stored": fresh["ingested_at"].dt.strftime("%Y-%m-%d %H:%M:%S"),
            "topic": fresh["topic"],
            "label": fresh["label"].fillna("unscored"),
            "confidence": fresh["confidence"].astype("float64"),
            "text": fresh["text"],
        }
    ).iloc[::-1]


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
        self.seen: dict[int, None] = {}  # ordered: the oldest are forgotten first
        self.newest: datetime | None = None  # the newest `ingested_at` shown
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
            widths={"stored": 165, "topic": 120, "label": 80, "confidence": 95},  # seconds shown
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

    def since(self) -> datetime | None:
        """Where the next poll starts: OVERLAP before the newest post shown, so that a post
        committed late with an earlier `ingested_at` (another writer) is still found."""
        return self.newest - OVERLAP if self.newest is not None else None

    def set_topics(self, topics: list[str]) -> None:
        options = ["all", *topics]
        if list(self.topic.options) != options:
            self.topic.options = options

    def update(self, posts: pd.DataFrame) -> None:
        """Add `posts` (`latest_posts`'s frame) not shown yet."""
        if not posts.empty:
            newest = posts["ingested_at"].max().to_pydatetime()
            self.newest = max(self.newest, newest) if self.newest else newest
        rows = new_posts(posts, self.seen)
        if rows.empty:
            return
        if self.table.value.empty:  # a stream into a table not shown yet is lost: set it
            self.table.value = rows.reset_index(drop=True)
        else:
            self.table.stream(rows, rollover=ROLLOVER, follow=False)
