"""SimCon as a Python library: ``simcon.Runtime``, the calls the ``simcon`` command itself makes.

    import simcon

    rt = simcon.Runtime(root="/run/simcon")
    rt.create("web", bundle="/srv/web")       # the container's process waits for start
    rt.start("web")
    print(rt.state("web").status)             # "running"
    rt.kill("web", "TERM")
    rt.delete("web", force=True)

    code = rt.run("job", bundle="/srv/job")   # create + start + wait + delete; the exit status

Results are typed (``Container``); failures raise the same exceptions the CLI prints (``simcon.errors``:
``ContainerNotFoundError``, ``ConfigError``, ``InvalidStateError``, ...), each one line with its context. The
verbs of ``simcon.cli`` call these methods, so the library and the command cannot drift apart.

Like the CLI, this module imports the runtime lazily: ``Runtime(...).state(id)`` costs what ``simcon state``
costs, and creating a container pays for the create path only when it is called.
"""

from __future__ import annotations

import os

__all__ = ["Container", "Runtime"]


class Container:
    """One container as the state store and the live system describe it (read-only)."""

    __slots__ = ("oci_version", "id", "pid", "status", "bundle", "rootfs", "created", "owner", "annotations", "exit_code",
                 "finished", "network", "log_driver", "log_error", "exit_status_unknown")

    def __init__(self, *, oci_version: str, id: str, pid: int, status: str, bundle: str, rootfs: str, created: str, owner: str,
                 annotations: dict[str, str], exit_code: int | None, finished: str | None,
                 network: dict | None = None, log_driver: str | None = None, log_error: str | None = None,
                 exit_status_unknown: str | None = None) -> None:
        # log_driver/log_error: the container's log capture (docs/logging.md); exit_status_unknown: why no exit
        # code will ever be recorded (its monitor died).
        for name, value in (("oci_version", oci_version), ("id", id), ("pid", pid), ("status", status), ("bundle", bundle), ("rootfs", rootfs),
                            ("created", created), ("owner", owner), ("annotations", dict(annotations)),
                            ("exit_code", exit_code), ("finished", finished), ("network", network),
                            ("log_driver", log_driver), ("log_error", log_error),
                            ("exit_status_unknown", exit_status_unknown)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Container.{name} is read-only")

    def __repr__(self) -> str:
        return f"Container(id={self.id!r}, status={self.status!r}, pid={self.pid})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Container):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    def to_json(self) -> dict:
        """The OCI state object (`simcon state`), with ``exitCode``/``finished`` once a recorded exit is known."""
        view: dict = {"ociVersion": self.oci_version, "id": self.id, "pid": self.pid, "status": self.status,
                      "bundle": self.bundle, "rootfs": self.rootfs, "created": self.created, "owner": self.owner}
        if self.annotations:
            view["annotations"] = self.annotations
        if self.exit_code is not None:
            view["exitCode"] = self.exit_code
            view["finished"] = self.finished
        elif self.exit_status_unknown is not None:
            view["exitCode"] = None
            view["exitStatusUnknown"] = self.exit_status_unknown
        if self.log_driver is not None:
            view["logDriver"] = self.log_driver
        if self.log_error is not None:
            view["logError"] = self.log_error
        if self.network:
            view["network"] = self.network  # a CNI network: mode, network, ips, mac, ports (docs/networking.md)
        return view


def _container(state: object, status: str) -> Container:
    view = state.oci_view(status)  # type: ignore[attr-defined]
    return Container(oci_version=view["ociVersion"], id=view["id"], pid=view["pid"], status=status, bundle=view["bundle"], rootfs=view["rootfs"],
                     created=view["created"], owner=view["owner"], annotations=view.get("annotations", {}),
                     exit_code=view.get("exitCode"), finished=view.get("finished"), network=view.get("network"),
                     log_driver=view.get("logDriver"), log_error=view.get("logError"),
                     exit_status_unknown=view.get("exitStatusUnknown"))


class Runtime:
    """The containers under one state root.

    ``root``: the state directory (default: ``/run/simcon`` for root, ``$XDG_RUNTIME_DIR/simcon`` otherwise).
    ``rootless``: ``True``/``False``, or ``None`` to decide as runc does (rootless when not root).
    """

    def __init__(self, root: str | None = None, *, rootless: bool | None = None, store: object = None) -> None:
        from simcon.runtime.state import StateStore

        self.store = store if store is not None else StateStore(root or default_root())
        self.root = self.store.root  # type: ignore[attr-defined]
        self.rootless = rootless  # None: decided where the plan is built (runtime.plan.options.rootless_mode)

    # -- queries -------------------------------------------------------------------------------------------

    def state(self, container_id: str) -> Container:
        """The container's state, its status derived from the live system now."""
        from simcon.runtime.operations import container_status

        return _container(*container_status(self.store, container_id))

    def list(self) -> list[Container]:
        """Every container under the root whose state can be read (`simcon list`; `simcon gc --force` removes the
        others)."""
        from simcon.runtime.operations import list_containers

        return [_container(state, status) for state, status in list_containers(self.store)]

    # -- lifecycle -----------------------------------------------------------------------------------------

    def create(self, container_id: str, bundle: str = ".", **options: object) -> Container:
        """Create a container from ``bundle``; its process waits for ``start``.

        ``options`` are those of `simcon create`: ``pid_file``, ``console_socket``, ``no_pivot``,
        ``no_new_keyring``, ``preserve_fds``, ``init``, ``seccomp_profile``."""
        from simcon.runtime.create import create_container

        create_container(self.store, container_id, self._create_options(bundle, options))
        return self.state(container_id)

    def start(self, container_id: str) -> Container:
        """Start the process of a created container."""
        from simcon.runtime.operations import start_container

        start_container(self.store, container_id)
        return self.state(container_id)

    def run(self, container_id: str, bundle: str = ".", *, detach: bool = False, keep: bool = False,
            **options: object) -> int:
        """Create and start; in the foreground wait and return the exit status (128+N for signal N), then
        delete unless ``keep``. With ``detach``, return 0 once it runs (a monitor records its exit)."""
        from simcon.runtime.run import run_container

        return run_container(self.store, container_id, self._create_options(bundle, options), detach=detach,
                             keep=keep)

    def kill(self, container_id: str, signal: str | int = "TERM", *, all: bool = False) -> None:
        """Send ``signal`` (a name such as ``"TERM"``/``"SIGKILL"`` or a number) to the init, or to every
        process of the container with ``all``."""
        from simcon.runtime.operations import kill_container

        kill_container(self.store, container_id, _signal_number(signal), all_processes=all)

    def stop(self, container_id: str, timeout: float = 10.0, signal: str | int = "TERM") -> None:
        """``signal`` (SIGTERM), then SIGKILL for everything after ``timeout`` seconds."""
        from simcon.errors import UsageError
        from simcon.runtime.stop import stop_container

        if timeout < 0:
            raise UsageError(f"the stop timeout must not be negative (got {timeout})")
        stop_container(self.store, container_id, timeout, _signal_number(signal))

    def delete(self, container_id: str, *, force: bool = False, keep_logs: bool = False) -> None:
        """Remove a stopped container (``force``: kill it first) and its logs (unless ``keep_logs``)."""
        from simcon.runtime.operations import delete_container

        delete_container(self.store, container_id, force=force, keep_logs=keep_logs)

    def exec(self, container_id: str, args: list[str], **options: object) -> int:
        """Run ``args`` in the running container and return its exit status (0 at once with ``detach=True``).

        ``options`` are those of `simcon exec`: ``env`` (list of ``KEY=VALUE``), ``cwd``, ``user``
        (``"UID[:GID]"``), ``tty``, ``detach``, ``caps``, ``no_new_privs``, ``pid_file``, ..."""
        from simcon.runtime.exec import ExecOptions, exec_in_container

        return exec_in_container(self.store, container_id, ExecOptions(args=list(args), **options))

    def pause(self, container_id: str) -> None:
        """Freeze every process of the running container (cgroup freezer)."""
        from simcon.runtime.cgroup_ops import pause_container

        pause_container(self.store, container_id)

    def resume(self, container_id: str) -> None:
        """Thaw a paused container."""
        from simcon.runtime.cgroup_ops import resume_container

        resume_container(self.store, container_id)

    def update(self, container_id: str, resources: dict) -> None:
        """Apply an OCI ``linux.resources`` object, e.g. ``{"memory": {"limit": 256 << 20}}``."""
        from simcon import fastjson
        from simcon.runtime.cgroup_ops import decode_resources, update_container

        update_container(self.store, container_id,
                         decode_resources(fastjson.dumps(resources).encode(), "the resources argument"))

    def gc(self, *, dry_run: bool = False) -> list[str]:
        """Remove every stopped container (state, cgroups, and what delete removes); the ids removed."""
        from simcon.runtime.operations import delete_container

        stopped = [c.id for c in self.list() if c.status == "stopped"]
        if not dry_run:
            for container_id in stopped:
                delete_container(self.store, container_id)
        return stopped

    def _create_options(self, bundle: str, options: dict[str, object]) -> object:
        from simcon.runtime.create import CreateOptions

        return CreateOptions(bundle=bundle, rootless=self.rootless, **options)


def _signal_number(signal: str | int) -> int:
    from simcon.errors import UsageError
    from simcon.runtime.operations import parse_signal

    if isinstance(signal, int):
        return signal
    try:
        return parse_signal(signal)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def default_root() -> str:
    """Where state lives when no root is given: root's /run/simcon, else the user's runtime directory."""
    from simcon.errors import UsageError

    if os.geteuid() == 0:
        return "/run/simcon"
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
    if runtime_dir:
        return os.path.join(runtime_dir, "simcon")
    # Never a guessable directory in /tmp: another user could create it first and own our state.
    user_dir = f"/run/user/{os.geteuid()}"
    if os.path.isdir(user_dir) and os.stat(user_dir).st_uid == os.geteuid():
        return os.path.join(user_dir, "simcon")
    raise UsageError("no state directory for a non-root user: set XDG_RUNTIME_DIR or pass --root DIR")
