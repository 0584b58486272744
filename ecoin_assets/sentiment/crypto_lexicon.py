"""Crypto slang for VADER's lexicon: words whose stance VADER does not know (or gets wrong for
crypto posts), on VADER's scale of -4 (most negative) to +4, written for ecoin.

They follow the labelling guideline of the bundled model's card: bullish, optimistic or
pleased is positive; bearish, pessimistic, angry or scammed is negative. Words that are
neutral or two-sided in crypto talk (`long`, `short`, `dip`, `whale`) are left out. Matching is
on the clean text's lower-case words, so `$BTC`-style tickers and emoji names (`rocket`) count.
"""

CRYPTO_LEXICON: dict[str, float] = {
    # bullish, optimistic, pleased
    "moon": 2.5,
    "mooning": 2.5,
    "moonshot": 2.0,
    "rocket": 1.5,  # the 🚀 of "to the moon"
    "bullish": 2.5,
    "bull": 1.0,
    "bulls": 1.0,
    "wagmi": 2.5,
    "hodl": 1.5,
    "hodling": 1.5,
    "ath": 2.0,
    "lambo": 2.0,
    "breakout": 2.0,
    "rally": 2.0,
    "rallying": 2.0,
    "pump": 1.0,
    "pumping": 1.5,
    "uptrend": 1.5,
    "undervalued": 1.5,
    "accumulating": 1.0,
    "btfd": 1.5,
    # bearish, pessimistic, angry, scammed
    "bearish": -2.5,
    "bear": -1.0,
    "bears": -1.0,
    "ngmi": -2.5,
    "rekt": -3.0,
    "rug": -3.0,
    "rugged": -3.0,
    "rugpull": -3.0,
    "ponzi": -3.0,
    "scammer": -3.0,
    "scammers": -3.0,
    "dumping": -2.0,
    "dumped": -2.0,
    "liquidated": -2.5,
    "liquidation": -2.0,
    "capitulation": -2.5,
    "bagholder": -2.0,
    "bagholders": -2.0,
    "drained": -2.5,
    "insolvent": -3.0,
    "downtrend": -1.5,
    "overvalued": -1.5,
    "shitcoin": -2.0,
    "bubble": -1.5,
    "bleeding": -2.0,
    "crashing": -2.0,
}
