"""Risk classes of the window's months (`analysis.finance.risk_classes`: high after a 50%
day-to-day fall, medium after more than 20%)."""

from __future__ import annotations

import pandas as pd
from IPython.display import Image, Markdown
from pandas.io.formats.style import Styler

from ecoin_assets.analysis.finance import HIGH_DROP, MEDIUM_DROP, risk_classes
from ecoin_assets.reports import display
from ecoin_assets.reports.coin.notes import no_prices
from ecoin_assets.reports.params import Window
from ecoin_assets.storage import Database


def risks(db: Database, coin: str, window: Window) -> pd.DataFrame:
    """`month, worst_change_pct, risk_class` of the months the window touches (each month's
    days up to the window's end)."""
    prices = db.query_df(
        "SELECT coin_id, date, price_usd FROM prices "
        "WHERE coin_id = ? AND date BETWEEN ? AND ? ORDER BY date",
        [coin, window.start.replace(day=1), window.end],
    )
    frame = risk_classes(prices)
    frame["worst_change_pct"] = frame["worst_change_1d"] * 100
    return frame[["month", "worst_change_pct", "risk_class"]]


def risk_chart(risks: pd.DataFrame, coin: str, window: Window) -> Image | Markdown:
    if risks.empty:
        return no_prices(coin, f"between {window.start.replace(day=1)} and {window.end}")
    fig, (ax,) = display.figure(height=3.2)
    months = pd.to_datetime(risks["month"])
    colors = [display.RISK_COLORS[r] for r in risks["risk_class"]]
    ax.bar(months, risks["worst_change_pct"].fillna(0), width=20, color=colors)
    for level, name in ((MEDIUM_DROP, "medium"), (HIGH_DROP, "high")):
        ax.axhline(level * 100, color=display.RISK_COLORS[name], ls="--", lw=1)
    handles = [
        ax.bar([months.iloc[0]], [0], color=c, label=name)
        for name, c in display.RISK_COLORS.items()
    ]
    ax.legend(handles=handles, title="risk class", loc="lower left", fontsize=8)
    ax.set_ylabel("worst day-to-day change (%)")
    ax.set_xlabel("month")
    ax.set_title(f"{coin}: worst daily fall per month and its risk class")
    display.date_axis(ax)
    return display.image(fig)


def risk_table(risks: pd.DataFrame) -> Styler | Markdown:
    if risks.empty:
        return display.SHOWN_ABOVE
    shown = risks.assign(month=pd.to_datetime(risks["month"]).dt.strftime("%Y-%m")).rename(
        columns={"worst_change_pct": "worst day-to-day change (%)", "risk_class": "risk class"}
    )
    counts = risks["risk_class"].value_counts()
    summary = ", ".join(f"{counts.get(k, 0)} {k}" for k in display.RISK_COLORS)
    return display.table(shown, {"worst day-to-day change (%)": "{:+.2f}"}).set_caption(
        f"Months: {summary}"
    )
