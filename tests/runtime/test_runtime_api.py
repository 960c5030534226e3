"""The runtime serves code generated for every API version it lists, and names what it lacks."""

from __future__ import annotations

import pytest

from mqttwire import ContractVersionError
from mqttwire.version import RUNTIME_API_VERSION, SUPPORTED_RUNTIME_APIS, require_runtime_api


def test_older_generated_code_keeps_working() -> None:
    assert max(SUPPORTED_RUNTIME_APIS) == RUNTIME_API_VERSION
    for version in SUPPORTED_RUNTIME_APIS:
        require_runtime_api("pkg", version)


def test_newer_generated_code_is_refused_with_both_versions() -> None:
    with pytest.raises(ContractVersionError) as info:
        require_runtime_api("pkg", RUNTIME_API_VERSION + 1)
    assert (info.value.required, info.value.available) == (
        RUNTIME_API_VERSION + 1,
        RUNTIME_API_VERSION,
    )
