"""Adaptive batching without the idle wait (`serving/batching.py`), on BentoML's own dispatcher:
requests that queue while a batch runs are merged, and a request on an idle dispatcher goes at
once however long earlier batches waited."""

from __future__ import annotations

import asyncio
import time

import pytest
from bentoml._internal.marshal.dispatcher import CorkDispatcher, Optimizer

from ecoin_assets.serving.batching import release_when_idle

BATCH_SECONDS = 0.05


@pytest.fixture(scope="module", autouse=True)
def _released() -> None:
    release_when_idle()
    release_when_idle()  # idempotent: one wrapper, not two


def test_releasing_twice_wraps_bentomls_refresh_once():
    original = Optimizer.trigger_refresh.__wrapped__
    assert not hasattr(original, "__wrapped__")
    assert original.__qualname__ == "Optimizer.trigger_refresh"


def test_the_optimizer_still_fits_batch_costs_but_reports_no_wait():
    optimizer = Optimizer(max_latency=20.0)
    for n in (1, 2, 4, 8) * 3:
        optimizer.o_stat.append((n, 0.001 + 0.002 * n, 0.5))  # (size, duration, waited)
    optimizer.trigger_refresh()
    assert optimizer.wait == 0
    assert optimizer.o_a == pytest.approx(0.002)
    assert optimizer.o_b == pytest.approx(0.001)


async def _serve() -> dict:
    """Drive a real CorkDispatcher whose batches take BATCH_SECONDS: warm it up, queue bursts
    (so batches wait behind each other), then send lone requests to an idle dispatcher."""
    batches: list[int] = []
    dispatcher = CorkDispatcher(20_000, 8, fallback=lambda: None, get_batch_size=lambda _: 1)

    @dispatcher
    async def model(items):
        batches.append(len(items))
        await asyncio.sleep(BATCH_SECONDS)
        return list(items)

    async def timed(x: int) -> float:
        started = time.perf_counter()
        assert await model(x) == x
        return time.perf_counter() - started

    for i in range(12):  # BentoML's warm-up and optimizer training (batches of 1-3)
        await timed(i)
    trained = len(batches)
    for _ in range(3):  # bursts: 40 at once, each batch waits behind the ones before
        await asyncio.gather(*(timed(i) for i in range(40)))
    burst_batches = batches[trained:]
    dispatcher.optimizer.trigger_refresh()  # as BentoML does every 5 s
    lone = []
    for i in range(5):
        await asyncio.sleep(0.02)
        lone.append(await timed(i))
    return {"burst_batches": burst_batches, "lone": lone, "wait": dispatcher.optimizer.wait}


def test_queued_requests_are_batched_and_an_idle_request_goes_at_once():
    result = asyncio.run(_serve())
    assert max(result["burst_batches"]) == 8  # full batches under load
    assert sum(result["burst_batches"]) == 3 * 40
    assert result["wait"] == 0
    # alone on an idle dispatcher: one batch's time, not the waits the bursts recorded
    assert max(result["lone"]) < BATCH_SECONDS + 0.025, result["lone"]
