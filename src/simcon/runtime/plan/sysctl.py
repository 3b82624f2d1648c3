"""``linux.sysctl`` in the launch plan: each key checked to belong to a namespace the container has of its own."""

from __future__ import annotations

from simcon.errors import ConfigError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from collections.abc import Callable

_IPC_SYSCTLS = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
                "kernel.shmmni", "kernel.shm_rmid_forced")
_UTS_SYSCTLS = ("kernel.hostname", "kernel.domainname")


def sysctl_namespace(key: str) -> str | None:
    """The namespace a sysctl key belongs to, or None when it is not namespaced (a host-wide setting)."""
    dotted = key.replace("/", ".")
    if dotted in _IPC_SYSCTLS or dotted.startswith("fs.mqueue."):
        return "ipc"
    if dotted.startswith("net."):
        return "network"
    if dotted in _UTS_SYSCTLS:
        return "uts"
    return None


def sysctl_plan(sysctl: dict[str, str], has_namespace: Callable[[str], bool],
                config_file: str) -> list[tuple[str, str]]:
    """(path under /proc/sys, value) per key; each key must belong to a namespace the container has of its own."""
    result = []
    for key, value in sysctl.items():
        where = f'linux.sysctl["{key}"]'
        kind = sysctl_namespace(key)
        if kind is None:
            raise ConfigError(config_file, where, "not a namespaced sysctl: it would change the host, so it is "
                                                  "not allowed in a container")
        if not has_namespace(kind):
            raise ConfigError(config_file, where, f"needs a {kind} namespace of the container's own "
                                                  f'(add {{"type": "{kind}"}} to linux.namespaces)')
        relative = key.replace(".", "/") if "/" not in key else key
        if ".." in relative.split("/"):
            raise ConfigError(config_file, where, "must not contain '..'")
        result.append(("/proc/sys/" + relative.strip("/"), value))
    return result
