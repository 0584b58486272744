"""The live dashboard: `panel serve panel_app/app.py` (started by `make demo` on port 5006).

Per topic: mean sentiment, mention volume and label shares over a chosen window, with a
headline per topic against the previous window; the newest posts as they are stored; signals
per topic (volume, authors, dominance, engagement-weighted sentiment, z-scores), the chosen
topic's trending terms, the latest alerts, and controls to add and remove topics; per coin:
price history with the forecast band, the coin topic's daily sentiment and its rolling
correlation with daily returns; and the pipeline's health. It refreshes itself without
reloading the page, the posts table every POSTS_MS (one small query of the last seconds' posts)
and the rest every REFRESH_MS, and reads the database read-only, briefly, each time.

This file composes the page: the environment, the shared controls, the layout and the
periodic refresh. Each section (its data and its view) is a module of
ecoin_assets/dashboard/sections/, and every refresh reads one snapshot
(ecoin_assets/dashboard/snapshot.py) that all sections show.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import panel as pn

from ecoin_assets.config import load_settings
from ecoin_assets.dashboard.disconnects import ignore_closed_websockets
from ecoin_assets.dashboard.sections.alerts import AlertsView
from ecoin_assets.dashboard.sections.common import CSS, heading
from ecoin_assets.dashboard.sections.correlation import CorrelationView
from ecoin_assets.dashboard.sections.health import HealthView
from ecoin_assets.dashboard.sections.posts import PostsView
from ecoin_assets.dashboard.sections.prices import PricesView
from ecoin_assets.dashboard.sections.realized import RealizedView
from ecoin_assets.dashboard.sections.sentiment import SentimentView
from ecoin_assets.dashboard.sections.signals import SignalsView
from ecoin_assets.dashboard.sections.topics import TopicsView
from ecoin_assets.dashboard.sections.trending import TrendingView
from ecoin_assets.dashboard.snapshot import WINDOWS, Snapshot, latest_posts, read_snapshot
from ecoin_assets.errors import UserError
from ecoin_assets.sentiment.registry import active_version
from ecoin_assets.storage import Database

POSTS_MS = 1000  # the posts table polls on its own: stored -> shown in about a second
REFRESH_MS = 2000  # every other section

pn.extension("tabulator", raw_css=[CSS], notifications=False)


class Dashboard:
    def __init__(self) -> None:
        self.settings = load_settings()
        self.db = Database.from_settings(self.settings, open_timeout=1.5)
        self.snapshot: Snapshot | None = None
        self.version = active_version(self.settings.home)  # read again at each full refresh

        self.window = pn.widgets.RadioButtonGroup(
            name="Window", options=list(WINDOWS), value="1 hour", button_type="light"
        )
        self.topic = pn.widgets.Select(name="Topic", options=list(self.settings.topics))
        self.coin = pn.widgets.Select(name="Coin", options=list(self.settings.coins))
        self.empty = pn.pane.Alert(
            "**No data yet.** Start the pipeline (`make demo`, or `ecoin prices fetch` and "
            "`ecoin tweets ingest`); this page fills in by itself as data arrives.",
            alert_type="info",
            visible=False,
            margin=(0, 10),
        )
        self.status = pn.pane.HTML("", css_classes=["ecoin-muted"], margin=(0, 10))

        self.sentiment = SentimentView()
        self.posts = PostsView()
        self.prices = PricesView()
        self.correlation = CorrelationView(self.prices.price.x_range)
        self.realized = RealizedView()
        self.signals = SignalsView()
        self.trending = TrendingView()
        self.alerts = AlertsView()
        self.topics = TopicsView(self.db, self.settings, lambda: self.topic.value, self.refresh)
        self.health = HealthView()
        for widget in (self.window, self.topic, self.coin):
            widget.param.watch(lambda *_: self.refresh(), "value")

    def layout(self) -> pn.Column:
        header = pn.Row(
            pn.pane.HTML("<h2 style='margin:6px 0'>ecoin · live crypto sentiment</h2>"),
            pn.layout.HSpacer(),
            self.status,
            sizing_mode="stretch_width",
        )
        sentiment = pn.Column(
            pn.Row(self.window, self.topic),
            *self.sentiment.components(),
            sizing_mode="stretch_width",
        )
        prices = pn.Column(
            pn.pane.HTML(heading("Prices and forecasts")),
            self.coin,
            *self.prices.components(),
            *self.correlation.components(),
            *self.realized.components(),
            sizing_mode="stretch_width",
        )
        signals = pn.Column(
            *self.signals.components(), *self.trending.components(), sizing_mode="stretch_width"
        )
        alerts = pn.Column(
            *self.alerts.components(), *self.topics.components(), sizing_mode="stretch_width"
        )
        return pn.Column(
            header,
            self.health.banner,
            self.empty,
            pn.Row(sentiment, self.posts.layout(), sizing_mode="stretch_width"),
            pn.Row(signals, alerts, sizing_mode="stretch_width"),
            pn.Row(prices, self.health.layout(), sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
            margin=(0, 12),
        )

    def refresh(self) -> None:
        now = datetime.now(UTC).replace(tzinfo=None)
        self.version = active_version(self.settings.home)
        if not self.db.exists():
            self.empty.visible = True
            self.health.hide_banner()
            self.status.object = f"checked {now:%H:%M:%S} UTC: no database yet"
            return
        try:
            with self.db.read() as con:
                snapshot = read_snapshot(
                    con,
                    self.version,
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
        self.sentiment.update(snapshot, self.topic.value, self.window.value)
        self.posts.set_topics(snapshot.topics)
        self.prices.update(snapshot)
        self.correlation.update(snapshot)
        self.health.update(snapshot)
        self.realized.update(snapshot)
        self.signals.update(snapshot)
        self.alerts.update(snapshot)
        self.trending.update(snapshot, self.topic.value)
        self.status.object = (
            f"updated {now:%H:%M:%S} UTC · posts every {POSTS_MS / 1000:g} s, "
            f"the rest every {REFRESH_MS / 1000:g} s"
        )

    def refresh_posts(self) -> None:
        """The posts stored since shortly before the newest one shown, into the table."""
        if not self.db.exists():
            return
        try:
            with self.db.read() as con:
                posts = latest_posts(con, self.version, self.posts.since())
        except UserError:  # busy: the next poll brings them
            return
        self.posts.update(posts)

    def _update_choices(self, snapshot: Snapshot) -> None:
        for widget, options in ((self.topic, snapshot.topics), (self.coin, snapshot.coins)):
            if options and list(widget.options) != options:
                value = widget.value
                widget.options = options
                if value in options:
                    widget.value = value


def app() -> pn.Column:
    with contextlib.suppress(RuntimeError):  # no running loop: imported outside a server
        ignore_closed_websockets(asyncio.get_running_loop())
    dashboard = Dashboard()
    dashboard.refresh()
    dashboard.refresh_posts()
    pn.state.add_periodic_callback(dashboard.refresh, period=REFRESH_MS)
    pn.state.add_periodic_callback(dashboard.refresh_posts, period=POSTS_MS)
    return dashboard.layout()


app().servable(title="ecoin · live crypto sentiment")
