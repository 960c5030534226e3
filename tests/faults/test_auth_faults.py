"""Case 7: bad credentials and ACL denial end in typed errors, never in a retry storm."""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_support import ClientFactory, wait_state, wait_until

from mqttwire import AuthenticationError, ClientState, PublishError
from mqttwire.testing.broker import MosquittoBroker

pytestmark = [pytest.mark.faults, pytest.mark.integration]

REFUSED = "disconnected, not authorised"


def _passwd_tool() -> str:
    tool = shutil.which("mosquitto_passwd") or shutil.which(
        "mosquitto_passwd", path="/usr/bin:/usr/sbin"
    )
    if tool is None:
        pytest.fail("mosquitto_passwd is required (it ships with mosquitto)")
    return tool


def _password_file(path: Path, **users: str) -> Path:
    path.write_text("")
    for user, password in users.items():
        subprocess.run([_passwd_tool(), "-b", str(path), user, password], check=True)
    return path


@pytest.fixture
def secured_broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    passwd = _password_file(tmp_path / "passwd", svc="right")
    acl = tmp_path / "acl"
    acl.write_text("user svc\ntopic readwrite allowed/#\ntopic readwrite system/#\n")
    broker = MosquittoBroker(password_file=passwd, acl_file=acl)
    broker.start()
    try:
        yield broker
    finally:
        broker.close()


def _url(broker: MosquittoBroker, password: str) -> str:
    return f"mqtt://svc:{password}@{broker.host}:{broker.port}"


async def test_bad_credentials_raise_once_without_retrying(
    make_client: ClientFactory, secured_broker: MosquittoBroker
) -> None:
    broker = secured_broker
    bad = make_client("bad-creds", _url(broker, "wrong"), connect_retry=True)
    with pytest.raises(AuthenticationError) as info:
        await asyncio.wait_for(bad.connect(), 10)
    assert info.value.fatal and "wrong" not in str(info.value)
    await asyncio.sleep(2.0)  # a retry loop would show up in the broker log now
    assert broker.log().count(REFUSED) == 1
    assert bad.metrics.connect_failures == 1
    assert bad.state is ClientState.DISCONNECTED


async def test_credentials_revoked_while_connected_retry_slowly_and_report_once(
    make_client: ClientFactory,
    secured_broker: MosquittoBroker,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = secured_broker
    max_delay = 1.0
    client = make_client("revoked", _url(broker, "right"), reconnect_max_delay=max_delay)
    await client.connect()
    assert broker.password_file is not None
    _password_file(Path(broker.password_file), svc="changed")
    await asyncio.to_thread(broker.restart)
    await wait_until(lambda: REFUSED in broker.log(), 10, "the first refusal")
    window = 4.0
    before = broker.log().count(REFUSED)
    await asyncio.sleep(window)
    during = broker.log().count(REFUSED) - before
    # One attempt per reconnect_max_delay at most (plus one at the window's edge).
    assert 1 <= during <= window / max_delay + 1, f"{during} refused attempts in {window}s"
    assert isinstance(client.last_error, AuthenticationError)
    assert client.state is ClientState.RECONNECTING
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    refusals = [r for r in errors if "Not authorized" in r.getMessage()]
    assert len(refusals) == 1, [r.getMessage() for r in errors]  # reported once, not per try

    _password_file(Path(broker.password_file), svc="right")
    await asyncio.to_thread(broker.restart)
    await wait_state(client, ClientState.CONNECTED, 15)


async def test_acl_denied_publish_is_a_typed_error_and_not_retried(
    make_client: ClientFactory, secured_broker: MosquittoBroker
) -> None:
    broker = secured_broker
    client = make_client("acl-svc", _url(broker, "right"), protocol="5")
    received: list[bytes] = []

    async def on_allowed(payload: bytes) -> None:
        received.append(payload)

    await client.subscribe("allowed/#", on_allowed, qos=1)
    await client.connect()
    with pytest.raises(PublishError) as info:
        await client.publish("denied/topic", b"x", qos=1)
    assert info.value.reason_code == 0x87
    await client.publish("allowed/topic", b"ok", qos=1)  # the link is fine
    await wait_until(lambda: received == [b"ok"], 10, "allowed message")
    await asyncio.sleep(1.0)  # a retry of the denied message would show up now
    assert broker.log().count("Denied PUBLISH from acl-svc") == 1
    assert client.offline_queue_length == 0
    assert client.metrics.connects == 1 and client.metrics.reconnects == 0
