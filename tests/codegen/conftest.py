"""Shared fixtures for generator tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from codegen_support import CORPUS


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.fail(
            f"asyncapi corpus not available at {CORPUS}: it lives next to the repo in ../shared"
        )
    path: Path = CORPUS
    return path
