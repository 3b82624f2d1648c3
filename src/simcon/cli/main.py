"""`simcon`: the command line, runc's flags and verbs.

This is the one place where exceptions become output and exit codes. Each verb lives in its own module with
``HELP``, ``configure(parser)`` and ``run(args, store) -> int``; those import the runtime lazily so `simcon state`
does not pay for what `simcon create` needs.
"""

from __future__ import annotations

import os
import sys

from simcon import faults, interrupts, log
from simcon.version import OCI_VERSION, __version__
from simcon.cli.args import SUPPRESS, ArgumentParser, Namespace
from simcon.errors import SimconError, UsageError, shorten

# verb -> module under simcon.cli (a verb's module name differs where the verb is a Python keyword or builtin)
VERBS = {
    "create": "create", "start": "start", "run": "run", "state": "state", "kill": "kill", "delete": "delete",
    "list": "list_", "spec": "spec", "features": "features", "exec": "exec_", "stop": "stop",
    "update": "update", "pause": "pause", "resume": "resume", "ps": "ps", "events": "events",
    "config": "config", "completion": "completion", "doctor": "doctor", "inspect": "inspect", "gc": "gc",
    "network": "network", "port": "port",
    "logs": "logs",
    "stats": "stats",
}
# Short names for common verbs, as docker and podman users type them.
ALIASES = {"rm": "delete", "ls": "list"}

# Verbs that never touch the state root (so they work without one, e.g. for a user without XDG_RUNTIME_DIR).
STATELESS_VERBS = frozenset({"spec", "features", "config", "completion", "doctor"})

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports it
EXIT_TERMINATED = 143  # 128 + SIGTERM

# The longest error text printed: the errors shorten the values they quote, this catches any that do not.
MAX_ERROR_TEXT = 2000


def default_root() -> str:
    from simcon.api import default_root as api_default_root

    return api_default_root()


def build_parser() -> tuple[ArgumentParser, dict]:
    parser = ArgumentParser(
        prog="simcon",
        description="SimCon: an OCI container runtime with runc's command line.",
    )
    parser.add_argument("-v", "--version", action="store_true", help="print the version and exit")
    parser.add_argument("--root", default=None, metavar="DIR",
                        help="directory for container state (default /run/simcon, or $XDG_RUNTIME_DIR/simcon "
                             "for a non-root user)")
    parser.add_argument("--log", default=None, metavar="FILE",
                        help="write warnings and errors to FILE (warnings go only there, unless --debug)")
    parser.add_argument("--log-format", default=None, choices=("text", "json"),
                        help="format of the --log file: text (default), or json lines as runc writes them")
    parser.add_argument("--debug", action="store_true",
                        help="warnings and debug messages on stderr too, and tracebacks for errors")
    parser.add_argument("--systemd-cgroup", action="store_true",
                        help="create/run: the container's cgroup is a transient systemd scope (cgroupsPath "
                             "slice:prefix:name; needs systemd as init and cgroup v2)")
    parser.add_argument("--rootless", default=None, choices=("true", "false", "auto"),
                        help="rootless mode for create/run: a container without a cgroup where the user cannot "
                             "create one (auto: when not running as root)")
    parser.add_argument("--criu", default=None, help=SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = {}
    for verb, module_name in VERBS.items():
        # Made only when needed: `simcon state` imports and configures `state` alone, not all 25 verb modules.
        def build(parent: ArgumentParser, verb: str = verb, module_name: str = module_name) -> None:
            __import__(f"simcon.cli.{module_name}")  # not importlib.import_module: importlib imports warnings
            module = sys.modules[f"simcon.cli.{module_name}"]
            modules[verb] = module
            verb_parser = parent.add_parser(verb, help=module.HELP, description=module.HELP,
                                            examples=getattr(module, "EXAMPLES", ()))
            module.configure(verb_parser)

        sub.add_lazy_parser(verb, build)
    for alias, verb in ALIASES.items():
        sub.add_alias(alias, verb)
    return parser, modules


def apply_settings(args: Namespace) -> None:
    """Config files and SIMCON_* variables under the command-line flags (simcon.settings has the order).

    Only the global flags are resolved here; a verb takes its container defaults from ``args.settings``."""
    from simcon import settings as settings_module

    settings = settings_module.load()
    for key in ("root", "log", "log_format", "rootless"):
        flag = getattr(args, key)
        if flag is not None:
            settings.set(key, flag, "flag")
    if args.debug:
        settings.set("log_level", "debug", "flag")
    if args.systemd_cgroup:
        settings.set("cgroup_manager", "systemd", "flag")
    args.settings = settings
    args.root = settings.get("root")
    args.log = settings.get("log")
    args.log_format = settings.get("log_format")
    args.rootless = settings.get("rootless")
    args.debug = settings.get("log_level") == "debug"


def main(argv: list[str] | None = None) -> int:
    """Run one verb. Ctrl-C or SIGTERM at any moment ends it with one line and 130/143 (see simcon.interrupts);
    inside a verb they unwind through its rollback first."""
    interrupts.install()
    try:
        faults.point("cli:started")
        return _main(argv)
    except KeyboardInterrupt:
        return _interrupted(None, "interrupted", EXIT_INTERRUPTED)
    except interrupts.Terminated:
        return _interrupted(None, "terminated", EXIT_TERMINATED)


def _interrupted(args: Namespace | None, what: str, code: int) -> int:
    with interrupts.deferred():  # a second Ctrl-C must not turn the message into a traceback
        command = getattr(args, "command", None)
        container_id = getattr(args, "container_id", None)
        prefix = f"{command} `{container_id}`: " if command and container_id else f"{command}: " if command else ""
        log.error(f"{prefix}{what}")
    return code


def _main(argv: list[str] | None) -> int:
    parser, modules = build_parser()
    args = parser.parse_args(argv)
    args.command = ALIASES.get(args.command, args.command)
    try:
        apply_settings(args)
    except SimconError as exc:
        log.configure(args.log, args.log_format or "text", args.debug)
        _report(args, exc, None)
        return EXIT_FAILURE
    log.configure(args.log, args.log_format, args.debug, args.settings.get("log_level"))
    if args.version:
        print(f"simcon version {__version__}\nspec: {OCI_VERSION}\npython: {sys.version.split()[0]}")
        return EXIT_OK
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    from simcon.runtime.state import StateStore

    try:
        store = None if args.command in STATELESS_VERBS else StateStore(args.root or default_root())
        status = modules[args.command].run(args, store)
        sys.stdout.flush()  # here, so that a reader gone away (`simcon list | head -1`) is caught below
        return status
    except BrokenPipeError:
        _die_of_sigpipe()
    except SimconError as exc:
        _report(args, exc, getattr(args, "container_id", None) or exc.container_id)
        return EXIT_FAILURE
    except OSError as exc:
        _report(args, exc, getattr(args, "container_id", None))
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return _interrupted(args, "interrupted", EXIT_INTERRUPTED)
    except interrupts.Terminated:
        return _interrupted(args, "terminated", EXIT_TERMINATED)


def _die_of_sigpipe() -> None:
    """Stdout's reader went away: end silently, killed by SIGPIPE as coreutils are (Python ignores SIGPIPE, so a
    write raises BrokenPipeError instead)."""
    import _signal

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # the interpreter's final flush must not fail again
    _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)
    os.kill(os.getpid(), _signal.SIGPIPE)


def _report(args: Namespace, exc: Exception, container_id: str | None) -> None:
    if isinstance(exc, OSError) and not isinstance(exc, SimconError):
        where = f" `{exc.filename}`" if exc.filename else ""
        text = f"{exc.strerror or exc}{where}"
    else:
        text = str(exc)
    prefix = f"{args.command} `{shorten(container_id)}`" if container_id else args.command
    # One line whatever the error holds (a path with a newline, a child's message): the contract engines rely on.
    message = f"{prefix}: {shorten(text, MAX_ERROR_TEXT)}".replace("\r", "\\r").replace("\n", "\\n")
    hint = getattr(exc, "hint", None)
    if hint:
        message += f" (hint: {hint})"
    if args.debug:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    log.error(message)


if __name__ == "__main__":
    sys.exit(main())
