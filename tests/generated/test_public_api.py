"""The public API of the generated ``TarsClient`` is pinned: every method's accepted arguments
(explicit ones and the keys of ``**options: Unpack[...]``; keyword-only ones sorted), their types and defaults, and its
return type. A change to the generator or the runtime that alters one shows up here as a diff
against ``tars_client_api.txt`` (rewrite it with ``MQTTWIRE_UPDATE_API=1`` when intended)."""

from __future__ import annotations

import inspect
import os
import typing
from pathlib import Path

from tars_mqtt import TarsClient

PINNED = Path(__file__).with_name("tars_client_api.txt")
PREFIXES = {"publish", "clear", "subscribe", "on", "request", "stream", "serve"}


def _type(hint: object) -> str:
    if hint is type(None):
        return "None"
    text = hint.__name__ if isinstance(hint, type) else str(hint)
    for module in ("typing.", "collections.abc.", "mqttwire.meta.", "mqttwire.dispatch."):
        text = text.replace(module, "")
    return text.replace("tars_mqtt.models.", "models.")


def _signature(name: str, cls: type = TarsClient) -> str:
    method = getattr(cls, name)
    hints = typing.get_type_hints(method)
    positional: list[str] = []
    keywords: list[str] = []  # keyword-only, in any order: sorted
    for pname, param in inspect.signature(method).parameters.items():
        if pname == "self":
            continue
        if param.kind is param.VAR_KEYWORD:
            options = typing.get_args(hints[pname])[0]
            keywords += [
                f"{k}: {_type(t)} = None" for k, t in typing.get_type_hints(options).items()
            ]
            continue
        default = "" if param.default is param.empty else f" = {param.default!r}"
        kind = keywords if param.kind is param.KEYWORD_ONLY else positional
        kind.append(f"{pname}: {_type(hints[pname])}{default}")
    parts = positional + (["*", *sorted(keywords)] if keywords else [])
    kind = (
        "async gen"
        if inspect.isasyncgenfunction(method)
        else ("async" if inspect.iscoroutinefunction(method) else "def")
    )
    return f"{kind} {name}({', '.join(parts)}) -> {_type(hints['return'])}"


def test_the_generated_methods_are_pinned() -> None:
    names = sorted(
        n
        for n in vars(TarsClient)
        if n.split("_")[0] in PREFIXES and callable(getattr(TarsClient, n))
    )
    assert len(names) > 100
    current = "\n".join(_signature(n) for n in names) + "\n"
    if os.environ.get("MQTTWIRE_UPDATE_API"):
        PINNED.write_text(current, encoding="utf-8")
    assert current == PINNED.read_text(encoding="utf-8")
