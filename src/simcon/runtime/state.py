"""The on-disk state of containers: one directory per container under the root.

    <root>/<id>/state.json   what `state` prints, plus what SimCon needs to find the container again
    <root>/<id>/exec.fifo    present from `create` until `start`: the init blocks on it

``state.json`` is written to a temp file and renamed, so a reader sees the old or the new state, never half of
one, whenever SimCon is killed. It is not fsynced: it describes processes that a power loss ends anyway (runc and
crun do not sync it either), and on a disk-backed root the syncs were 15 ms of every `run`. Commands on one container serialise on ``flock`` of the container's directory. The stored status is
only a hint: ``runtime.status`` derives the real one from the live system on every read.

A state.json that is damaged anyway (a full disk, an editor, another program) is a :class:`StateError` naming the
file, from reading and from type checks of every field, never an exception from deeper down. ``delete --force``
then works from :func:`salvage_state`: whatever fields can still be read with the right type.
"""

from __future__ import annotations

import fcntl
import os
import stat
import time

from simcon import fastjson
from simcon.errors import ContainerExistsError, ContainerNotFoundError, InvalidIdError, StateError

# typing.TYPE_CHECKING without importing typing, which would cost `state` ~10 ms at start-up.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from simcon.init.plan import SeccompPlan

STATE_FILE = "state.json"
EXEC_FIFO = "exec.fifo"

_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+.-")
MAX_ID_LENGTH = 1024


def validate_id(container_id: str) -> None:
    """Refuse ids that are empty, too long, or could escape the root directory, before anything is touched."""
    if not container_id:
        raise InvalidIdError(container_id, "must not be empty")
    if len(container_id) > MAX_ID_LENGTH:
        raise InvalidIdError(container_id, f"longer than {MAX_ID_LENGTH} characters")
    if container_id in (".", "..") or not _ID_CHARS.issuperset(container_id):
        raise InvalidIdError(container_id, "use only letters, digits and `_ + - .`, and not `.` or `..`")
    if container_id.startswith("-"):
        raise InvalidIdError(container_id, "must not start with `-`")


def utc_timestamp(seconds: float | None = None) -> str:
    """RFC 3339 with nanoseconds, in UTC, as runc prints `created`."""
    if seconds is None:
        ns = time.time_ns()
    else:
        ns = int(seconds * 1_000_000_000)
    whole, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{frac:09d}Z"


class ContainerState:
    """The persisted record of one container.

    The first group of fields is what the OCI `state` operation reports; the rest is SimCon's own bookkeeping.
    """

    __slots__ = (
        "oci_version", "id", "pid", "status", "bundle", "rootfs", "created", "owner", "annotations",
        "init_start_time", "creator_pid", "creator_start_time", "cgroup", "own_pid_namespace",
        "poststart_hooks", "poststop_hooks", "exit_status", "finished", "process", "network",
        "monitor_pid", "monitor_start_time", "log", "log_error",
    )

    def __init__(self, **fields: object) -> None:
        self.oci_version: str = ""
        self.id: str = ""
        self.pid: int = 0
        self.status: str = "creating"
        self.bundle: str = ""
        self.rootfs: str = ""
        self.created: str = ""
        self.owner: str = ""
        self.annotations: dict[str, str] = {}
        self.init_start_time: int | None = None
        # The `create` process, so a crashed create is recognised as stopped rather than creating forever.
        self.creator_pid: int = 0
        self.creator_start_time: int | None = None
        self.cgroup: dict | None = None
        self.own_pid_namespace: bool = True
        self.poststart_hooks: list[dict] = []
        self.poststop_hooks: list[dict] = []
        # Recorded by whoever waits for the init (the monitor of `run -d`, a foreground `run --keep`):
        # the shell-style exit code (128+N for a death by signal N) and when it happened.
        self.exit_status: int | None = None
        self.finished: str | None = None
        # config.json's `process` (as JSON) at create time: what `exec` starts from, whatever the bundle holds now.
        self.process: dict | None = None
        # The container's CNI attachment (see network.setup): recorded before ADD, so DEL can always run.
        self.network: dict | None = None
        # The monitor (`run -d`, or a container whose output is captured) and the log settings it captures with
        # (runtime.container_logs); log_error: the log target's last failure, None once it works again.
        self.monitor_pid: int = 0
        self.monitor_start_time: int | None = None
        self.log: dict | None = None
        self.log_error: str | None = None
        for name, value in fields.items():
            setattr(self, name, value)

    def to_json(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_json(cls, data: dict, file: str, container_id: str | None = None) -> ContainerState:
        if not isinstance(data, dict):
            raise _corrupt(file, "expected a JSON object", container_id)
        unknown = set(data) - set(cls.__slots__)
        if unknown:
            raise StateError(f"{file}: unknown fields {sorted(unknown)} (written by a newer SimCon?)",
                             container_id=container_id)
        for name, value in data.items():
            problem = _field_problem(name, value)
            if problem:
                raise _corrupt(file, f"{name}: {problem}", container_id)
        state = cls(**data)
        # A pid is only trusted with its start time: without one, any process under that pid (a recycled one, or
        # the host's init for pid 1) would pass for the container's. create records no start time only when the
        # init was already gone, so the pid is taken as gone.
        if state.init_start_time is None:
            state.pid = 0
        if state.creator_start_time is None:
            state.creator_pid = 0
        return state

    def oci_view(self, status: str) -> dict:
        """The object `simcon state` prints: runc's fields and order."""
        view: dict = {
            "ociVersion": self.oci_version,
            "id": self.id,
            "pid": self.pid if status in ("created", "running", "paused") else 0,
            "status": status,
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": self.owner,
        }
        if self.annotations:
            view["annotations"] = self.annotations
        if status == "stopped" and self.exit_status is not None:
            # Not in runc's output; consumers that decode runc's fields ignore extra ones.
            view["exitCode"] = self.exit_status
            view["finished"] = self.finished
        if self.network:
            from simcon.network.result import describe

            # Not in runc's output either: the addresses and published ports of a CNI network.
            view["network"] = describe(self.network)
        if self.monitor_pid:
            self._monitor_view(view, status)
        return view

    def hook_view(self, status: str) -> dict:
        """The state object hooks receive on stdin (runtime-spec `state`)."""
        view = {"ociVersion": self.oci_version, "id": self.id, "status": status, "pid": self.pid,
                "bundle": self.bundle}
        if self.annotations:
            view["annotations"] = self.annotations
        return view

    def _monitor_view(self, view: dict, status: str) -> None:
        """What the monitor's liveness means for the exit status and the logs (SimCon's own fields)."""
        from simcon.linux import procfs

        if self.log is not None:
            view["logDriver"] = self.log.get("driver")
            if self.log_error:
                view["logError"] = self.log_error
        if procfs.is_alive(self.monitor_pid, self.monitor_start_time):
            return
        died = f"the monitor (pid {self.monitor_pid}) died"
        if status == "stopped" and self.exit_status is None:
            view["exitCode"] = None
            view["exitStatusUnknown"] = f"{died} before the container exited"
        elif status != "stopped" and self.log is not None and self.log.get("driver") != "passthrough":
            view["logError"] = f"{died}: the container's output is no longer captured"


# --- checking and salvaging state.json --------------------------------------------------------------------------

_TYPE_WORDS = {str: "a string", int: "an integer", bool: "a boolean", dict: "an object", list: "an array",
               type(None): "null"}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_hook_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(h, dict) and isinstance(h.get("path"), str) for h in value)


def _is_str_map(value: object) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


# field -> (check, what it should be). Everything the code that reads a state relies on, so a damaged file is
# one error here rather than a TypeError in whatever touches the field first.
_FIELD_CHECKS: dict[str, tuple] = {
    "oci_version": (lambda v: isinstance(v, str), "a string"),
    "id": (lambda v: isinstance(v, str), "a string"),
    "pid": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "status": (lambda v: isinstance(v, str), "a string"),
    "bundle": (lambda v: isinstance(v, str), "a string"),
    "rootfs": (lambda v: isinstance(v, str), "a string"),
    "created": (lambda v: isinstance(v, str), "a string"),
    "owner": (lambda v: isinstance(v, str), "a string"),
    "annotations": (_is_str_map, "an object of strings"),
    "init_start_time": (lambda v: v is None or _is_int(v), "an integer or null"),
    "creator_pid": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "creator_start_time": (lambda v: v is None or _is_int(v), "an integer or null"),
    "cgroup": (lambda v: v is None or isinstance(v, dict), "an object or null"),
    "own_pid_namespace": (lambda v: isinstance(v, bool), "a boolean"),
    "poststart_hooks": (_is_hook_list, "an array of hook objects"),
    "poststop_hooks": (_is_hook_list, "an array of hook objects"),
    "exit_status": (lambda v: v is None or _is_int(v), "an integer or null"),
    "finished": (lambda v: v is None or isinstance(v, str), "a string or null"),
    "process": (lambda v: v is None or isinstance(v, dict), "an object or null"),
    "network": (lambda v: v is None or isinstance(v, dict), "an object or null"),
    "monitor_pid": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "monitor_start_time": (lambda v: v is None or _is_int(v), "an integer or null"),
    "log": (lambda v: v is None or (isinstance(v, dict) and isinstance(v.get("driver"), str)
                                    and isinstance(v.get("path"), str) and _is_str_map(v.get("options"))),
            "an object with driver, path and options, or null"),
    "log_error": (lambda v: v is None or isinstance(v, str), "a string or null"),
}


def _field_problem(name: str, value: object) -> str:
    """Why ``value`` cannot be field ``name`` ("" if it can). A new field needs an entry in _FIELD_CHECKS
    (tests/unit/test_runtime_state_damaged.py checks that every field has one)."""
    check, expected = _FIELD_CHECKS.get(name, (lambda v: True, ""))
    if check(value):
        return ""
    return f"expected {expected}, got {_TYPE_WORDS.get(type(value), type(value).__name__)}"


def _corrupt(file: str, problem: str, container_id: str | None) -> StateError:
    return StateError(f"{file}: corrupt state: {problem}", container_id=container_id,
                      hint="`delete --force` removes the container and what it can still find of it")


def salvage_state(file: str, container_id: str) -> ContainerState:
    """What ``delete --force`` can still use of a damaged state.json: each top-level field that reads with the
    right type, also from a truncated file (the fields before the cut). Never raises for the file's content.

    A pid without its start time is dropped (0): a recycled pid must never be taken for the init. The cgroup, if
    recorded, still finds every process of the container."""
    try:
        fd = os.open(file, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        try:
            text = os.read(fd, 1 << 20).decode("utf-8", "replace") if stat.S_ISREG(os.fstat(fd).st_mode) else ""
        finally:
            os.close(fd)
    except OSError:
        text = ""
    fields = {}
    for name, value in _top_level_fields(text):
        if name in _FIELD_CHECKS and name not in fields and not _field_problem(name, value):
            fields[name] = value
    state = ContainerState(**fields)
    state.id = container_id
    if state.init_start_time is None:
        state.pid = 0
    if state.creator_start_time is None:
        state.creator_pid = 0
    return state


def _top_level_fields(text: str) -> list[tuple[str, object]]:
    """(key, value) of each member of the top-level object that decodes on its own, in file order. Members
    nested deeper are skipped (an annotation named "pid" is not the pid); a value cut short is left out."""
    import json  # only here, on the rare salvage path: json imports re (see fastjson)

    decoder = json.JSONDecoder()
    fields: list[tuple[str, object]] = []
    depth = 0
    position, end = 0, len(text)
    while position < end:
        char = text[position]
        if char == '"':
            string_end = _string_end(text, position)
            if string_end < 0:
                break
            if depth == 1:
                after = string_end
                while after < end and text[after] in " \t\r\n":
                    after += 1
                if after < end and text[after] == ":":
                    try:
                        name = fastjson.loads(text[position:string_end])
                        value, value_end = decoder.raw_decode(text, _skip_space(text, after + 1))
                    except (ValueError, RecursionError):
                        return fields
                    fields.append((name, value))  # type: ignore[arg-type]
                    position = value_end
                    continue
            position = string_end
            continue
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        position += 1
    return fields


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _string_end(text: str, start: int) -> int:
    """The index just past the JSON string starting at ``start`` (a quote), or -1 if it is cut short."""
    position = start + 1
    while position < len(text):
        char = text[position]
        if char == "\\":
            position += 2
            continue
        if char == '"':
            return position + 1
        position += 1
    return -1


def write_atomically(path: str, data: bytes, mode: int = 0o600, *, durable: bool = False) -> None:
    """Write ``data`` to ``path`` through a temp file in the same directory, then rename: readers see the old or
    the new content, never a mix, even if we are killed. ``durable``: fsync before the rename, so that the new
    content also survives a power loss (for files that outlive the machine's processes, like a config.json)."""
    tmp = f"{path}.tmp-{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    os.rename(tmp, path)


class StateStore:
    """The state root (`--root`): finding, creating, locking and removing container directories."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)

    def container_dir(self, container_id: str) -> str:
        return os.path.join(self.root, container_id)

    def ids(self) -> list[str]:
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return []
        return sorted(n for n in names if os.path.isfile(os.path.join(self.root, n, STATE_FILE)))

    def create_dir(self, container_id: str) -> LockedContainer:
        """Make the directory of a new container and lock it; the id is taken once this returns."""
        os.makedirs(self.root, mode=0o711, exist_ok=True)
        path = self.container_dir(container_id)
        try:
            os.mkdir(path, 0o711)
        except FileExistsError:
            raise ContainerExistsError(container_id) from None
        return LockedContainer(container_id, path)

    def open(self, container_id: str, *, blocking: bool = True, without_state: bool = False) -> LockedContainer:
        """Lock an existing container's directory (waiting for other commands on it).

        ``without_state``: also a directory without state.json (for ``delete --force``: `create` writes the state
        before it drops the lock, so under the lock a missing state.json is the leftover of a crash)."""
        path = self.container_dir(container_id)
        try:
            locked = LockedContainer(container_id, path, blocking=blocking)
        except FileNotFoundError:
            raise ContainerNotFoundError(container_id) from None
        if not without_state and not os.path.exists(os.path.join(path, STATE_FILE)):
            # Deleted while we waited for the lock, or a create that has not written its state yet.
            locked.release()
            raise ContainerNotFoundError(container_id)
        return locked

    def read_unlocked(self, container_id: str) -> ContainerState:
        """Read the state without the lock: for `state` and `list`, which must not wait on a long `start`."""
        return read_state(self.container_dir(container_id), container_id)


def read_state(path: str, container_id: str) -> ContainerState:
    file = os.path.join(path, STATE_FILE)
    try:
        # Non-blocking and checked: a FIFO put in its place must not hang `state` or `list`.
        fd = os.open(file, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ContainerNotFoundError(container_id) from None
    except OSError as exc:
        raise _corrupt(file, f"cannot open: {os.strerror(exc.errno or 0).lower()}", container_id) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _corrupt(file, "not a regular file", container_id)
        with open(fd, "rb", closefd=False) as f:
            raw = f.read()
    finally:
        os.close(fd)
    try:
        data = fastjson.loads(raw)
    except ValueError as exc:  # also bad UTF-8
        raise _corrupt(file, str(exc), container_id) from exc
    except RecursionError:
        raise _corrupt(file, "nested too deeply", container_id) from None
    return ContainerState.from_json(data, file, container_id)


class LockedContainer:
    """A container directory held under an exclusive flock for the duration of one command."""

    def __init__(self, container_id: str, path: str, *, blocking: bool = True) -> None:
        self.id = container_id
        self.path = path
        self._fd: int | None = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BaseException:
            os.close(self._fd)
            self._fd = None
            raise

    @property
    def dir_fd(self) -> int:
        assert self._fd is not None
        return self._fd

    @property
    def fifo_path(self) -> str:
        return os.path.join(self.path, EXEC_FIFO)

    def read(self) -> ContainerState:
        return read_state(self.path, self.id)

    def write(self, state: ContainerState) -> None:
        write_atomically(os.path.join(self.path, STATE_FILE), fastjson.dumps(state.to_json()).encode())

    def remove(self) -> None:
        """Delete the directory (state, fifo, anything else) and drop the lock."""
        try:
            with os.scandir(self.path) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        import shutil  # rarely needed: shutil costs ~3 ms on the `delete` path

                        shutil.rmtree(entry.path)
                    else:
                        os.unlink(entry.path)
            os.rmdir(self.path)
        except FileNotFoundError:
            pass
        self.release()

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> LockedContainer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


# --- the filter of a created container, for `exec` -------------------------------------------------------------

SECCOMP_FILE = "seccomp.bpf"  # in the container's state directory
_SECCOMP_HEADER = "<II"  # seccomp(2) flags, whether the filter notifies


def save_seccomp(seccomp: SeccompPlan | None, directory: str) -> None:
    """Keep the container's compiled filter (an empty file: none) so `exec` applies exactly it, without
    reading the bundle again or recompiling."""
    import struct

    data = b""
    if seccomp is not None:
        data = struct.pack(_SECCOMP_HEADER, seccomp.flags, int(bool(seccomp.listener_path))) + seccomp.program
    write_atomically(os.path.join(directory, SECCOMP_FILE), data, 0o600)


def saved_seccomp(directory: str) -> tuple[bool, SeccompPlan | None]:
    """(found, filter) as save_seccomp left it; found is False for a container created without the file."""
    import struct

    from simcon.init.plan import SeccompPlan

    try:
        with open(os.path.join(directory, SECCOMP_FILE), "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return False, None
    if not data:
        return True, None
    size = struct.calcsize(_SECCOMP_HEADER)
    flags, notify = struct.unpack_from(_SECCOMP_HEADER, data)
    return True, SeccompPlan(data[size:], flags, (), "notify" if notify else None)
