"""Fixtures of the fault-injection suite: brokers, a client factory, a fault proxy."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import pytest
from fault_support import ClientFactory, start_broker
from proxy import FaultProxy

from mqttwire.testing.broker import MosquittoBroker

pytestmark = [pytest.mark.faults, pytest.mark.integration]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.faults)


@pytest.fixture
def broker() -> Iterator[MosquittoBroker]:
    """A fresh broker that publishes $SYS every second."""
    b = start_broker(extra_config=["sys_interval 1"])
    try:
        yield b
    finally:
        b.close()


@pytest.fixture
def persistent_broker() -> Iterator[MosquittoBroker]:
    """A broker with persistence (saved on SIGTERM and every second)."""
    b = start_broker(persistence=True)
    try:
        yield b
    finally:
        b.close()


@pytest.fixture
async def make_client() -> AsyncIterator[ClientFactory]:
    factory = ClientFactory()
    try:
        yield factory
    finally:
        await factory.close()


@pytest.fixture
async def proxy(broker: MosquittoBroker) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(broker.host, broker.port) as p:
        yield p


@pytest.fixture(autouse=True)
def _quiet_logs(caplog: pytest.LogCaptureFixture) -> None:
    # Reconnect storms are the point here; keep the captured log useful, not huge.
    caplog.set_level(logging.INFO, logger="mqttwire")
