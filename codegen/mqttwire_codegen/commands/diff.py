"""``mqttwire diff OLD NEW``: classify contract changes; exit 0 compatible, 1 breaking, 2 error.

With ``--gate`` (what ``nox -s breaking`` uses), breaking changes pass when the contract's major
version was bumped or an ``--allow`` list entry names the rule and pointer.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mqttwire_codegen.api import load_contract
from mqttwire_codegen.commands._common import EXIT_DIFFERS, EXIT_OK, guarded
from mqttwire_codegen.compat.contract_diff import ContractDiff
from mqttwire_codegen.compat.gate import judge, load_allow_list
from mqttwire_codegen.compat.report import RENDERERS
from mqttwire_codegen.compat.sources import materialize


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "diff",
        help="classify changes between two contract versions (breaking or not)",
        description=(
            "OLD and NEW are file paths or git:REV:path (e.g. git:origin/main:contracts/api.yaml). "
            "Exit 0: compatible, 1: breaking, 2: error."
        ),
    )
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--format", choices=sorted(RENDERERS), default="text")
    parser.add_argument(
        "--gate",
        action="store_true",
        help="pass breaking changes when the major version was bumped or an allow-list entry names them",
    )
    parser.add_argument(
        "--allow", type=Path, help="allow-list file (YAML/JSON list of {rule, pointer, reason})"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        with materialize(args.old) as old_path:
            old, _ = load_contract(old_path)
        with materialize(args.new) as new_path:
            new, _ = load_contract(new_path)
        changes = ContractDiff(old, new).changes()
        sys.stdout.write(RENDERERS[args.format](changes))
        if not args.gate:
            return EXIT_DIFFERS if any(c.breaking for c in changes) else EXIT_OK
        allow = load_allow_list(args.allow) if args.allow and args.allow.exists() else []
        verdict = judge(changes, old.version, new.version, allow)
        for change, reason in verdict.allowed:
            print(
                f"accepted [{change.rule.id}] {change.new_pointer or change.old_pointer}: {reason}",
                file=sys.stderr,
            )
        if verdict.passes:
            return EXIT_OK
        print(
            f"{len(verdict.blocking)} breaking change(s) without a major version bump "
            f"({old.version} -> {new.version}) or an allow-list entry",
            file=sys.stderr,
        )
        return EXIT_DIFFERS

    return guarded(body)
