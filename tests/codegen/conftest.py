"""Shared fixtures for generator tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from codegen_support import CORPUS


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip("asyncapi corpus not available")
    path: Path = CORPUS
    return path
