"""A small command-line parser with the subset of argparse's API that SimCon's verbs use.

Why not argparse: it imports `re`, `enum` and `gettext`, about 10 ms on every `simcon state` or `simcon kill`,
a third of the command's run time, and engines call those verbs constantly. The verbs keep argparse's vocabulary
(``add_argument("-d", "--detach", action="store_true")``), so switching back stays a one-line change.

Supported: long and short options, ``--opt value``, ``--opt=value``, ``-bvalue``, ``store_true`` flags, ``type``,
``choices``, ``default``, ``dest``; positionals with ``nargs`` None, ``"?"``, ``"*"`` and ``REMAINDER``
(everything after it is taken verbatim, as `exec ID sh -c ...` needs); ``--`` ends the options; ``-h/--help``;
one level of subcommands, which may be made lazily (``add_lazy_parser``): `simcon state` then builds only the
parser of `state`, not those of all 25 verbs (importing every verb module was half of a `state` beyond the
interpreter's start).
"""

from __future__ import annotations

import sys

# Annotations only (never evaluated): importing `typing` would cost more than this whole module.
# IO, Any and Callable are the `typing` names.

SUPPRESS = "==SUPPRESS=="
REMAINDER = "..."

EXIT_USAGE = 2


class Namespace:
    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)

    def __repr__(self) -> str:
        return f"Namespace({', '.join(f'{k}={v!r}' for k, v in sorted(self.__dict__.items()))})"


class _Argument:
    __slots__ = ("names", "dest", "flag", "append", "default", "type", "choices", "metavar", "help", "nargs")

    def __init__(self, names: tuple[str, ...], *, action: str | None, default: Any, type: Callable | None,
                 choices: tuple | None, metavar: str | None, help: str | None, nargs: str | None,
                 dest: str | None) -> None:
        self.names = names
        self.flag = action == "store_true"
        self.append = action == "append"  # a repeatable option (`exec --env A=1 --env B=2`)
        self.type = type
        self.choices = tuple(choices) if choices is not None else None
        self.help = help
        self.nargs = nargs
        if names[0].startswith("-"):
            longest = max(names, key=len)
            self.dest = dest or longest.lstrip("-").replace("-", "_")
        else:
            self.dest = dest or names[0]
        self.metavar = metavar or (self.dest.upper() if names[0].startswith("-") else self.dest)
        if self.flag:
            self.default = False if default is None else default
        elif nargs in ("*", REMAINDER) or self.append:
            self.default = [] if default is None else default
        else:
            self.default = default

    @property
    def is_option(self) -> bool:
        return self.names[0].startswith("-")

    def usage(self) -> str:
        if self.is_option:
            return self.names[0] if self.flag else f"{self.names[0]} {self.metavar}"
        if self.nargs == "?":
            return f"[{self.metavar}]"
        if self.nargs in ("*", REMAINDER):
            return f"[{self.metavar} ...]"
        return self.metavar


class UsageError(Exception):
    def __init__(self, message: str, parser: ArgumentParser | None = None) -> None:
        super().__init__(message)
        self.parser = parser


class ArgumentParser:
    def __init__(self, prog: str = "simcon", description: str | None = None,
                 examples: tuple[str, ...] | list[str] = ()) -> None:
        self.prog = prog
        self.description = description
        self.examples = tuple(examples)  # shown at the end of --help, one command line each
        self._options: dict[str, _Argument] = {}
        self._arguments: list[_Argument] = []
        self._subcommands: dict[str, ArgumentParser] = {}
        self._subcommand_help: dict[str, str] = {}
        self._names: list[str] = []  # every subcommand, made or not, in the order added (help lists them so)
        self._lazy: dict[str, Callable] = {}  # subcommand -> build(parent): makes it when first needed
        self._subcommand_dest: str | None = None
        self._aliases: dict[str, str] = {}

    # -- building ------------------------------------------------------------------------------------------

    def add_argument(self, *names: str, action: str | None = None, default: Any = None,
                     type: Callable | None = None, choices: Any = None, metavar: str | None = None,
                     help: str | None = None, nargs: str | None = None, dest: str | None = None) -> None:
        if action not in (None, "store", "store_true", "append"):
            raise ValueError(f"unsupported action {action!r}")
        argument = _Argument(names, action=action, default=default, type=type, choices=choices,
                             metavar=metavar, help=help, nargs=nargs, dest=dest)
        self._arguments.append(argument)
        if argument.is_option:
            for name in names:
                self._options[name] = argument

    def add_subparsers(self, dest: str, metavar: str | None = None) -> ArgumentParser:
        self._subcommand_dest = dest
        return self

    def add_parser(self, name: str, help: str | None = None, description: str | None = None,
                   examples: tuple[str, ...] | list[str] = ()) -> ArgumentParser:
        parser = ArgumentParser(f"{self.prog} {name}", description or help, examples)
        self._subcommands[name] = parser
        self._subcommand_help[name] = help or ""
        if name not in self._names:
            self._names.append(name)
        return parser

    def add_lazy_parser(self, name: str, build: Callable) -> None:
        """A subcommand made only when the command line names it, or when all are listed (help, completion):
        ``build(self)`` then calls ``add_parser(name, ...)`` and configures the result."""
        self._lazy[name] = build
        self._names.append(name)

    def add_alias(self, alias: str, name: str) -> None:
        """``alias`` parses exactly as the subcommand ``name`` (its dest gets ``alias``; map it back)."""
        self._aliases[alias] = name

    def _subcommand(self, name: str) -> ArgumentParser:
        """The parser of subcommand (or alias) ``name``, made now if it was added lazily."""
        name = self._aliases.get(name, name)
        build = self._lazy.pop(name, None)
        if build is not None:
            build(self)
        return self._subcommands[name]

    def _known(self, name: str) -> bool:
        return name in self._names or name in self._aliases

    # -- introspection (shell completion, docs) -----------------------------------------------------------

    def subcommands(self) -> dict[str, ArgumentParser]:
        """The subcommands by name, aliases left out."""
        return {name: self._subcommand(name) for name in self._names}

    def help_of(self, name: str) -> str:
        self._subcommand(name)
        return self._subcommand_help.get(name, "")

    def aliases(self) -> dict[str, str]:
        return dict(self._aliases)

    def options(self) -> list[_Argument]:
        return [a for a in self._arguments if a.is_option and a.help != SUPPRESS]

    def positionals(self) -> list[_Argument]:
        return [a for a in self._arguments if not a.is_option]

    # -- parsing -------------------------------------------------------------------------------------------

    def parse_args(self, argv: list[str] | None = None) -> Namespace:
        args = list(sys.argv[1:] if argv is None else argv)
        namespace = Namespace()
        try:
            self._parse_into(args, namespace)
        except UsageError as exc:
            parser = exc.parser or self
            sys.stderr.write(f"{exc}\n{parser.format_usage()}see `{parser.prog} --help`\n")
            raise SystemExit(EXIT_USAGE) from None
        return namespace

    def _parse_into(self, args: list[str], namespace: Namespace) -> None:
        for argument in self._arguments:
            setattr(namespace, argument.dest, argument.default)
        if self._subcommand_dest:
            setattr(namespace, self._subcommand_dest, None)
        positionals = [a for a in self._arguments if not a.is_option]
        filled: dict[str, Any] = {}
        index = 0
        only_positionals = False
        while index < len(args):
            token = args[index]
            index += 1
            if not only_positionals and token == "--":
                only_positionals = True
                continue
            if not only_positionals and filled:
                # Past the first positional, a REMAINDER slot takes everything verbatim, options included, as
                # runc's `ps ID -o pid,comm` and `exec ID sh -c ...` need.
                pending = _next_slot(positionals, filled)
                if pending is not None and pending.nargs == REMAINDER:
                    only_positionals = True
            if not only_positionals and token.startswith("-") and token != "-":
                if token in ("-h", "--help"):
                    self.print_help(sys.stdout)
                    raise SystemExit(0)
                index = self._take_option(token, args, index, namespace)
                continue
            if self._names and getattr(namespace, self._subcommand_dest or "", None) is None:
                if not self._known(token):
                    hint = _did_you_mean(token, [*self._names, *self._aliases])
                    raise UsageError(f"{self.prog}: unknown command {token!r}" + (
                        f" (did you mean {hint!r}?)" if hint else f" (commands: {', '.join(self._names)})"),
                        self)
                setattr(namespace, self._subcommand_dest, token)
                self._subcommand(token)._parse_into(args[index:], namespace)
                return
            slot = _next_slot(positionals, filled)
            if slot is None:
                raise UsageError(f"{self.prog}: unexpected argument {token!r}", self)
            if slot.nargs == REMAINDER:
                filled[slot.dest] = [token] + args[index:]
                break
            if slot.nargs == "*":
                filled.setdefault(slot.dest, []).append(token)
            else:
                filled[slot.dest] = self._convert(slot, token)
        for argument in positionals:
            if argument.dest in filled:
                setattr(namespace, argument.dest, filled[argument.dest])
            elif argument.nargs is None:
                raise UsageError(f"{self.prog}: missing argument {argument.metavar}", self)

    def _take_option(self, token: str, args: list[str], index: int, namespace: Namespace) -> int:
        name, has_value, value = token.partition("=") if token.startswith("--") else (token, False, "")
        argument = self._options.get(name)
        if argument is None and not token.startswith("--") and len(token) > 2:
            # -bBUNDLE: a short option with its value attached
            argument = self._options.get(token[:2])
            if argument is not None and not argument.flag:
                name, has_value, value = token[:2], True, token[2:]
            else:
                argument = None
        if argument is None:
            hint = _did_you_mean(name, self._options) if name.startswith("--") else None
            raise UsageError(f"{self.prog}: unknown option {name}" + (f" (did you mean {hint}?)" if hint else ""),
                             self)
        if argument.flag:
            if has_value:
                raise UsageError(f"{self.prog}: option {name} takes no value", self)
            setattr(namespace, argument.dest, True)
            return index
        if not has_value:
            if index >= len(args):
                raise UsageError(f"{self.prog}: option {name} needs a value ({argument.metavar})", self)
            value = args[index]
            index += 1
        converted = self._convert(argument, value, name)
        if argument.append:
            converted = [*getattr(namespace, argument.dest), converted]
        setattr(namespace, argument.dest, converted)
        return index

    def _convert(self, argument: _Argument, value: str, name: str | None = None) -> Any:
        what = name or argument.metavar
        if argument.type is not None:
            try:
                converted = argument.type(value)
            except (TypeError, ValueError):
                type_name = getattr(argument.type, "__name__", "value")
                raise UsageError(f"{self.prog}: {what}: invalid {type_name} value {value!r}", self) from None
        else:
            converted = value
        if argument.choices is not None and converted not in argument.choices:
            choices = ", ".join(map(str, argument.choices))
            raise UsageError(f"{self.prog}: {what}: invalid choice {value!r} (choose from {choices})", self)
        return converted

    # -- help ----------------------------------------------------------------------------------------------

    def format_usage(self) -> str:
        return self.format_help().split("\n", 1)[0] + "\n"

    def format_help(self) -> str:
        usage = [self.prog]
        usage += ["[OPTIONS]"] if any(a.is_option for a in self._arguments) else []
        usage += [a.usage() for a in self._arguments if not a.is_option]
        if self._names:
            usage.append("COMMAND [ARGS ...]")
        lines = [f"usage: {' '.join(usage)}", ""]
        if self.description:
            lines += [self.description, ""]
        positionals = [a for a in self._arguments if not a.is_option and a.help]
        if positionals:
            lines.append("arguments:")
            lines += _rows([(a.metavar, a.help or "") for a in positionals])
            lines.append("")
        if self._names:
            lines.append("commands:")
            lines += _rows([(name, self.help_of(name)) for name in self._names])
            if self._aliases:
                lines.append("  aliases: " + ", ".join(f"{a} = {n}" for a, n in self._aliases.items()))
            lines.append("")
        options = [a for a in self._arguments if a.is_option and a.help != SUPPRESS]
        lines.append("options:")
        rows = [("-h, --help", "show this help and exit")]
        for a in options:
            names = ", ".join(a.names) + ("" if a.flag else f" {a.metavar}")
            text = a.help or ""
            if a.choices:
                text += f" (one of: {', '.join(map(str, a.choices))})"
            rows.append((names, text))
        lines += _rows(rows)
        if self.examples:
            lines += ["", "examples:"] + [f"  {example}" for example in self.examples]
        return "\n".join(lines) + "\n"

    def print_help(self, file: IO[str] | None = None) -> None:
        (file or sys.stdout).write(self.format_help())


def _did_you_mean(word: str, candidates: Any) -> str | None:
    """The closest known name, for an error message (difflib is imported only on this error path)."""
    import difflib

    matches = difflib.get_close_matches(word, [c for c in candidates if c.startswith("-") == word.startswith("-")],
                                        n=1, cutoff=0.6)
    return matches[0] if matches else None


def _next_slot(positionals: list[_Argument], filled: dict[str, Any]) -> _Argument | None:
    for argument in positionals:
        if argument.nargs == "*" or argument.dest not in filled:
            return argument
    return None


def _rows(rows: list[tuple[str, str]]) -> list[str]:
    width = min(max((len(left) for left, _ in rows), default=0), 28)
    out = []
    for left, right in rows:
        if len(left) > width:
            out.append(f"  {left}")
            out.append(f"  {'':{width}}  {right}")
        else:
            out.append(f"  {left:{width}}  {right}")
    return out
