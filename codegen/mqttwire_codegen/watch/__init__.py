"""``mqttwire watch``: hold a contract against live traffic.

:mod:`.judge` classifies one message, :mod:`.report` counts (bounded), :mod:`.table` prints,
:mod:`.live` runs the read-only client; ``mqttwire_codegen.commands.watch`` is the CLI.
"""

from mqttwire_codegen.watch.judge import FAIL_ON_GROUPS, Finding, FindingClass, Judge, Verdict
from mqttwire_codegen.watch.live import Watcher, watch_config
from mqttwire_codegen.watch.report import WatchReport

__all__ = [
    "FAIL_ON_GROUPS",
    "Finding",
    "FindingClass",
    "Judge",
    "Verdict",
    "WatchReport",
    "Watcher",
    "watch_config",
]
