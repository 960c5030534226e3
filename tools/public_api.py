"""The public API pin: ``mqttwire.__all__``, ``mqttwire.testing.__all__``, ``MQTTClient`` and
``TarsClient``.

    python tools/public_api.py           # print the current API as JSON
    python tools/public_api.py --check   # exit 1 with a unified diff when the pin is stale
    python tools/public_api.py --write   # refresh tests/structure/public_api.json

``tests/structure/test_public_api.py`` fails with the same diff until the pin is refreshed, so
that a change of the public API is always a visible, reviewed change of that file.
``MQTTClient`` and ``TarsClient`` are listed with every public attribute it has (inherited ones too): methods with
their ``inspect.signature`` (annotations resolved), other attributes as ``<property>`` or
``<attribute>``.
"""

from __future__ import annotations

import difflib
import inspect
import json
import sys
import typing
from pathlib import Path
from typing import Any

PIN = Path(__file__).resolve().parents[1] / "tests" / "structure" / "public_api.json"


def _signature(obj: Any) -> str:
    try:
        signature = inspect.signature(obj, eval_str=True)
    except (NameError, TypeError):  # an annotation only importable under TYPE_CHECKING
        return str(inspect.signature(obj))
    return str(_expand_unpack(signature))


def _expand_unpack(signature: inspect.Signature) -> inspect.Signature:
    """``**options: Unpack[SomeTypedDict]`` shown as the keyword arguments it accepts.

    Keyword-only arguments are sorted by name (their order means nothing to a caller) and an
    optional key of the TypedDict shows as ``= None``, so an explicit ``*, qos: ... = None`` and
    the same keyword taken through ``Unpack`` pin to the same text.
    """
    params: list[inspect.Parameter] = []
    keywords: list[inspect.Parameter] = []
    for param in signature.parameters.values():
        if param.kind is param.VAR_KEYWORD and typing.get_origin(param.annotation) is typing.Unpack:
            (typed_dict,) = typing.get_args(param.annotation)
            optional = typed_dict.__optional_keys__
            keywords += [
                inspect.Parameter(
                    name,
                    inspect.Parameter.KEYWORD_ONLY,
                    annotation=hint,
                    default=None if name in optional else inspect.Parameter.empty,
                )
                for name, hint in typing.get_type_hints(typed_dict).items()
            ]
        elif param.kind is param.KEYWORD_ONLY:
            keywords.append(param)
        else:
            params.append(param)
    rest = [p for p in params if p.kind is p.VAR_KEYWORD]
    params = [p for p in params if p.kind is not p.VAR_KEYWORD]
    ordered = sorted(keywords, key=lambda p: p.name)
    return signature.replace(parameters=[*params, *ordered, *rest])


def _members(cls: type) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in sorted(dir(cls)):
        if name.startswith("_"):
            continue
        raw = inspect.getattr_static(cls, name)
        if isinstance(raw, property):
            out[name] = "<property>"
        elif isinstance(raw, staticmethod | classmethod) or inspect.isfunction(raw):
            out[name] = _signature(getattr(cls, name))
        else:
            out[name] = "<attribute>"
    return out


def current_api() -> dict[str, Any]:
    import mqttwire
    import mqttwire.testing
    from tars_mqtt import TarsClient

    return {
        "mqttwire.MQTTClient": _members(mqttwire.MQTTClient),
        "mqttwire.__all__": sorted(mqttwire.__all__),
        "mqttwire.testing.__all__": sorted(mqttwire.testing.__all__),
        "tars_mqtt.TarsClient": _members(TarsClient),
    }


def render(api: dict[str, Any]) -> str:
    return json.dumps(api, indent=2, sort_keys=True) + "\n"


def diff() -> str:
    """A unified diff from the pin to the current API ('' when they agree)."""
    pinned = PIN.read_text(encoding="utf-8") if PIN.exists() else ""
    now = render(current_api())
    return "".join(
        difflib.unified_diff(
            pinned.splitlines(keepends=True),
            now.splitlines(keepends=True),
            fromfile=f"{PIN.name} (pinned)",
            tofile="current API",
        )
    )


def main(argv: list[str]) -> int:
    if "--write" in argv:
        PIN.write_text(render(current_api()), encoding="utf-8")
        print(f"wrote {PIN}")
        return 0
    if "--check" in argv:
        changes = diff()
        if changes:
            print(changes, end="")
            print("the public API changed; if intended: python tools/public_api.py --write")
            return 1
        print(f"{PIN.name} is current")
        return 0
    print(render(current_api()), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
