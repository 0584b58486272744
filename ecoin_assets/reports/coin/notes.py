"""The notes sections share when the window holds no data for them."""

from __future__ import annotations

from IPython.display import Markdown

from ecoin_assets.reports import display


def no_prices(coin: str, what: str) -> Markdown:
    return display.note(f"no prices of {coin} stored {what}.")
