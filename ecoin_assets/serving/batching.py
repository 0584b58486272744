"""BentoML's adaptive batching without its idle wait, for the sentiment service.

BentoML's dispatcher (`CorkDispatcher`) runs one batch at a time and merges the requests that
queue meanwhile into the next batch, up to `max_batch_size`: that is what serves many
concurrent single-text requests in batches. It also *corks*: even when no batch is running, it
holds requests back while `n * (age of the newest + per-item time) <= 0.95 * W`, where W is the
mean time recent batches waited before they started. Waiting behind a running batch raises W,
and a higher W holds the next requests back longer, so the wait feeds itself. Measured with
`benchmarks/serving_bench.py` at 250 single-text requests/s on 2 cores: p50 10-17 ms and p99
34-94 ms with the cork, 5-7 ms and 10-18 ms without it, at the same capacity (about 550
texts/s in a closed loop), since under load the batches fill while the previous one runs.

`release_when_idle()` keeps the batching and drops the idle wait: the optimizer still fits the
cost of a batch (which BentoML uses to shed requests past `max_latency_ms`), but reports W = 0.
It patches `bentoml._internal.marshal.dispatcher.Optimizer` (BentoML is pinned in
`constraints.txt`; tests fail if the class changes shape) in the process that calls it, the
service's worker.
"""

from __future__ import annotations

import functools

from bentoml._internal.marshal import dispatcher

_PATCHED = "_ecoin_release_when_idle"


def release_when_idle() -> None:
    """Make every adaptive-batching dispatcher of this process start a batch as soon as no
    batch is running (idempotent)."""
    optimizer = dispatcher.Optimizer
    if getattr(optimizer, _PATCHED, False):
        return
    refresh = optimizer.trigger_refresh

    @functools.wraps(refresh)
    def trigger_refresh(self: dispatcher.Optimizer) -> None:
        refresh(self)
        self.wait = 0  # the mean wait is what the cork holds requests back for

    optimizer.trigger_refresh = trigger_refresh
    setattr(optimizer, _PATCHED, True)
