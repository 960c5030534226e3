"""Bad TLS material is a fatal ConnectError at connect(), not a raw ssl error or endless retries.

No broker is needed: the TLS context is built before any connection is attempted (the URL's
port is a free loopback port that nothing listens on).
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from mqttwire import ClientState, ConnectError, MQTTClient, MQTTClientConfig


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("kind", ["not-pem-ca", "bad-key"])
async def test_tls_setup_error_is_fatal_connect_error(tmp_path: Path, kind: str) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("this is not a certificate\n")
    settings: dict[str, object] = {"tls_ca_file": str(junk)}
    if kind == "bad-key":
        settings = {"tls_cert_file": str(junk), "tls_key_file": str(junk)}
    config = MQTTClientConfig(
        url=f"mqtts://127.0.0.1:{free_port()}",
        client_id="tls-bad",
        connect_retry=True,  # even so: a fatal error is not retried forever
        reconnect_min_delay=0.05,
        reconnect_max_delay=0.5,
        **settings,
    )
    client = MQTTClient(config)
    with pytest.raises(ConnectError) as info:
        await client.connect()
    assert info.value.fatal is True
    assert "TLS" in str(info.value)
    assert client.state is ClientState.DISCONNECTED
    await client.shutdown()
