"""The exceptions SimCon raises, one class per kind of failure a user can act on.

Every error carries its context as attributes (container id, file, JSON path, step, errno) and renders one
lowercase line. Layers below the CLI raise these (or ``OSError``, which keeps errno and path); only
``simcon.cli.main`` turns them into output and exit codes.

Some texts are matched by engines and must not change: containerd looks for ``container does not exist``, and
engines use ``container with given ID already exists``, ``container not running`` and
``executable file not found in $PATH``.
"""

from __future__ import annotations

SHORT_VALUE = 100  # characters of a quoted value an error shows before eliding the middle
MAX_PROBLEM = 1000  # characters of a config error's problem text shown (the middle elided)


def shorten(text: str, limit: int = SHORT_VALUE) -> str:
    """``text`` cut to about ``limit`` characters, keeping both ends, for echoing values in errors: a 65 KB
    string must not become a 65 KB error line."""
    if len(text) <= limit:
        return text
    keep = max(limit // 2 - 10, 1)
    return f"{text[:keep]}...({len(text) - 2 * keep} more characters)...{text[-keep:]}"


def quote(text: str, limit: int = SHORT_VALUE) -> str:
    """``text`` in double quotes for an error message, JSON style: shortened, and with quotes, backslashes and
    control characters escaped, so that a value with a newline cannot break the one-line error in two."""
    out = []
    for char in shorten(text, limit):
        if char in '"\\':
            out.append("\\" + char)
        elif char < " " or char == "\x7f":
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(char, f"\\u{ord(char):04x}"))
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


class SimconError(Exception):
    """Base class: a failure explained in one line, with optional hint for the user."""

    def __init__(self, message: str, *, container_id: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.container_id = container_id
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    def add_cleanup_failures(self, problems: list[str]) -> None:
        """Report what failed while undoing this error's work next to it, in its one line, not instead of it."""
        if problems:
            self.message += " (cleanup also failed: " + "; ".join(problems) + ")"
            self.args = (self.message,)


class UsageError(SimconError):
    """The command line itself is wrong (missing argument, bad flag value)."""


class ConfigError(SimconError):
    """config.json (or another JSON input) is invalid; names the file and the JSON path."""

    def __init__(self, file: str, json_path: str, problem: str) -> None:
        # Rendered as one line of sane length whatever the input held: a path into a deeply nested document or a
        # value quoted raw can be kilobytes long, or hold a newline. The attributes keep them whole.
        where = f"{file}: {shorten(json_path, 2 * SHORT_VALUE)}" if json_path else file
        shown = shorten(problem, MAX_PROBLEM).replace("\r", "\\r").replace("\n", "\\n")
        super().__init__(f"{where}: {shown}")
        self.file = file
        self.json_path = json_path
        self.problem = problem


class InvalidIdError(SimconError):
    def __init__(self, container_id: str, reason: str) -> None:
        super().__init__(f"invalid container id {shorten(repr(container_id))}: {reason}")
        self.reason = reason


class ContainerNotFoundError(SimconError):
    def __init__(self, container_id: str) -> None:
        super().__init__("container does not exist", container_id=container_id)


class ContainerExistsError(SimconError):
    def __init__(self, container_id: str) -> None:
        super().__init__("container with given ID already exists", container_id=container_id)


class ContainerNotRunningError(SimconError):
    def __init__(self, container_id: str) -> None:
        super().__init__("container not running", container_id=container_id)


class InvalidStateError(SimconError):
    """An operation is not allowed in the container's current status (see ``runtime.status``)."""

    def __init__(self, container_id: str, operation: str, status: str, detail: str = "") -> None:
        text = f"cannot {operation} a container that is {status}"
        super().__init__(f"{text}: {detail}" if detail else text, container_id=container_id)
        self.operation = operation
        self.status = status


class StateError(SimconError):
    """The state directory of a container is unreadable or corrupt."""


class InitError(SimconError):
    """A step of the container's setup failed inside a child process.

    The child sends (step, errno, message, path) over the sync socket; the parent raises this.
    """

    def __init__(self, step: str, message: str, *, errno: int = 0, path: str = "") -> None:
        parts = [step]
        if path:
            parts.append(f"`{path}`")
        super().__init__(f"{' '.join(parts)}: {message}")
        self.detail = message  # without the step: what travels over the sync channel
        self.step = step
        self.errno = errno
        self.path = path


class HookError(SimconError):
    def __init__(self, kind: str, index: int, path: str, problem: str) -> None:
        super().__init__(f"{kind} hook #{index} `{path}`: {problem}")
        self.kind = kind
        self.index = index
        self.path = path


class CgroupError(SimconError):
    """A cgroup could not be created, joined, written or removed; names the file."""

    def __init__(self, message: str, *, path: str = "", errno: int = 0) -> None:
        super().__init__(f"cgroup `{path}`: {message}" if path else f"cgroup: {message}")
        self.problem = message
        self.path = path
        self.errno = errno


class UnsupportedError(SimconError):
    """A feature the config or command line asks for that this host or SimCon cannot provide."""


class NetworkError(SimconError):
    """A container network could not be set up or torn down: names the network, and the CNI plugin if one failed."""

    def __init__(self, message: str, *, network: str = "", plugin: str = "", container_id: str | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message, container_id=container_id, hint=hint)
        self.network = network
        self.plugin = plugin
        self.partial_result: dict | None = None  # a failed ADD list: the last result before the failure
