"""``mqttwire demo``: run the three-service demo (the same program as ``python -m tars_demo``).

The demo package is imported only when the command runs, so ``mqttwire --help`` and the other
commands never load it. The options mirror ``tars_demo.cli.add_arguments`` (a test keeps the two
in step).
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "demo",
        help="run the demo: router, llm and tts talk over an embedded broker; tts is killed "
        "and recovers",
        description=(
            "Three TARS services (router, llm, tts) talk through the generated TarsClient; "
            "tts is killed with SIGKILL, its last will marks it unhealthy, and it recovers. "
            "Broker: MQTT_URL if set, else mosquitto from PATH, else in-process amqtt."
        ),
    )
    parser.add_argument(
        "--broker",
        choices=("auto", "external", "mosquitto", "amqtt"),
        default=None,
        help="auto (default, or $TARS_DEMO_BROKER): MQTT_URL, else mosquitto, else amqtt",
    )
    parser.add_argument(
        "--utterances",
        type=int,
        default=None,
        metavar="N",
        help="utterances before tts is killed (1-5, default 3)",
    )
    parser.add_argument(
        "--timeout", type=float, default=None, help="give up after this many seconds (60)"
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
        help="run `mqttwire watch` beside the services and print its summary at the end",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        from tars_demo.cli import main
    except ImportError as exc:  # pragma: no cover - the demo ships in the same distribution
        print(f"mqttwire demo: the demo package is not installed ({exc})")
        return 2
    argv: list[str] = []
    if args.broker is not None:
        argv += ["--broker", args.broker]
    if args.utterances is not None:
        argv += ["--utterances", str(args.utterances)]
    if args.timeout is not None:
        argv += ["--timeout", str(args.timeout)]
    if args.keep_running:
        argv.append("--keep-running")
    if args.verbose:
        argv.append("--verbose")
    if args.watch is not None:
        argv += ["--watch", args.watch] if args.watch else ["--watch"]
    return main(argv)
