"""``mqttwire watch``: hold a contract against live traffic.

:mod:`.findings` names what can be wrong, :mod:`.judge` classifies one message,
:mod:`.report` counts (bounded), :mod:`.table` prints, :mod:`.live` runs the read-only client;
``mqttwire_codegen.commands.watch`` is the CLI. Import from the submodules (this package
imports nothing, so ``mqttwire --help`` stays fast).
"""
