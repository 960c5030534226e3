"""Dispatcher: per-subscription queues, isolation, ordering, overflow, arity detection."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable

import pytest

from mqttwire import ClientMetrics, MessageMeta
from mqttwire.dispatch import Dispatcher, wants_meta


async def _until(predicate: Callable[[], bool], within: float = 5.0) -> None:
    """Yield to the workers until ``predicate`` holds (fails after ``within`` seconds)."""
    for _ in range(int(within / 0.001)):
        if predicate():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition not reached")


async def test_every_matching_subscription_runs_in_order() -> None:
    metrics = ClientMetrics()
    dispatcher = Dispatcher(metrics, 100)
    seen: dict[str, list[tuple[bytes, str]]] = {"a": [], "b": [], "c": []}

    async def a(payload: bytes, meta: MessageMeta) -> None:
        seen["a"].append((payload, meta.topic))

    async def b(payload: bytes) -> None:
        seen["b"].append((payload, ""))

    async def c(payload: bytes, meta: MessageMeta) -> None:
        seen["c"].append((payload, meta.topic))

    dispatcher.add("x/+", a, 0)
    dispatcher.add("x/#", b, 1)
    dispatcher.add("y", c, 0)
    for i in range(10):
        assert dispatcher.dispatch("x/1", str(i).encode(), 1, False) == 2
    assert dispatcher.dispatch("z", b"none", 0, False) == 0
    await _until(lambda: len(seen["a"]) == 10 and len(seen["b"]) == 10)
    assert [p for p, _ in seen["a"]] == [str(i).encode() for i in range(10)]
    assert seen["a"][0][1] == "x/1"
    assert seen["c"] == []
    assert dispatcher.filters() == {"x/+": 0, "x/#": 1, "y": 0}
    await dispatcher.close()


async def test_failing_and_slow_handlers_do_not_delay_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = ClientMetrics()
    dispatcher = Dispatcher(metrics, 100)
    gate = asyncio.Event()
    fast: list[bytes] = []

    async def broken(payload: bytes) -> None:
        raise ValueError("boom")

    async def slow(payload: bytes) -> None:
        await gate.wait()

    async def quick(payload: bytes) -> None:
        fast.append(payload)

    dispatcher.add("t/#", broken, 0)
    dispatcher.add("t/#", slow, 0)
    dispatcher.add("t/#", quick, 0)
    with caplog.at_level(logging.ERROR, logger="mqttwire.dispatch"):
        for i in range(5):
            dispatcher.dispatch(f"t/{i}", b"%d" % i, 0, False)
        await _until(lambda: len(fast) == 5 and metrics.handler_errors == 5)
    assert fast == [b"0", b"1", b"2", b"3", b"4"]
    assert "t/3" in caplog.text and "boom" in caplog.text
    assert dispatcher.pending == 5  # the slow one: 1 running + 4 queued
    gate.set()
    assert await dispatcher.drain(5.0)
    assert metrics.messages_delivered == 10
    await dispatcher.close()


async def test_overflow_drops_oldest_and_counts() -> None:
    metrics = ClientMetrics()
    dispatcher = Dispatcher(metrics, 3)
    gate = asyncio.Event()
    got: list[bytes] = []

    async def handler(payload: bytes) -> None:
        await gate.wait()
        got.append(payload)

    dispatcher.add("q", handler, 0)
    dispatcher.dispatch("q", b"0", 0, False)
    await asyncio.sleep(0)  # the worker takes message 0 and blocks
    for i in range(1, 10):
        dispatcher.dispatch("q", str(i).encode(), 0, False)
    assert metrics.queue_overflow == 6
    gate.set()
    await _until(lambda: len(got) == 4)
    assert got == [b"0", b"7", b"8", b"9"]
    await dispatcher.close()


async def test_remove_reports_last_user_of_a_filter() -> None:
    dispatcher = Dispatcher(ClientMetrics(), 10)

    async def h(payload: bytes) -> None:
        return None

    one = dispatcher.add("f", h, 0)
    two = dispatcher.add("f", h, 1)
    assert dispatcher.filters() == {"f": 1}
    assert not await dispatcher.remove(one)
    assert not one.active and two.active
    assert await dispatcher.remove(two)
    assert dispatcher.filters() == {}


def test_arity_detection() -> None:
    async def one(payload: bytes) -> None: ...
    async def two(payload: bytes, meta: MessageMeta) -> None: ...
    async def star(*args: object) -> None: ...
    async def kw_meta(payload: bytes, *, meta: MessageMeta | None = None) -> None: ...

    class Obj:
        async def method(self, payload: bytes) -> None: ...
        async def method2(self, payload: bytes, meta: MessageMeta) -> None: ...

    assert not wants_meta(one)
    assert wants_meta(two)
    assert wants_meta(star)
    assert not wants_meta(kw_meta)
    assert not wants_meta(Obj().method)
    assert wants_meta(Obj().method2)
    assert not wants_meta(functools.partial(two, b"x"))


async def test_a_handler_may_remove_its_own_subscription() -> None:
    dispatcher = Dispatcher(ClientMetrics(), 10)
    calls: list[bytes] = []
    removed = asyncio.Event()

    async def once(payload: bytes) -> None:
        calls.append(payload)
        await dispatcher.remove(sub)
        removed.set()

    sub = dispatcher.add("t", once, 0)
    dispatcher.dispatch("t", b"1", 0, False)
    dispatcher.dispatch("t", b"2", 0, False)
    await asyncio.wait_for(removed.wait(), 5)
    await _until(lambda: not sub.active)
    assert calls == [b"1"]
    assert dispatcher.dispatch("t", b"3", 0, False) == 0
