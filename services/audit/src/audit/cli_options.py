"""An option that takes one value, given twice, is refused (correct21).

click keeps the last of a repeated single-valued option without a word: `audit replay X
--as-of 2020-01-01 --as-of 2021-01-01` replayed as of 2021 (a typo'd command line, a script
adding its own `--as-of` to the user's, answered with the wrong horizon). Each command and
group of the audit CLI is made with these classes: a repeated option that takes one value is a
usage error (exit 2), naming it. Options taking several values (`--context`, given once per
value) and flags (`--json` twice means the same) are not checked.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup


def _repeated(command: Any, args: list[str], *, options_first: bool) -> Any:
    """The first option of `command` that takes one value and is given twice in `args`."""
    takes_value: dict[str, Any] = {}  # (typer's own click: its classes are not click's)
    for param in command.params:
        is_option = getattr(param, "param_type_name", None) == "option"
        if is_option and not param.is_flag and not param.count:
            for name in (*param.opts, *param.secondary_opts):
                takes_value[name] = param
    seen: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            break
        name = arg.split("=", 1)[0] if arg.startswith("--") else arg
        option = takes_value.get(name)
        if option is not None:
            key = option.name or name
            if not option.multiple and key in seen:
                return option
            seen[key] = name
            if "=" not in arg:
                i += 1  # its value, whatever it looks like
        elif options_first and not arg.startswith("-"):
            break  # a group: its subcommand's arguments are the subcommand's
        i += 1
    return None


def _refuse(ctx: Any, command: Any, args: list[str], first: bool) -> None:
    option = _repeated(command, args, options_first=first)
    if option is not None:
        raise typer.BadParameter(
            "given more than once; it takes one value: give it once",
            ctx=ctx,
            param=option,
        )


class SingleValuedCommand(TyperCommand):
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        _refuse(ctx, self, args, False)
        result: list[str] = super().parse_args(ctx, args)
        return result


class SingleValuedGroup(TyperGroup):
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        _refuse(ctx, self, args, True)
        result: list[str] = super().parse_args(ctx, args)
        return result
