"""Subprocess entry: run one measurement and print its metrics as one JSON line.

python -m harness.worker cases.module:function '{"url": ..., "n": ...}'
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable
from typing import Any

RESULT_PREFIX = "BENCH-RESULT "

Measure = Callable[[dict[str, Any]], dict[str, float]]


def load(target: str) -> Measure:
    module_name, _, function_name = target.partition(":")
    function: Measure = getattr(importlib.import_module(module_name), function_name)
    return function


def main(argv: list[str]) -> int:
    target, raw_params = argv[1], argv[2]
    metrics = load(target)(json.loads(raw_params))
    sys.stdout.write(RESULT_PREFIX + json.dumps(metrics) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
