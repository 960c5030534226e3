"""``mqttwire watch CONTRACT --url URL``: judge live traffic against the contract.

Exit codes: 0 done (no ``--fail-on`` class seen), 1 a ``--fail-on`` class was seen,
2 usage, contract or connection errors.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import textwrap
import time
from pathlib import Path

from mqttwire_codegen.api import load_contract
from mqttwire_codegen.commands._common import (
    EXIT_DIFFERS,
    EXIT_INVALID,
    EXIT_OK,
    guarded,
    is_terminal,
    print_error,
)
from mqttwire_codegen.ir import Contract
from mqttwire_codegen.watch.findings import FAIL_ON_GROUPS, FindingClass, parse_fail_on

_CLASSES = textwrap.fill(
    "finding classes: " + ", ".join(c.value for c in FindingClass),
    92,
    subsequent_indent="  ",
    break_on_hyphens=False,
)

DESCRIPTION = """\
Subscribe to every topic of a broker (read-only, '#' at QoS 2) and judge each message as the
generated subscribers would (payload schema, envelope, event type, topic parameters, content
type), plus what a subscriber cannot see: the QoS and retain flag it arrived with, topics no
channel declares, and publishers (envelope source) missing from the channel's x-publishers.
"""

EPILOG = f"""\
{_CLASSES}
--fail-on also takes the groups {", ".join(FAIL_ON_GROUPS)} (invalid = payload, envelope,
event type, topic parameter, content type; delivery = QoS and retain; undeclared = topics and
publishers).

exit codes: 0 no --fail-on class seen, 1 a --fail-on class was seen, 2 usage, contract or
connection error. The watcher never publishes (no will, health or heartbeat).

example (a CI gate): mqttwire watch contracts/api.yaml --url mqtt://staging:1883 \\
    --duration 60 --fail-on invalid --report watch.json
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "watch",
        help="judge the live traffic of a broker against a contract (read-only)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("contract", type=Path, help="AsyncAPI contract (YAML or JSON)")
    parser.add_argument(
        "--url",
        default=os.environ.get("MQTT_URL"),
        help="broker URL, mqtt://[user:password@]host:port or mqtts://... (default: $MQTT_URL)",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        metavar="S",
        help="stop after S seconds (default: until Ctrl-C or SIGTERM)",
    )
    parser.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="table: live per-topic table and a summary (default); json: the report on stdout",
    )
    parser.add_argument(
        "--fail-on",
        default="",
        metavar="CLASSES",
        help="comma-separated finding classes or groups that make the exit code 1 (default: none)",
    )
    parser.add_argument(
        "--report", type=Path, metavar="PATH", help="also write the JSON report here"
    )
    parser.add_argument(
        "--protocol", choices=("3.1.1", "5"), default="3.1.1", help="MQTT version (default 3.1.1)"
    )
    parser.add_argument(
        "--client-id", help="client id of the watcher (default: mqttwire-watch-<random>)"
    )
    parser.add_argument(
        "--publisher-alias",
        action="append",
        default=[],
        metavar="SOURCE=NAME",
        help="count envelope source SOURCE as the x-publishers name NAME (repeatable)",
    )
    parser.add_argument(
        "--max-topics",
        type=int,
        default=500,
        metavar="N",
        help="topics tracked one by one; more share one '(other topics)' row (default 500)",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=None,
        metavar="S",
        help="table refresh period (default 1 s on a terminal, 10 s otherwise)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        fail_on = parse_fail_on(args.fail_on)
    except ValueError as exc:
        print_error(f"mqttwire watch: --fail-on: {exc}")
        return EXIT_INVALID
    if not args.url:
        print_error("mqttwire watch: no broker: pass --url or set MQTT_URL")
        return EXIT_INVALID
    aliases: dict[str, str] = {}
    for item in args.publisher_alias:
        source, sep, name = item.partition("=")
        if not sep or not source or not name:
            print_error(f"mqttwire watch: --publisher-alias {item!r}: expected SOURCE=NAME")
            return EXIT_INVALID
        aliases[source] = name
    args.aliases = aliases
    if args.max_topics < 1 or (args.duration is not None and args.duration <= 0):
        print_error("mqttwire watch: --max-topics and --duration must be positive")
        return EXIT_INVALID
    contracts: list[Contract] = []

    def load() -> int:
        contracts.append(load_contract(args.contract)[0])
        return EXIT_OK

    code = guarded(load)
    if code != EXIT_OK:
        return code
    return asyncio.run(_watch(args, contracts[0], fail_on))


async def _watch(
    args: argparse.Namespace, contract: Contract, fail_on: frozenset[FindingClass]
) -> int:
    from mqttwire import ConfigError, MQTTWireError
    from mqttwire_codegen.watch.live import Watcher, watch_config
    from mqttwire_codegen.watch.report import WatchReport
    from mqttwire_codegen.watch.table import LiveTable, summary_lines

    try:
        config = watch_config(args.url, client_id=args.client_id, protocol=args.protocol)
    except ConfigError as exc:
        print_error(f"mqttwire watch: {exc}")
        return EXIT_INVALID
    watcher = Watcher(
        contract,
        config,
        report=WatchReport(max_topics=args.max_topics),
        publisher_aliases=args.aliases,
    )
    try:
        await watcher.start()
    except MQTTWireError as exc:
        await watcher.stop()
        print_error(f"mqttwire watch: cannot watch {watcher.meta()['broker']}: {exc}")
        return EXIT_INVALID
    print(
        f"mqttwire watch: watching {watcher.meta()['broker']} ({watcher.coverage}) against "
        f"{contract.title} {contract.version}; Ctrl-C stops",
        file=sys.stderr,
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tty = is_terminal(sys.stdout) and os.environ.get("TERM") != "dumb"
    interval = args.interval or (1.0 if tty else 10.0)
    table = LiveTable(sys.stdout, in_place=tty) if args.format == "table" else None
    started = time.monotonic()
    try:
        while not stop.is_set():
            elapsed = time.monotonic() - started
            wait = interval
            if args.duration is not None:
                if elapsed >= args.duration:
                    break
                wait = min(wait, args.duration - elapsed)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
            if table is not None:
                table.refresh(watcher.report, time.monotonic() - started)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        meta = watcher.meta()
        await watcher.stop()
    report = watcher.report
    failed = report.seen(fail_on)
    document = report.to_json(
        {**meta, "fail_on": sorted(c.value for c in fail_on), "failed": [c.value for c in failed]}
    )
    text = json.dumps(document, indent=2, ensure_ascii=True)
    if args.report is not None:
        try:
            args.report.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            print_error(f"mqttwire watch: cannot write the report: {exc}")
            return EXIT_INVALID
    if args.format == "json":
        print(text)
    else:
        print("\n".join(summary_lines(report, failed)))
    return EXIT_DIFFERS if failed else EXIT_OK
