"""The note a section shows when the window holds none of what it counts."""

from __future__ import annotations

from IPython.display import Markdown

from ecoin_assets.reports import display
from ecoin_assets.reports.params import Window


def none(topic: str, window: Window, what: str = "posts") -> Markdown:
    return display.note(f"no {what} on the topic '{topic}' in {window}.")
