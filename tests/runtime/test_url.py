"""ConnectionParams: parsing MQTT_URL, percent-decoding, IPv6, and never showing the password."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mqttwire import ConfigError, ConnectionParams
from mqttwire.mqtt_text import text_problem
from mqttwire.url import redact_url


def test_full_url() -> None:
    params = ConnectionParams.from_url("mqtt://svc:pw@broker.lan:1884")
    assert (params.scheme, params.host, params.port) == ("mqtt", "broker.lan", 1884)
    assert (params.username, params.password, params.tls) == ("svc", "pw", False)
    assert params.hostname == "broker.lan"


def test_default_ports_and_tls() -> None:
    assert ConnectionParams.from_url("mqtt://h").port == 1883
    tls = ConnectionParams.from_url("mqtts://h")
    assert tls.port == 8883 and tls.tls
    assert ConnectionParams.from_url("ssl://h:9000").tls


def test_percent_decoding_of_user_and_password() -> None:
    params = ConnectionParams.from_url("mqtt://us%40er:p%3Aa%2Fs%23s%25@h:1883")
    assert params.username == "us@er"
    assert params.password == "p:a/s#s%"


def test_ipv6_literals() -> None:
    params = ConnectionParams.from_url("mqtt://u:p@[::1]:1999")
    assert params.host == "::1" and params.port == 1999
    assert str(params) == "mqtt://u:***@[::1]:1999"
    assert ConnectionParams.from_url("mqtts://[fe80::1]").port == 8883


def test_no_credentials() -> None:
    params = ConnectionParams.from_url("mqtt://localhost:1883")
    assert params.username is None and params.password is None
    assert str(params) == "mqtt://localhost:1883"


@pytest.mark.parametrize(
    "url",
    [
        "localhost:1883",
        "http://h:1883",
        "mqtt://h:notaport",
        "mqtt://h:0",
        "mqtt://h:70000",
        "mqtt://:1883",
        "mqtt://h:1883/topic",
        "mqtt://h:1883?x=1",
        "mqtt://[::1",
    ],
)
def test_invalid_urls(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        ConnectionParams.from_url(url)
    assert info.value.variable == "MQTT_URL"


def test_password_never_in_repr_str_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    secret = "Sup3rS3cret"
    params = ConnectionParams.from_url(f"mqtt://user:{secret}@h:1883")
    assert params.password == secret
    assert secret not in repr(params)
    assert secret not in str(params)
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("connecting to %s (%r)", params, params)
    assert secret not in caplog.text
    for bad in (
        f"http://user:{secret}@h:1883",
        f"mqtt://user:{secret}@h:bad",
        f"mqtt://user:{secret}@:1",
    ):
        with pytest.raises(ConfigError) as info:
            ConnectionParams.from_url(bad)
        assert secret not in str(info.value)
        assert secret not in repr(info.value.value)


@given(
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=20
    ).filter(lambda user: text_problem(user) is None),  # MQTT's string rules for user names
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=20
    ),
)
def test_any_percent_encoded_credentials_round_trip(user: str, password: str) -> None:
    from urllib.parse import quote

    url = f"mqtt://{quote(user, safe='')}:{quote(password, safe='')}@h:1883"
    params = ConnectionParams.from_url(url)
    assert (params.username, params.password) == (user, password)
    assert "password" not in repr(params)


def test_redact_url() -> None:
    assert redact_url("mqtt://u:p@h:1") == "mqtt://u:***@h:1"
    assert redact_url("mqtt://h:1") == "mqtt://h:1"
    assert redact_url("mqtt://u@h:1") == "mqtt://u@h:1"
