"""Container logs: which driver a container gets, the monitor that captures its output, and removing its logs.

The driver comes from `--log-driver` / `--log-opt KEY=VALUE` of `create` and `run`, else from the config's
annotations `run.oci.simcon.log-driver` / `run.oci.simcon.log-opt.KEY`, else: `k8s-file` for `run -d` (a
detached container's output must go somewhere that can be read back), and no capture (the caller's stdio,
`passthrough`) for `create` and a foreground `run`.

Capture needs a process that outlives `create`: the monitor (``simcon.monitor.launch``). It makes the pipes
before the container exists, so the init inherits them as stdout and stderr (stdin is an empty pipe), creates (and
for `run -d` starts) the container, records itself and the log settings in state.json, and then becomes the
lean capture loop (``runtime.exit_record.main`` -> ``monitor.capture``).

Default files: ``<root>/@logs/<id>/container.log`` (``runtime.log_files``).
"""

from __future__ import annotations

import os

from simcon import faults, interrupts
from simcon.errors import SimconError
from simcon.runtime.log_files import default_log_path

__all__ = ["LogSettings", "default_log_path", "resolve", "spawn_monitored", "wait_for_exit"]

DRIVER_ANNOTATION = "run.oci.simcon.log-driver"
OPTION_ANNOTATION_PREFIX = "run.oci.simcon.log-opt."
DETACHED_DEFAULT = "k8s-file"


class LogSettings:
    """The resolved log configuration of one container (stored in state.json as ``log``)."""

    __slots__ = ("driver", "options", "path", "entry")

    def __init__(self, driver: str, options: dict[str, str], path: str, entry: list[str] | None = None) -> None:
        self.driver = driver
        self.options = options
        self.path = path  # the file drivers' file (options' `path`, or the default under the root)
        self.entry = entry  # a third-party driver: [module:attr, directory] (logdrivers.plugin_entry)

    def to_json(self) -> dict:
        return {"driver": self.driver, "options": self.options, "path": self.path, "entry": self.entry}

    @property
    def captured(self) -> bool:
        return self.driver != "passthrough"


def parse_log_opts(values: list[str]) -> dict[str, str]:
    options = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key:
            raise SimconError(f"--log-opt {value!r}: expected KEY=VALUE")
        options[key] = text
    return options


def wants_annotations(bundle: str) -> bool:
    """Whether config.json may hold log annotations: a byte search, so a plain `create` does not parse the
    config twice (the plan parses it; this only decides whether a monitor is needed first)."""
    try:
        with open(os.path.join(bundle, "config.json"), "rb") as f:
            return b"run.oci.simcon.log-" in f.read()
    except OSError:
        return False  # create reports the config's problem itself


def resolve(root: str, container_id: str, bundle: str, driver: str | None, log_opts: list[str], *,
            detached: bool, default_driver: str | None = None,
            default_opts: dict[str, str] | None = None) -> LogSettings:
    """The settings for a new container; LogOptionError/ConfigError for a bad name, option or annotation.

    Precedence: --log-driver/--log-opt, then the config's annotations, then simcon.toml (``default_driver``,
    ``default_opts``: its options apply to its driver only), then the built-in default."""
    from simcon.monitor.logdrivers import BUILTIN, plugin_entry, validate

    options = parse_log_opts(log_opts)
    if driver is None and (detached or wants_annotations(bundle)):
        annotations = _annotations(bundle)
        driver = annotations.get(DRIVER_ANNOTATION)
        for key, value in annotations.items():
            if key.startswith(OPTION_ANNOTATION_PREFIX):
                options.setdefault(key[len(OPTION_ANNOTATION_PREFIX):], value)
    if driver is None:
        driver = default_driver
    if driver is not None and driver == default_driver:
        for key, value in (default_opts or {}).items():
            options.setdefault(key, value)
    if driver is None:
        driver = DETACHED_DEFAULT if detached else "passthrough"
    validate(driver, options)
    entry = None
    if driver not in BUILTIN:
        found = plugin_entry(driver)
        entry = list(found) if found is not None else None
    return LogSettings(driver, options, options.get("path") or default_log_path(root, container_id), entry)


def _annotations(bundle: str) -> dict[str, str]:
    from simcon.spec.load import load_config

    return dict(load_config(os.path.abspath(bundle)).annotations or {})


def _terminal(bundle: str) -> bool:
    from simcon.spec.load import load_config

    process = load_config(os.path.abspath(bundle)).process
    return bool(process is not None and process.terminal)


def spawn_monitored(store, container_id: str, options, settings: LogSettings, *, start: bool) -> None:  # noqa: ANN001
    """Create (and with ``start`` start) the container under a monitor that captures its output."""
    from simcon.monitor.launch import spawn
    from simcon.runtime.create import create_container
    from simcon.runtime.operations import delete_container, start_container

    capture_tty = _terminal(options.bundle) and not options.console_socket

    def setup() -> tuple[str, list[str], list[int]]:
        """In the monitor: the container's stdio, create, start; then the monitor becomes the capture loop."""
        streams = [] if capture_tty or not settings.captured else _redirect_stdio()
        if capture_tty:
            options.relay_terminal = True  # the pty master comes to us, the monitor
        created = create_container(store, container_id, options)
        try:
            faults.point("monitor:created")
            if created.console_master is not None:
                streams = [(created.console_master, "stdout")]
            _record_monitor(store, container_id, settings)
            if start:
                start_container(store, container_id)
            faults.point("monitor:started")
        except BaseException:
            # Not reported as started, so not left running (nor created: nobody would wait for it).
            with interrupts.deferred():
                delete_container(store, container_id, force=True)
            raise
        state = created.state
        args = [store.root, container_id, str(state.pid), str(state.init_start_time or 0)]
        if settings.captured:
            from simcon import fastjson

            names = [name for _fd, name in streams]
            args.append(fastjson.dumps({"log": settings.to_json(), "streams": names}))
        return "simcon.runtime.exit_record", args, [fd for fd, _name in streams]

    spawn(setup, container_id, undo=lambda: delete_container(store, container_id, force=True))


def _redirect_stdio() -> list[tuple[int, str]]:
    """Pipes for the container's stdout and stderr, installed as our fds 1 and 2 (the init inherits them);
    stdin is an empty pipe. SimCon's own messages keep going to the caller's stderr, never into the pipes."""
    import sys

    saved = os.dup(2)  # CLOEXEC by default (PEP 446): the init never sees it
    sys.stderr = open(saved, "w", closefd=True)  # noqa: SIM115 - lives as long as the monitor's setup
    streams = []
    for target, name in ((1, "stdout"), (2, "stderr")):
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        os.dup2(write_end, target)  # inheritable: the container's stdio
        os.close(write_end)
        streams.append((read_end, name))
    # stdin: an empty pipe (reads see EOF), not the host's /dev/null, which a remapped container must not get.
    stdin_read, stdin_write = os.pipe2(os.O_CLOEXEC)
    os.close(stdin_write)
    os.dup2(stdin_read, 0)
    os.close(stdin_read)
    return streams


def _record_monitor(store, container_id: str, settings: LogSettings) -> None:  # noqa: ANN001
    from simcon.linux import procfs

    with store.open(container_id) as locked:
        state = locked.read()
        state.monitor_pid = os.getpid()
        state.monitor_start_time = procfs.start_time(os.getpid())
        state.log = settings.to_json()
        locked.write(state)


def wait_for_exit(store, container_id: str, *, keep: bool) -> int:  # noqa: ANN001
    """A foreground `run` with a log driver: the monitor holds the output, so wait for the monitor to record the
    exit (it exits right after), passing our signals on to the container; then delete unless ``keep``."""
    from simcon.linux.pidfd import open_pidfd, wait_for_exit as wait_for_pidfd
    from simcon.runtime.forwarding import forwarding_to
    from simcon.runtime.operations import delete_container

    state = store.read_unlocked(container_id)
    with forwarding_to(state.pid):
        monitor = open_pidfd(state.monitor_pid)  # None: gone already
        if monitor is not None:
            try:
                while not wait_for_pidfd(monitor, 1.0):
                    pass
            finally:
                os.close(monitor)
    code = store.read_unlocked(container_id).exit_status
    if not keep:
        delete_container(store, container_id, force=True, keep_logs=True)
    if code is None:
        raise SimconError("the monitor exited without recording the container's exit status",
                          container_id=container_id)
    return code
