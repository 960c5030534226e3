"""Where the project's shared test data lives (tars-interface samples, the AsyncAPI corpus).

It sits next to the checkout (`../shared`). A CI checkout elsewhere can point at it with
MQTTWIRE_SHARED_DIR; /work/shared is the workspace's fixed location.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _shared_dir() -> Path:
    candidates = [
        os.environ.get("MQTTWIRE_SHARED_DIR"),
        REPO.parent / "shared",
        "/work/shared",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "tars-interface").is_dir():
            return Path(candidate)
    return REPO.parent / "shared"


SHARED = _shared_dir()
CORPUS = SHARED / "asyncapi-corpus"
TARS_INTERFACE = SHARED / "tars-interface"
