"""Fixtures for the runtime unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from shared_data import TARS_INTERFACE

TARS = TARS_INTERFACE


@pytest.fixture
def tars_examples() -> Path:
    path = TARS / "examples"
    if not path.is_dir():
        pytest.fail(f"the TARS interface samples are missing: {path}")
    return path


@pytest.fixture
def tars_schemas() -> Path:
    return TARS / "schemas"
