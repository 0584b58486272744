"""Managing the followed topics from the page: add one (name and X query) or remove the chosen
one. Changes are stored; the stream follows them within seconds."""

from __future__ import annotations

import html
from collections.abc import Callable

import panel as pn

from ecoin_assets.config import Settings
from ecoin_assets.dashboard.sections.common import heading
from ecoin_assets.errors import UserError
from ecoin_assets.storage import Database
from ecoin_assets.tweets.topics import add_topic, remove_topic, seeds


def change_topics(
    db: Database, settings: Settings, add: bool, name: str, query: str | None, chosen: str
) -> tuple[bool, str]:
    """Add the topic `name` (with `query`, or the default) or remove the topic `chosen`;
    whether it changed, and what to tell the user."""
    seeded = seeds(settings)
    try:
        if add:
            topic = add_topic(db, name, query or None, seeded=seeded, known_coins=settings.coins)
            return True, f"added {topic.name!r} ({topic.query}); collection starts within seconds"
        topic = remove_topic(db, chosen, seeded=seeded)
        return True, f"removed {topic.name!r}; its history is kept"
    except UserError as exc:
        return False, f"not changed: {exc}"


class TopicsView:
    """The add and remove controls; `chosen` gives the topic to remove, `changed` runs after
    each click (the page refreshes)."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        chosen: Callable[[], str | None],
        changed: Callable[[], None],
    ) -> None:
        self.db, self.settings, self.chosen, self.changed = db, settings, chosen, changed
        self.name = pn.widgets.TextInput(name="Name", placeholder="btc-news", width=140)
        self.query = pn.widgets.TextInput(
            name="X query", placeholder="(bitcoin OR btc) news -airdrop", width=260
        )
        self.add = pn.widgets.Button(name="Add topic", button_type="primary", width=110)
        self.remove = pn.widgets.Button(name="Remove the chosen topic", width=200)
        self.message = pn.pane.HTML("", css_classes=["ecoin-muted"], margin=(0, 10))
        self.add.on_click(lambda *_: self.change(add=True))
        self.remove.on_click(lambda *_: self.change(add=False))

    def components(self) -> list:
        return [
            pn.pane.HTML(heading("Topics")),
            pn.Row(self.name, self.query, self.add),
            pn.Row(self.remove, self.message),
        ]

    def change(self, add: bool) -> None:
        """Add the topic typed in, or remove the chosen one (stored: the stream follows)."""
        changed, message = change_topics(
            self.db, self.settings, add, self.name.value, self.query.value, self.chosen() or ""
        )
        if changed and add:
            self.name.value = self.query.value = ""
        self.message.object = html.escape(message)
        doc = pn.state.curdoc
        if doc is not None:  # a click's callback runs outside the document's lock: next tick
            doc.add_next_tick_callback(self.changed)
        else:
            self.changed()
