"""Versions. Generated packages check RUNTIME_API_VERSION at import."""

from __future__ import annotations

from mqttwire.errors import ContractVersionError

__version__ = "0.1.0"

# Bump when the interface generated code uses (mqttwire.typed) changes incompatibly.
RUNTIME_API_VERSION = 1


def require_runtime_api(package: str, required: int) -> None:
    """Raise ContractVersionError when generated code needs another runtime API."""
    if required != RUNTIME_API_VERSION:
        raise ContractVersionError(package, required, RUNTIME_API_VERSION)
