"""Run cases: a fresh broker per case, a fresh subprocess per repetition (isolated RSS and GC)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.broker import BenchBroker
from harness.model import Case, CaseResult
from harness.stats import summarize
from harness.worker import RESULT_PREFIX

__all__ = ["BENCH_ROOT", "run_group"]

BENCH_ROOT = Path(__file__).resolve().parent.parent
QUICK_REPETITIONS = 3


class MeasurementError(RuntimeError):
    """A repetition's subprocess failed or printed no result."""


def _spawn(case: Case, params: dict[str, Any]) -> dict[str, float]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BENCH_ROOT), env.get("PYTHONPATH")]))
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "harness.worker", case.target, json.dumps(params)],
            cwd=BENCH_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=case.timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise MeasurementError(f"timed out after {case.timeout_s:.0f} s") from exc
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            metrics: dict[str, float] = json.loads(line[len(RESULT_PREFIX) :])
            return metrics
    lines = [line.strip() for line in (proc.stderr or proc.stdout).splitlines() if line.strip()]
    raise MeasurementError(f"exit code {proc.returncode}: {' / '.join(lines[-3:])}")


def _repetitions(case: Case, quick: bool) -> int:
    return min(case.repetitions, QUICK_REPETITIONS) if quick else case.repetitions


def run_group(cases: list[Case], *, quick: bool, log: Callable[[str], None]) -> list[CaseResult]:
    """Warm-up, then repetitions interleaved across the cases of one comparison group.

    Interleaving (typed, raw, peer, typed, raw, peer, ...) spreads slow phases of a noisy machine
    over every case of the group, so the ratios compare like with like. The group shares one
    fresh broker; a failing measurement fails its case, never the run.
    """
    results: dict[str, CaseResult] = {}
    runnable: list[Case] = []
    for case in cases:
        missing = case.missing()
        if missing:
            note = f"not installed/available: {', '.join(missing)}"
            results[case.name] = CaseResult(case, "skipped", note=note)
            log(f"  {case.name}: skipped ({note})")
        else:
            runnable.append(case)
    broker = BenchBroker() if any(c.broker == "shared" for c in runnable) else None
    runs: dict[str, list[dict[str, float]]] = {case.name: [] for case in runnable}
    failed: dict[str, str] = {}
    try:
        if broker is not None:
            broker.start()
        params = {case.name: _params(case, quick, broker) for case in runnable}
        for case in runnable:
            if case.warmup:
                _attempt(case, params[case.name], failed)
        for index in range(max((_repetitions(c, quick) for c in runnable), default=0)):
            for case in runnable:
                if case.name in failed or index >= _repetitions(case, quick):
                    continue
                metrics = _attempt(case, params[case.name], failed)
                if metrics is not None:
                    runs[case.name].append(metrics)
                    log(f"  {case.name} rep {index + 1}: {case.metric}={metrics[case.metric]:.6g}")
    finally:
        if broker is not None:
            broker.close()
    for case in runnable:
        n = int(params[case.name]["n"])
        if case.name in failed:
            results[case.name] = CaseResult(case, "failed", note=failed[case.name], n=n)
            log(f"  {case.name}: failed: {failed[case.name]}")
        else:
            summary = summarize(runs[case.name])
            results[case.name] = CaseResult(case, "ok", summary, note=case.note, n=n)
    return [results[case.name] for case in cases]


def _params(case: Case, quick: bool, broker: BenchBroker | None) -> dict[str, Any]:
    params: dict[str, Any] = {"n": case.quick_n if quick else case.n, "quick": quick}
    params.update(case.params)
    if broker is not None and case.broker == "shared":
        params["url"] = broker.url
    return params


def _attempt(case: Case, params: dict[str, Any], failed: dict[str, str]) -> dict[str, float] | None:
    try:
        return _spawn(case, params)
    except MeasurementError as exc:
        failed[case.name] = str(exc)
        return None
