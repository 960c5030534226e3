"""Benchmark suite of issue 8: typed vs raw vs peer, measured side by side in one run.

nox -s bench                              # full run -> results/latest.{json,png}
python benchmarks/run.py --quick          # smoke run -> results/quick.{json,png}
python benchmarks/run.py --cases publish_qos0,rss   # only matching cases
"""

from __future__ import annotations

import argparse
import datetime as dt
import fnmatch
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness.catalog import CASES
from harness.chart import draw_chart
from harness.goals import evaluate
from harness.machine import machine_info
from harness.markdown import render
from harness.model import Case
from harness.report import console_summary, write_json
from harness.runner import BENCH_ROOT, run_group


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer messages and 3 repetitions")
    parser.add_argument(
        "--cases",
        default="",
        help="comma-separated case names, globs or substrings (e.g. 'publish_qos0,*.typed')",
    )
    parser.add_argument(
        "--out", default="", help="result file stem (default latest, quick with --quick)"
    )
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    return parser.parse_args(argv)


def _selected(pattern: str) -> list[Case]:
    wanted = [p.strip() for p in pattern.split(",") if p.strip()]
    if not wanted:
        return list(CASES)
    return [
        case
        for case in CASES
        if any(fnmatch.fnmatch(case.name, w) or w in case.name for w in wanted)
    ]


def _log(message: str) -> None:
    print(message, flush=True)


def main(argv: list[str]) -> int:
    args = _parse(argv)
    cases = _selected(args.cases)
    if args.list or not cases:
        for case in CASES:
            print(f"{case.name:38} {case.kind:6} {case.label}")
        return 0 if cases else 2
    stem = args.out or ("quick" if args.quick else "latest")
    results_dir = BENCH_ROOT / "results"
    started = time.monotonic()
    meta: dict[str, Any] = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "command": shlex.join(["python", "benchmarks/run.py", *argv]),
        "machine": machine_info(),
    }
    groups: dict[str, list[Case]] = {}
    for case in cases:
        groups.setdefault(case.group, []).append(case)
    by_name = {}
    for group, members in groups.items():
        _log(f"== {group}: {', '.join(case.name for case in members)}")
        by_name.update({r.case.name: r for r in run_group(members, quick=args.quick, log=_log)})
    results = [by_name[case.name] for case in cases]
    meta["duration_s"] = round(time.monotonic() - started, 1)
    goals = evaluate({result.case.name: result for result in results})
    json_path = results_dir / f"{stem}.json"
    write_json(json_path, meta=meta, results=results, goals=goals)
    (results_dir / f"{stem}.md").write_text(render(json.loads(json_path.read_text())))
    machine = meta["machine"]
    title = (
        f"mqttwire benchmarks ({meta['mode']}, {meta['generated_at']}): "
        f"{machine['cpu_count']} CPU {machine['machine']}, Python {machine['python']}, "
        "loopback mosquitto, medians with min-max"
    )
    draw_chart(results, results_dir / f"{stem}.png", title=title)
    _log(console_summary(results, goals))
    _log(f"\nwrote {json_path}, {json_path.with_suffix('.png')} and {json_path.with_suffix('.md')}")
    return 1 if any(result.status == "failed" for result in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
