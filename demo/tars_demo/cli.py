"""Command line of the demo: ``tars-demo [--broker KIND] [--utterances N] ...``.

The ``tars-demo`` console script and ``python -m tars_demo`` both run :func:`main`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from tars_demo.broker import BROKER_CHOICES, BROKER_ENV

__all__ = ["add_arguments", "build_parser", "main", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    default_broker = os.environ.get(BROKER_ENV) or "auto"
    parser.add_argument(
        "--broker",
        choices=BROKER_CHOICES,
        default=default_broker if default_broker in BROKER_CHOICES else "auto",
        help=(
            "auto (default): MQTT_URL if set, else mosquitto from PATH, else in-process amqtt; "
            f"or force one (default from ${BROKER_ENV})"
        ),
    )
    parser.add_argument(
        "--utterances",
        type=int,
        choices=range(1, 6),
        default=3,
        metavar="N",
        help="utterances before the tts service is killed (1-5, default 3)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="give up (exit 1) after this many seconds (default 60)",
    )
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="after the scenario, keep the services running until Ctrl-C/SIGTERM",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="also show the services' own output"
    )
    parser.add_argument(
        "--watch",
        nargs="?",
        const="",
        default=None,
        metavar="CONTRACT",
        help=(
            "run `mqttwire watch` beside the services and print its summary at the end "
            "(contract: contracts/mqtt_client_api.yaml of the source tree unless given)"
        ),
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tars-demo",
        description=(
            "Three TARS services (router, llm, tts) talk through the generated TarsClient; "
            "tts is killed with SIGKILL, its last will marks it unhealthy, and it recovers."
        ),
    )
    add_arguments(parser)
    return parser


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    """Start the broker, run the demo, stop the broker; returns the exit code."""
    if os.environ.get(BROKER_ENV) and os.environ[BROKER_ENV] not in BROKER_CHOICES:
        print(
            f"demo FAILED: ${BROKER_ENV}={os.environ[BROKER_ENV]!r} is not one of "
            f"{', '.join(BROKER_CHOICES)}",
            file=sys.stderr,
        )
        return 2
    from mqttwire.testing.broker import BrokerNotAvailableError
    from tars_demo.broker import start_broker
    from tars_demo.run import DemoOptions, run_demo
    from tars_demo.watching import DemoWatch, WatchUnavailableError, find_contract

    watch = None
    if args.watch is not None:
        try:
            watch = DemoWatch(find_contract(args.watch or None))
        except WatchUnavailableError as exc:
            print(f"demo FAILED: {exc}", file=sys.stderr)
            return 2

    # Until the event loop installs its own handlers, SIGTERM unwinds like Ctrl-C so that the
    # broker we start is stopped on the way out.
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        print("== mqttwire demo: router, llm and tts on the generated TarsClient ==", flush=True)
        try:
            broker = start_broker(args.broker)
        except (BrokerNotAvailableError, RuntimeError, TimeoutError) as exc:
            print(f"demo FAILED: {exc}", file=sys.stderr)
            return 1
        try:
            print(f"broker: {broker.description} [{broker.kind}]", flush=True)
            options = DemoOptions(
                utterances=args.utterances,
                timeout=args.timeout,
                verbose=args.verbose,
                keep_running=args.keep_running,
            )
            return asyncio.run(run_demo(broker, options, watch=watch))
        finally:
            signal.signal(signal.SIGTERM, _raise_interrupt)  # asyncio reset it to the default
            broker.close()
    except KeyboardInterrupt:
        print("interrupted; everything shut down", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))
