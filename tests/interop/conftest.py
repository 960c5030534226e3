"""The interoperability matrix: the same behaviour checked on every broker we can start here.

``any_broker`` is parametrized over Mosquitto (as MQTT 3.1.1 and as MQTT 5), NATS (MQTT
gateway), RabbitMQ (``rabbitmq_mqtt``) and amqtt. Each broker is started once per session on
free loopback ports (RabbitMQ takes 10-30 s) and restarted by a test that stopped it. A broker
that cannot start here makes *its* tests skip with the reason; the others still run. A
*required* broker that cannot start makes its tests fail instead: in CI (``CI`` set) Mosquitto is
required, and ``MQTTWIRE_REQUIRED_BROKERS`` (comma-separated kinds, or ``all``) names others.

Every test names the matrix row it fills with ``@pytest.mark.matrix(id, title)``; a passing test
counts as "yes" unless it records a documented limitation with ``matrix.limited(...)``. At the
end of the session the outcomes go to ``.cache/interop-results.json`` (merged with earlier runs)
and ``python tests/interop/brokers_matrix.py`` renders ``docs/brokers.md`` from it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import os
import platform
import secrets
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from broker_pool import BROKER_INFO, BrokerPool
from interop_support import EXPECT, BrokerTarget, Matrix, MatrixNote

from mqttwire import MQTTClient

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(os.environ.get("MQTTWIRE_INTEROP_RESULTS", ROOT / ".cache" / "interop-results.json"))
BROKER_KEYS = tuple(EXPECT)


@pytest.fixture(scope="session")
def broker_pool() -> Iterator[BrokerPool]:
    pool = BrokerPool()
    try:
        yield pool
    finally:
        pool.close()


def _kind(key: str) -> str:
    return key.split("-")[0]


@pytest.fixture(params=BROKER_KEYS)
def any_broker(request: pytest.FixtureRequest, broker_pool: BrokerPool) -> BrokerTarget:
    """Every broker of the matrix in turn (skips where it cannot start, with the reason)."""
    key: str = request.param
    return _target(key, broker_pool, request)


def _target(key: str, pool: BrokerPool, request: pytest.FixtureRequest) -> BrokerTarget:
    kind = _kind(key)
    request.node.user_properties.append(("matrix_broker", key))
    broker = pool.get(kind)
    if not broker.running:
        broker.start()
    return BrokerTarget(key, broker, EXPECT[key], f"{kind} {pool.versions[kind]}")


@pytest.fixture
def broker_target(
    broker_pool: BrokerPool, request: pytest.FixtureRequest
) -> Callable[[str], BrokerTarget]:
    """``broker_target("nats")``: one named column (for tests parametrized their own way)."""

    def get(key: str) -> BrokerTarget:
        return _target(key, broker_pool, request)

    return get


# ----------------------------------------------------------------------------------- clients

_ids = itertools.count()


@pytest.fixture
async def clients(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., MQTTClient]]:
    """``clients(target, "name", **settings)``: a client on ``target``; all shut down after."""
    made: list[MQTTClient] = []
    run = secrets.token_hex(2)

    def make(target: BrokerTarget, name: str, **settings: Any) -> MQTTClient:
        client = MQTTClient(target.config(f"{name}-{run}-{next(_ids)}", **settings))
        made.append(client)
        return client

    yield make
    for client in made:
        await client.shutdown()


@pytest.fixture
def ns() -> str:
    """A topic prefix of this test alone (brokers live for the session; retained messages too)."""
    return f"interop/{secrets.token_hex(4)}"


# ------------------------------------------------------------------------------ matrix record


@pytest.fixture
def matrix(request: pytest.FixtureRequest) -> Matrix:
    return Matrix(request.node)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "matrix(feature, title): the row of docs/brokers.md this interop test fills"
    )


_FEATURES_KEY = pytest.StashKey[dict[str, tuple[str, int]]]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    features: dict[str, tuple[str, int]] = {}
    for order, item in enumerate(items):
        marker = item.get_closest_marker("matrix")
        if marker is None:
            continue
        feature, title = marker.args[0], marker.args[1]
        features.setdefault(feature, (title, order))
        item.user_properties.append(("matrix_feature", feature))
    config.stash[_FEATURES_KEY] = features


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    props = dict(report.user_properties)
    feature, broker = props.get("matrix_feature"), props.get("matrix_broker")
    if feature is None or broker is None:
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        note: MatrixNote = props.get("matrix_note") or MatrixNote()
        if report.passed:
            status, notes = note.status, list(note.notes)
        elif report.skipped:
            reason = (
                report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            )
            status, notes = "skipped", [reason.removeprefix("Skipped: ")]
        else:
            status, notes = (
                "fail",
                [f"{report.when} failed: {str(report.longrepr).splitlines()[-1][:300]}"],
            )
        _RESULTS[(feature, broker)] = {
            "status": status,
            "notes": notes,
            "test": report.nodeid,
            "seconds": round(report.duration, 2),
        }


# pytest_runtest_logreport has no config argument: keep this run's results at module level.
_RESULTS: dict[tuple[str, str], dict[str, Any]] = {}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _RESULTS:
        return
    features = session.config.stash.get(_FEATURES_KEY, {})
    data: dict[str, Any] = {}
    if RESULTS.is_file():
        with contextlib.suppress(ValueError):
            data = json.loads(RESULTS.read_text())
    data.setdefault("features", {})
    data.setdefault("brokers", {})
    data.setdefault("results", {})
    for feature, (title, order) in features.items():
        data["features"][feature] = {"title": title, "order": order}
    for key, expect in EXPECT.items():
        entry = data["brokers"].setdefault(key, {})
        entry.update(label=expect.label, protocol=expect.protocol)
        entry.update(BROKER_INFO.get(_kind(key), {}))
    for (feature, broker), result in _RESULTS.items():
        data["results"].setdefault(feature, {})[broker] = result
    data["updated"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    data["machine"] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
