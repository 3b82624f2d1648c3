"""The command-line options of `create`/`run` and `exec`: what the plan builders read besides the config."""

from __future__ import annotations

import os


class CreateOptions:
    __slots__ = ("bundle", "pid_file", "console_socket", "no_pivot", "no_new_keyring", "preserve_fds",
                 "relay_terminal", "init", "seccomp_profile", "rootless", "systemd_cgroup", "network",
                 "systemd_cgroup_default", "start_timeout")

    def __init__(self, bundle: str = ".", pid_file: str | None = None, console_socket: str | None = None,
                 no_pivot: bool = False, no_new_keyring: bool = False, preserve_fds: int = 0,
                 relay_terminal: bool = False, init: bool = False, seccomp_profile: str | None = None,
                 rootless: bool | None = None, systemd_cgroup: bool = False, network: dict | None = None,
                 systemd_cgroup_default: bool = False, start_timeout: float | None = None) -> None:
        self.bundle = bundle
        self.pid_file = pid_file
        self.console_socket = console_socket
        self.no_pivot = no_pivot
        self.no_new_keyring = no_new_keyring
        self.preserve_fds = preserve_fds
        # A foreground `run`: SimCon itself receives the pty master and relays it (no --console-socket needed).
        self.relay_terminal = relay_terminal
        # `--init`: the SimCon init stays as PID 1, reaping orphans and forwarding signals (see init.tiny_init).
        self.init = init
        # `--seccomp-profile`: a profile file (or "unconfined") that replaces the config's linux.seccomp.
        self.seccomp_profile = seccomp_profile
        # The global `--rootless true|false`; None is "auto", decided where the plan is built (``rootless_mode``).
        self.rootless = rootless
        # The global `--systemd-cgroup`: the cgroup is a transient systemd scope (simcon.cgroups.systemd), and
        # linux.cgroupsPath is `slice:prefix:name`.
        self.systemd_cgroup = systemd_cgroup
        # simcon.toml's `cgroup_manager = "systemd"`: the systemd driver for a config.json without cgroupsPath.
        self.systemd_cgroup_default = systemd_cgroup_default
        # simcon.toml's `start_timeout` (seconds); the annotation run.oci.simcon.start-timeout overrides it.
        self.start_timeout = start_timeout
        # `--network`, `--publish`, `--dns` ...: option name (runtime.network.OPTION_KEYS) -> value.
        self.network = network or {}


def rootless_mode(rootless: bool | None) -> bool:
    """The global ``--rootless``; auto (None): rootless when not root, as runc decides."""
    return os.geteuid() != 0 if rootless is None else rootless


class ExecOptions:
    """What `simcon exec` was asked for, besides the container id."""

    def __init__(self, **fields: object) -> None:
        self.process_file: str | None = None
        self.args: list[str] = []
        self.detach = False
        self.tty = False
        self.cwd: str | None = None
        self.env: list[str] = []
        self.user: str | None = None
        self.additional_gids: list[int] = []
        self.caps: list[str] = []
        self.no_new_privs = False
        self.apparmor: str | None = None
        self.process_label: str | None = None
        self.pid_file: str | None = None
        self.console_socket: str | None = None
        self.preserve_fds = 0
        self.cgroup: list[str] = []
        self.ignore_paused = False
        for name, value in fields.items():
            if not hasattr(self, name):
                raise TypeError(f"unknown exec option {name!r}")
            setattr(self, name, value)
