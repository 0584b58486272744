"""The live dashboard: `panel serve panel_app/app.py` (started by `make demo` on port 5006).

Per topic: mean sentiment, mention volume and label shares over a chosen window, with a
headline per topic against the previous window; the newest posts as they are stored; signals
per topic (volume, authors, dominance, engagement-weighted sentiment, z-scores), the chosen
topic's trending terms, the latest alerts, and controls to add and remove topics; per coin:
price history with the forecast band, the coin topic's daily sentiment and its rolling
correlation with daily returns; and the pipeline's health. It refreshes itself every
REFRESH_MS without reloading the page, and reads the database read-only, briefly, each time.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
from datetime import UTC, datetime

import pandas as pd
import panel as pn
from bokeh.models import (
    ColumnDataSource,
    HoverTool,
    LinearAxis,
    NumberFormatter,
    NumeralTickFormatter,
    Range1d,
    Span,
)
from bokeh.plotting import figure

from ecoin_assets.config import load_settings
from ecoin_assets.dashboard.disconnects import ignore_closed_websockets
from ecoin_assets.dashboard.snapshot import WINDOWS, Snapshot, read_snapshot
from ecoin_assets.errors import UserError
from ecoin_assets.sentiment.registry import active_version
from ecoin_assets.storage import Database
from ecoin_assets.tweets.topics import add_topic, remove_topic, seeds

SIGNAL_COLUMNS = [
    "topic",
    "volume",
    "authors",
    "dominance",
    "sentiment",
    "engaged_sentiment",
    "volume_z",
    "sentiment_z",
]

REFRESH_MS = 2000  # with the stream's ~1 s batches: created -> shown within 5 s at p95
COLORS = {"negative": "#d1495b", "neutral": "#8d99ae", "positive": "#2a9d8f"}
PRICE, FORECAST, SENTIMENT = "#264653", "#e9c46a", "#6a4c93"
CSS = """
.ecoin-card {border: 1px solid #e3e6ea; border-radius: 8px; padding: 8px 14px; min-width: 150px;
  background: #fff;}
.ecoin-card .topic {font-size: 13px; color: #5c6770; text-transform: uppercase;}
.ecoin-card .value {font-size: 26px; font-weight: 600;}
.ecoin-card .change {font-size: 13px;}
.ecoin-muted {color: #6c757d; font-size: 13px;}
"""

pn.extension("tabulator", raw_css=[CSS], notifications=False)


def _source(columns: list[str], name: str) -> ColumnDataSource:
    return ColumnDataSource({c: [] for c in columns}, name=name)


def _figure(title: str, y_label: str, height: int = 230, **kwargs) -> figure:
    plot = figure(
        title=title,
        height=height,
        sizing_mode="stretch_width",
        x_axis_type="datetime",
        tools="pan,wheel_zoom,box_zoom,reset,save",
        toolbar_location="right",
        **kwargs,
    )
    plot.yaxis.axis_label = y_label
    plot.xaxis.axis_label = "time (UTC)"
    plot.title.text_font_size = "13px"
    return plot


def _legend(plot: figure, **kwargs) -> None:
    plot.legend.background_fill_alpha = 0.6
    plot.legend.label_text_font_size = "11px"
    for key, value in kwargs.items():
        setattr(plot.legend, key, value)


def _second_axis(plot: figure, name: str, start: float, end: float, label: str) -> None:
    plot.extra_y_ranges = {name: Range1d(start, end)}
    plot.add_layout(LinearAxis(y_range_name=name, axis_label=label), "right")


def _card(topic: str, row: pd.Series | None, window: str) -> str:
    if row is None or pd.isna(row.get("mean_sentiment")):
        value, change, scored = "–", "no posts in this window", 0
        color = COLORS["neutral"]
    else:
        mean = float(row["mean_sentiment"])
        color = (
            COLORS["positive"]
            if mean > 0.05
            else COLORS["negative"]
            if mean < -0.05
            else (COLORS["neutral"])
        )
        value, scored = f"{mean:+.2f}", int(row["scored"])
        if pd.isna(row.get("change")):
            change = "no previous window"
        else:
            arrow = "▲" if row["change"] > 0 else "▼" if row["change"] < 0 else "="
            change = f"{arrow} {row['change']:+.2f} vs previous {window}"
    return (
        f'<div class="ecoin-card"><div class="topic">{html.escape(topic)}</div>'
        f'<div class="value" style="color:{color}">{value}</div>'
        f'<div class="change">{html.escape(change)}</div>'
        f'<div class="ecoin-muted">{scored} posts scored</div></div>'
    )


class Dashboard:
    def __init__(self) -> None:
        self.settings = load_settings()
        self.db = Database.from_settings(self.settings, open_timeout=1.5)
        self.snapshot: Snapshot | None = None
        self.seen_posts: set[int] = set()

        self.window = pn.widgets.RadioButtonGroup(
            name="Window", options=list(WINDOWS), value="1 hour", button_type="light"
        )
        self.topic = pn.widgets.Select(name="Topic", options=list(self.settings.topics))
        self.coin = pn.widgets.Select(name="Coin", options=list(self.settings.coins))
        self.post_topic = pn.widgets.Select(name="Topic", options=["all"], value="all", width=160)
        self.post_label = pn.widgets.Select(
            name="Label", options=["all", *COLORS], value="all", width=160
        )
        self.banner = pn.pane.Alert("", alert_type="danger", visible=False, margin=(0, 10))
        self.empty = pn.pane.Alert(
            "**No data yet.** Start the pipeline (`make demo`, or `ecoin prices fetch` and "
            "`ecoin tweets ingest`); this page fills in by itself as data arrives.",
            alert_type="info",
            visible=False,
            margin=(0, 10),
        )
        self.status = pn.pane.HTML("", css_classes=["ecoin-muted"], margin=(0, 10))
        self.cards = pn.pane.HTML("", margin=(0, 10))
        self.health = pn.pane.HTML("", margin=(0, 10))
        self.realized = pn.pane.HTML("", margin=(0, 10), name="realized")
        self.correlation_note = pn.pane.HTML("", css_classes=["ecoin-muted"], margin=(0, 10))

        self._build_sentiment_plots()
        self._build_price_plots()
        self.posts = pn.widgets.Tabulator(
            pd.DataFrame(
                columns=["post_id", "stored", "topic", "label", "confidence", "text"]
            ).astype({"confidence": "float64"}),
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
        self.posts.add_filter(pn.bind(self._post_filter, self.post_topic, self.post_label))
        self.posts.style.apply(self._label_colors, subset=["label"])

        self._build_signals()
        for widget in (self.window, self.topic, self.coin):
            widget.param.watch(lambda *_: self.refresh(), "value")

    # -- layout -----------------------------------------------------------------------------
    def _build_signals(self) -> None:
        """Signals per topic, the chosen topic's trending terms, the latest alerts, and the
        controls that add and remove topics."""
        self.signals = pn.widgets.Tabulator(
            pd.DataFrame(columns=SIGNAL_COLUMNS),
            name="signals",
            show_index=False,
            disabled=True,
            height=190,
            sizing_mode="stretch_width",
            formatters={
                "dominance": NumberFormatter(format="0%", text_align="right"),
                "sentiment": NumberFormatter(format="+0.00", text_align="right"),
                "engaged_sentiment": NumberFormatter(format="+0.00", text_align="right"),
                "volume_z": NumberFormatter(format="+0.0", text_align="right"),
                "sentiment_z": NumberFormatter(format="+0.0", text_align="right"),
            },
            titles={"engaged_sentiment": "engaged sent.", "volume_z": "volume z"},
            layout="fit_data_stretch",
        )
        self.trending = pn.pane.HTML("", margin=(0, 10))
        self.alerts = pn.widgets.Tabulator(
            pd.DataFrame(columns=["fired_at", "rule", "topic", "text", "delivered"]),
            name="alerts",
            show_index=False,
            disabled=True,
            height=190,
            sizing_mode="stretch_width",
            formatters={"text": {"type": "textarea"}},
            layout="fit_data_stretch",
        )
        self.new_name = pn.widgets.TextInput(name="Name", placeholder="btc-news", width=140)
        self.new_query = pn.widgets.TextInput(
            name="X query", placeholder="(bitcoin OR btc) news -airdrop", width=260
        )
        self.add_topic = pn.widgets.Button(name="Add topic", button_type="primary", width=110)
        self.remove_topic = pn.widgets.Button(name="Remove the chosen topic", width=200)
        self.topic_message = pn.pane.HTML("", css_classes=["ecoin-muted"], margin=(0, 10))
        self.add_topic.on_click(lambda *_: self._change_topics(add=True))
        self.remove_topic.on_click(lambda *_: self._change_topics(add=False))

    def _change_topics(self, add: bool) -> None:
        """Add the topic typed in, or remove the chosen one (stored: the stream follows)."""
        seeded = seeds(self.settings)
        try:
            if add:
                topic = add_topic(
                    self.db,
                    self.new_name.value,
                    self.new_query.value or None,
                    seeded=seeded,
                    known_coins=self.settings.coins,
                )
                message = f"added {topic.name!r} ({topic.query}); collection starts within seconds"
                self.new_name.value = self.new_query.value = ""
            else:
                topic = remove_topic(self.db, self.topic.value or "", seeded=seeded)
                message = f"removed {topic.name!r}; its history is kept"
        except UserError as exc:
            message = f"not changed: {exc}"
        self.topic_message.object = html.escape(message)
        doc = pn.state.curdoc
        if doc is not None:  # a click's callback runs outside the document's lock: next tick
            doc.add_next_tick_callback(self.refresh)
        else:
            self.refresh()

    def _build_sentiment_plots(self) -> None:
        columns = [
            "ts",
            "posts_per_min",
            "scored",
            "mean_sentiment",
            "weighted_sentiment",
            "share_negative",
            "share_neutral",
            "share_positive",
        ]
        self.series = _source(columns, "sentiment_series")
        self.mood = _figure("Mean sentiment (-1 negative … +1 positive)", "sentiment")
        self.mood.y_range = Range1d(-1.05, 1.05)
        self.mood.add_layout(Span(location=0, dimension="width", line_color="#adb5bd"))
        self.mood.line(
            "ts",
            "mean_sentiment",
            source=self.series,
            color=SENTIMENT,
            width=2,
            legend_label="mean",
        )
        self.mood.scatter("ts", "mean_sentiment", source=self.series, color=SENTIMENT, size=4)
        _second_axis(self.mood, "weighted", -5, 5, "volume-weighted")
        self.mood.line(
            "ts",
            "weighted_sentiment",
            source=self.series,
            y_range_name="weighted",
            color="#f4a261",
            width=1.5,
            line_dash="dashed",
            legend_label="volume-weighted (mean × ln(1+posts))",
        )
        _legend(self.mood, location="bottom_left")
        self.mood.add_tools(
            HoverTool(
                tooltips=[
                    ("time", "@ts{%H:%M}"),
                    ("mean", "@mean_sentiment{+0.00}"),
                    ("posts scored", "@scored"),
                ],
                formatters={"@ts": "datetime"},
                mode="vline",
            )
        )

        self.volume = _figure("Mention volume", "posts per minute", x_range=self.mood.x_range)
        self.volume.vbar(
            x="ts", top="posts_per_min", source=self.series, width=50_000, color="#457b9d"
        )
        self.volume.y_range.start = 0

        self.shares = _figure(
            "Share of posts by label", "share of posts", x_range=self.mood.x_range
        )
        self.shares.vbar_stack(
            ["share_negative", "share_neutral", "share_positive"],
            x="ts",
            width=50_000,
            source=self.series,
            color=list(COLORS.values()),
            legend_label=list(COLORS),
        )
        self.shares.y_range = Range1d(0, 1)
        _legend(self.shares, location="bottom_left", orientation="horizontal")

    def _build_price_plots(self) -> None:
        self.price_src = _source(["date", "price_usd"], "prices")
        self.forecast_src = _source(["date", "yhat", "yhat_lower", "yhat_upper"], "forecast")
        self.daily_src = _source(["date", "sentiment", "posts"], "daily_sentiment")
        self.rolling_src = _source(["date", "r"], "rolling_correlation")
        self.price = _figure("Price, forecast and daily sentiment", "price (USD)", height=300)
        self.price.xaxis.axis_label = "date (UTC)"
        self.price.line(
            "date", "price_usd", source=self.price_src, color=PRICE, width=2, legend_label="price"
        )
        self.price.varea(
            "date",
            "yhat_lower",
            "yhat_upper",
            source=self.forecast_src,
            color=FORECAST,
            alpha=0.35,
            legend_label="forecast interval",
        )
        self.price.line(
            "date",
            "yhat",
            source=self.forecast_src,
            color="#e76f51",
            width=2,
            line_dash="dashed",
            legend_label="forecast",
        )
        _second_axis(self.price, "sentiment", -1.05, 1.05, "daily sentiment")
        self.price.scatter(
            "date",
            "sentiment",
            source=self.daily_src,
            y_range_name="sentiment",
            color=SENTIMENT,
            size=5,
            alpha=0.7,
            legend_label="daily sentiment",
        )
        self.price.yaxis[0].formatter = NumeralTickFormatter(format="$0,0.[00]")
        _legend(self.price, location="top_left")
        self.price.add_tools(
            HoverTool(
                tooltips=[("date", "@date{%F}"), ("price", "@price_usd{$0,0.00}")],
                formatters={"@date": "datetime"},
            )
        )
        self.correlation = _figure(
            "Rolling 30-day correlation: daily sentiment vs returns",
            "Pearson r",
            height=200,
            x_range=self.price.x_range,
        )
        self.correlation.xaxis.axis_label = "date (UTC)"
        self.correlation.y_range = Range1d(-1, 1)
        self.correlation.add_layout(Span(location=0, dimension="width", line_color="#adb5bd"))
        self.correlation.line("date", "r", source=self.rolling_src, color=SENTIMENT, width=2)

    def layout(self) -> pn.Column:
        header = pn.Row(
            pn.pane.HTML("<h2 style='margin:6px 0'>ecoin · live crypto sentiment</h2>"),
            pn.layout.HSpacer(),
            self.status,
            sizing_mode="stretch_width",
        )
        sentiment = pn.Column(
            pn.Row(self.window, self.topic),
            self.cards,
            pn.pane.Bokeh(self.mood, sizing_mode="stretch_width"),
            pn.pane.Bokeh(self.volume, sizing_mode="stretch_width"),
            pn.pane.Bokeh(self.shares, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
        posts = pn.Column(
            pn.pane.HTML("<h3 style='margin:4px 0'>Latest posts</h3>"),
            pn.Row(self.post_topic, self.post_label),
            self.posts,
            sizing_mode="stretch_width",
        )
        prices = pn.Column(
            pn.pane.HTML("<h3 style='margin:4px 0'>Prices and forecasts</h3>"),
            self.coin,
            pn.pane.Bokeh(self.price, sizing_mode="stretch_width"),
            pn.pane.Bokeh(self.correlation, sizing_mode="stretch_width"),
            self.correlation_note,
            pn.pane.HTML("<h4 style='margin:6px 0 2px'>How the published forecasts did</h4>"),
            self.realized,
            sizing_mode="stretch_width",
        )
        signals = pn.Column(
            pn.pane.HTML("<h3 style='margin:4px 0'>Signals over the window</h3>"),
            self.signals,
            self.trending,
            sizing_mode="stretch_width",
        )
        alerts = pn.Column(
            pn.pane.HTML("<h3 style='margin:4px 0'>Latest alerts</h3>"),
            self.alerts,
            pn.pane.HTML("<h3 style='margin:4px 0'>Topics</h3>"),
            pn.Row(self.new_name, self.new_query, self.add_topic),
            pn.Row(self.remove_topic, self.topic_message),
            sizing_mode="stretch_width",
        )
        return pn.Column(
            header,
            self.banner,
            self.empty,
            pn.Row(sentiment, posts, sizing_mode="stretch_width"),
            pn.Row(signals, alerts, sizing_mode="stretch_width"),
            pn.Row(
                prices,
                pn.Column(
                    pn.pane.HTML("<h3 style='margin:4px 0'>Pipeline health</h3>"),
                    self.health,
                    width=380,
                ),
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
            margin=(0, 12),
        )

    # -- refresh ----------------------------------------------------------------------------
    def refresh(self) -> None:
        now = datetime.now(UTC).replace(tzinfo=None)
        if not self.db.exists():
            self._show_empty(now)
            return
        try:
            with self.db.read() as con:
                snapshot = read_snapshot(
                    con,
                    active_version(self.settings.home),
                    self.window.value,
                    self.coin.value,
                    now,
                    list(self.settings.topics),
                    list(self.settings.coins),
                    self.topic.value,
                )
        except UserError:  # the pipeline holds the database: show the last data, try again
            self.status.object = f"database busy at {now:%H:%M:%S} UTC; retrying"
            return
        self.snapshot = snapshot
        self.empty.visible = snapshot.empty
        self._update_choices(snapshot)
        self._update_sentiment(snapshot)
        self._update_posts(snapshot)
        self._update_prices(snapshot)
        self._update_health(snapshot)
        self._update_realized(snapshot)
        self._update_signals(snapshot)
        self.status.object = f"updated {now:%H:%M:%S} UTC · refreshes every {REFRESH_MS // 1000} s"

    def _update_signals(self, snapshot: Snapshot) -> None:
        signals = snapshot.signals.reindex(columns=SIGNAL_COLUMNS)
        if not signals.equals(self.signals.value):
            self.signals.value = signals
        alerts = snapshot.alerts
        shown = pd.DataFrame(
            {
                "fired_at": alerts.get("fired_at", pd.Series(dtype="datetime64[ns]")),
                "rule": alerts.get("rule", pd.Series(dtype=str)),
                "topic": alerts.get("topic", pd.Series(dtype=str)),
                "text": alerts.get("text", pd.Series(dtype=str)),
                "delivered": alerts.get("delivered_at", pd.Series(dtype=object)).notna()
                if len(alerts)
                else pd.Series(dtype=bool),
            }
        )
        if not shown.equals(self.alerts.value):
            self.alerts.value = shown
        terms, topic = snapshot.trending, html.escape(self.topic.value or "")
        if terms.empty:
            self.trending.object = (
                f"<span class='ecoin-muted'>no trending terms for {topic} in the last hour</span>"
            )
        else:
            chips = " ".join(
                f"<span title='z {row.z:+.1f}, in {row.posts} posts' style='display:inline-block;"
                f"padding:2px 8px;margin:2px;border-radius:10px;background:#eef1f4'>"
                f"{html.escape(str(row.term))}</span>"
                for row in terms.itertuples()
            )
            self.trending.object = f"<b>Trending in {topic}</b> (last hour): {chips}"

    def _show_empty(self, now: datetime) -> None:
        self.empty.visible = True
        self.banner.visible = False
        self.status.object = f"checked {now:%H:%M:%S} UTC: no database yet"

    def _update_choices(self, snapshot: Snapshot) -> None:
        for widget, options in ((self.topic, snapshot.topics), (self.coin, snapshot.coins)):
            if options and list(widget.options) != options:
                value = widget.value
                widget.options = options
                if value in options:
                    widget.value = value
        options = ["all", *snapshot.topics]
        if list(self.post_topic.options) != options:
            self.post_topic.options = options

    def _update_sentiment(self, snapshot: Snapshot) -> None:
        series = snapshot.series[snapshot.series["topic"] == self.topic.value]
        self.series.data = {c: series[c].to_numpy() for c in self.series.data}
        _, step = WINDOWS[self.window.value]
        for renderer in (*self.volume.renderers, *self.shares.renderers):
            renderer.glyph.width = step * 60_000 * 0.8
        self.volume.yaxis.axis_label = "posts per minute" + (
            f" ({step}-min mean)" if step > 1 else ""
        )
        headlines = snapshot.headlines.set_index("topic")
        self.cards.object = (
            '<div style="display:flex;gap:10px;flex-wrap:wrap">'
            + "".join(
                _card(t, headlines.loc[t] if t in headlines.index else None, self.window.value)
                for t in snapshot.topics
            )
            + "</div>"
        )

    def _update_posts(self, snapshot: Snapshot) -> None:
        fresh = snapshot.posts[~snapshot.posts["post_id"].isin(self.seen_posts)]
        self.seen_posts = set(snapshot.posts["post_id"])  # the newest POSTS_SHOWN, no more
        if fresh.empty:
            return
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
        if self.posts.value.empty:  # a stream into a table not shown yet is lost: set it
            self.posts.value = rows.reset_index(drop=True)
        else:
            self.posts.stream(rows, rollover=1000, follow=False)

    def _update_prices(self, snapshot: Snapshot) -> None:
        def frame(data: pd.DataFrame, columns: list[str], date: str = "date") -> dict:
            if data.empty:
                return {c: [] for c in columns}
            out = {c: data[c].to_numpy() for c in columns if c != "date"}
            out["date"] = pd.to_datetime(data[date]).to_numpy()
            return out

        self.price_src.data = frame(snapshot.prices, ["date", "price_usd"])
        self.forecast_src.data = frame(
            snapshot.forecast, ["date", "yhat", "yhat_lower", "yhat_upper"], "target_date"
        )
        daily = snapshot.daily
        if not snapshot.prices.empty and not daily.empty:
            daily = daily[
                pd.to_datetime(daily["date"]) >= pd.to_datetime(snapshot.prices["date"].iloc[0])
            ]
        self.daily_src.data = frame(daily, ["date", "sentiment", "posts"])
        self.rolling_src.data = frame(snapshot.rolling, ["date", "r"])
        lags = snapshot.lags.dropna(subset=["r"]) if not snapshot.lags.empty else snapshot.lags
        if lags.empty:
            self.correlation_note.object = "Not enough days with both sentiment and prices yet."
        else:
            best = lags.loc[lags["r"].abs().idxmax()]
            lead = (
                "sentiment leads returns"
                if best["lag"] > 0
                else ("sentiment follows returns" if best["lag"] < 0 else "same day")
            )
            self.correlation_note.object = (
                f"Best lag: {int(best['lag']):+d} day(s) ({lead}), r = {best['r']:+.2f} over "
                f"{int(best['n'])} days. By lag: "
                + ", ".join(f"{int(r.lag):+d}: {r.r:+.2f}" for r in lags.itertuples())
            )

    def _update_realized(self, snapshot: Snapshot) -> None:
        scores = snapshot.forecast_scores
        if scores.empty:
            self.realized.object = (
                "<span class='ecoin-muted'>No stored forecast has reached its day yet "
                "('ecoin forecast history' issues past ones).</span>"
            )
            return
        rows = "".join(
            f"<tr><td>{r.window_days} days</td><td>{r.horizon} d</td><td>{r.n}</td>"
            f"<td>{'-' if pd.isna(r.mase) else f'{r.mase:.3f}'}</td>"
            f"<td>{r.coverage:.0%} of {r.interval:.0%}</td></tr>"
            for r in scores.itertuples()
        )
        self.realized.object = (
            "<table class='ecoin-realized' style='font-size:13px'><tr class='ecoin-muted'>"
            "<td>targets</td><td>ahead</td><td>n</td><td>MASE</td><td>in interval</td></tr>"
            f"{rows}</table><span class='ecoin-muted' style='font-size:12px'>MASE below 1 beats "
            f"the naive forecast; target days up to {scores['last_target'].max()}</span>"
        )

    def _update_health(self, snapshot: Snapshot) -> None:
        h = snapshot.health
        problems = h["problems"] if not snapshot.empty else []
        self.banner.object = "**Pipeline attention needed:** " + "; ".join(problems)
        self.banner.visible = bool(problems)

        def when(value) -> str:
            return "never" if value is None or pd.isna(value) else f"{value:%Y-%m-%d %H:%M} UTC"

        rows = [
            ("newest price", "none" if h["last_price_date"] is None else str(h["last_price_date"])),
            ("prices stored", when(h["last_price_at"])),
            ("newest post stored", when(h["last_post_at"])),
            ("posts in the last 5 min", str(h["posts_last_5_min"])),
            ("forecasts made", when(h["last_forecast_at"])),
            ("posts last scored", when(h["last_scored_at"])),
            ("sentiment model", h["sentiment_model"]),
        ]
        self.health.object = (
            "<table style='font-size:13px'>"
            + "".join(
                f"<tr><td class='ecoin-muted' style='padding-right:12px'>{k}</td>"
                f"<td>{html.escape(v)}</td></tr>"
                for k, v in rows
            )
            + "</table>"
        )

    @staticmethod
    def _post_filter(topic: str, label: str, df: pd.DataFrame) -> pd.DataFrame:
        if topic != "all":
            df = df[df["topic"].str.split(", ").apply(lambda topics: topic in topics)]
        if label != "all":
            df = df[df["label"] == label]
        return df

    @staticmethod
    def _label_colors(column: pd.Series) -> list[str]:
        return [f"color: {COLORS.get(v, '#495057')}; font-weight: 600" for v in column]


def app() -> pn.Column:
    with contextlib.suppress(RuntimeError):  # no running loop: imported outside a server
        ignore_closed_websockets(asyncio.get_running_loop())
    dashboard = Dashboard()
    dashboard.refresh()
    pn.state.add_periodic_callback(dashboard.refresh, period=REFRESH_MS)
    return dashboard.layout()


app().servable(title="ecoin · live crypto sentiment")
