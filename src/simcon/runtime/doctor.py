"""`simcon doctor`: what this host supports and what is wrong with it, each problem with a fix.

Every check reads the host through one ``Host`` object (files, commands on PATH, the kernel's answers), so a
unit test can stand in a host this machine cannot be (pure cgroup v2, no user namespaces) with ``FakeHost``.
A check returns one ``Finding``; ``needed`` findings that fail make `doctor` exit 1, optional ones only warn.
"""

from __future__ import annotations

import os
import shutil

OK = "ok"
WARN = "warn"
FAIL = "fail"
INFO = "info"

# The CNI plugins SimCon's networks use (Debian's containernetworking-plugins).
CNI_PLUGINS = ("bridge", "host-local", "portmap", "firewall", "tuning", "loopback")


class Finding:
    __slots__ = ("check", "status", "detail", "fix", "needed")

    def __init__(self, check: str, status: str, detail: str, fix: str = "", *, needed: bool = False) -> None:
        self.check = check
        self.status = status
        self.detail = detail
        self.fix = fix
        self.needed = needed

    def to_json(self) -> dict:
        return {"check": self.check, "status": self.status, "detail": self.detail, "fix": self.fix,
                "needed": self.needed}


class Host:
    """The real host. Each method is one question; ``FakeHost`` answers them from a table."""

    def read(self, path: str) -> str | None:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                return f.read(1 << 20)
        except OSError:
            return None

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def listdir(self, path: str) -> list[str]:
        try:
            return sorted(os.listdir(path))
        except OSError:
            return []

    def which(self, name: str) -> str | None:
        return shutil.which(name)

    def kernel_release(self) -> str:
        return os.uname().release

    def libseccomp_version(self) -> str | None:
        import ctypes

        try:
            from simcon.linux import seccomp

            lib = seccomp.library()
        except OSError:
            return None

        class _Version(ctypes.Structure):
            _fields_ = [("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint)]

        lib.seccomp_version.restype = ctypes.POINTER(_Version)
        version = lib.seccomp_version().contents
        return f"{version.major}.{version.minor}.{version.micro}"

    def idmapped_mounts(self) -> bool:
        from simcon.runtime.mountopts import idmap_supported

        return idmap_supported()

    def pidfd(self) -> bool:
        try:
            os.close(os.pidfd_open(os.getpid()))
        except (OSError, AttributeError):
            return False
        return True

    def filesystem_type(self, path: str) -> str | None:
        """The type of the filesystem mounted at or holding ``path``, from mountinfo (longest mount point)."""
        text = self.read("/proc/self/mountinfo") or ""
        best, best_type = "", None
        real = os.path.realpath(path)
        for line in text.splitlines():
            fields = line.split()
            if " - " not in line or len(fields) < 5:
                continue
            mount_point = fields[4]
            fstype = line.split(" - ", 1)[1].split()[0]
            if (real == mount_point or real.startswith(mount_point.rstrip("/") + "/")) and len(mount_point) >= len(best):
                best, best_type = mount_point, fstype
        return best_type

    def writable_dir(self, path: str) -> bool:
        """Whether ``path`` (or the nearest existing parent, where it will be made) is writable."""
        probe = path
        while probe and not os.path.exists(probe):
            probe = os.path.dirname(probe.rstrip("/")) or "/"
        return os.access(probe, os.W_OK | os.X_OK)

    def euid(self) -> int:
        return os.geteuid()


class FakeHost(Host):
    """A host made of tables, for tests: ``files`` path -> text, ``commands`` name -> path, ``answers`` for the
    kernel questions (``kernel``, ``libseccomp``, ``idmap``, ``pidfd``, ``fstype``, ``writable``, ``euid``)."""

    def __init__(self, files: dict[str, str], commands: dict[str, str] | None = None, **answers: object) -> None:
        self.files = files
        self.commands = commands or {}
        self.answers = answers

    def read(self, path: str) -> str | None:
        return self.files.get(path)

    def exists(self, path: str) -> bool:
        return path in self.files or any(f.startswith(path.rstrip("/") + "/") for f in self.files)

    def listdir(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        return sorted({f[len(prefix):].split("/")[0] for f in self.files if f.startswith(prefix)})

    def which(self, name: str) -> str | None:
        return self.commands.get(name)

    def kernel_release(self) -> str:
        return str(self.answers.get("kernel", "6.1.0"))

    def libseccomp_version(self) -> str | None:
        return self.answers.get("libseccomp", "2.5.4")  # type: ignore[return-value]

    def idmapped_mounts(self) -> bool:
        return bool(self.answers.get("idmap", True))

    def pidfd(self) -> bool:
        return bool(self.answers.get("pidfd", True))

    def filesystem_type(self, path: str) -> str | None:
        return self.answers.get("fstype", "tmpfs")  # type: ignore[return-value]

    def writable_dir(self, path: str) -> bool:
        return bool(self.answers.get("writable", True))

    def euid(self) -> int:
        return int(self.answers.get("euid", 0))  # type: ignore[arg-type]


def run_checks(host: Host, *, root: str, cni_plugin_dirs: list[str], cni_config_dir: str,
               cgroup_manager: str = "cgroupfs") -> list[Finding]:
    """All the checks, in the order they are shown."""
    findings = [
        check_kernel(host),
        check_cgroups(host),
        check_systemd_driver(host, cgroup_manager),
        check_user_namespaces(host),
        check_id_mapping_tools(host),
        check_idmapped_mounts(host),
        check_seccomp(host),
        check_lsm(host),
        check_pidfd(host),
        check_cni(host, cni_plugin_dirs, cni_config_dir),
        check_state_root(host, root),
    ]
    findings += check_leftovers(host, root)
    findings += check_engines(host)
    return findings


def _version_tuple(release: str) -> tuple[int, int]:
    parts = []
    for piece in release.split(".")[:2]:
        digits = ""
        for ch in piece:
            if not ch.isdigit():
                break
            digits += ch
        parts.append(int(digits or 0))
    return (parts + [0, 0])[0], (parts + [0, 0])[1]


def check_kernel(host: Host) -> Finding:
    release = host.kernel_release()
    version = _version_tuple(release)
    if version < (4, 14):
        return Finding("kernel", FAIL, f"Linux {release} is older than 4.14", "run a newer kernel", needed=True)
    if version < (5, 12):
        return Finding("kernel", WARN, f"Linux {release}: no idmapped mounts or mount_setattr before 5.12",
                       "run Linux 5.12 or newer for idmapped mounts", needed=True)
    return Finding("kernel", OK, f"Linux {release}", needed=True)


def cgroup_layout(host: Host) -> tuple[str, list[str]]:
    """("v1" | "v2" | "hybrid" | "none", the controllers SimCon can use)."""
    from simcon.cgroups.mounts import parse_mountinfo_text

    hierarchies = parse_mountinfo_text(host.read("/proc/self/mountinfo") or "")
    v1 = [h for h in hierarchies if h.version == 1]
    v2 = [h for h in hierarchies if h.version == 2]
    if not v1 and not v2:
        return "none", []
    controllers: set[str] = set()
    for h in v1:
        controllers.update(c for c in h.controllers if not c.startswith("name="))
    if v2:
        text = host.read(os.path.join(v2[0].mount_point, "cgroup.controllers")) or ""
        controllers.update(text.split())
    if v1 and v2:
        layout = "hybrid"
    else:
        layout = "v2" if v2 else "v1"
    return layout, sorted(controllers)


def check_cgroups(host: Host) -> Finding:
    layout, controllers = cgroup_layout(host)
    if layout == "none":
        return Finding("cgroups", FAIL, "no cgroup filesystem is mounted",
                       "mount cgroup2 on /sys/fs/cgroup (or boot with systemd)", needed=True)
    detail = f"{layout}; controllers: {' '.join(controllers) or 'none'}"
    missing = [c for c in ("memory", "pids", "cpu") if c not in controllers]
    if missing:
        return Finding("cgroups", WARN, f"{detail}; missing {', '.join(missing)}",
                       "enable the controllers (cgroup_enable=... on the kernel command line, or subtree_control)",
                       needed=True)
    if layout == "hybrid":
        return Finding("cgroups", OK, f"{detail} (v1 controllers; the unified hierarchy only tracks processes)",
                       needed=True)
    return Finding("cgroups", OK, detail, needed=True)


def check_systemd_driver(host: Host, cgroup_manager: str) -> Finding:
    running = host.exists("/run/systemd/system")
    # SimCon's driver talks to systemd through the system bus (cgroups.systemd_dbus), not /run/systemd/private.
    bus = host.exists("/run/dbus/system_bus_socket")
    layout, _ = cgroup_layout(host)
    if running and bus and layout != "v2":
        status = FAIL if cgroup_manager == "systemd" else INFO
        return Finding("cgroup driver", status, f"{cgroup_manager} (systemd is PID 1, but the cgroups are {layout}: "
                       "SimCon's systemd driver needs cgroup v2)",
                       "boot with systemd.unified_cgroup_hierarchy=1, or use the cgroupfs driver",
                       needed=cgroup_manager == "systemd")
    if running and bus:
        return Finding("cgroup driver", OK, f"{cgroup_manager} (systemd is PID 1 with its D-Bus: --systemd-cgroup "
                       "puts containers in transient scopes)")
    if running and cgroup_manager == "systemd":
        return Finding("cgroup driver", FAIL, "systemd driver selected, but the system bus "
                       "(/run/dbus/system_bus_socket) is not there", "systemctl start dbus (the dbus package)",
                       needed=True)
    if cgroup_manager == "systemd":
        return Finding("cgroup driver", FAIL, "systemd driver selected, but systemd is not running as PID 1",
                       "use the cgroupfs driver (drop --systemd-cgroup / cgroup_manager)", needed=True)
    return Finding("cgroup driver", INFO, f"{cgroup_manager} (systemd is not PID 1 here: --systemd-cgroup "
                   "cannot be used)")


def check_user_namespaces(host: Host) -> Finding:
    limit = (host.read("/proc/sys/user/max_user_namespaces") or "").strip()
    if limit == "0":
        return Finding("user namespaces", WARN, "disabled (user.max_user_namespaces = 0)",
                       "sysctl -w user.max_user_namespaces=15000")
    if not host.exists("/proc/self/ns/user"):
        return Finding("user namespaces", WARN, "not built into this kernel", "use a kernel with CONFIG_USER_NS")
    unprivileged = (host.read("/proc/sys/kernel/unprivileged_userns_clone") or "1").strip()
    if unprivileged == "0":
        return Finding("user namespaces", WARN, "root only (kernel.unprivileged_userns_clone = 0): no rootless",
                       "sysctl -w kernel.unprivileged_userns_clone=1")
    ranges = []
    for path in ("/etc/subuid", "/etc/subgid"):
        entries = [line for line in (host.read(path) or "").splitlines() if line.strip() and not line.startswith("#")]
        ranges.append(f"{os.path.basename(path)}: {len(entries)} range{'s' if len(entries) != 1 else ''}")
    return Finding("user namespaces", OK, f"available ({'; '.join(ranges)})")


def check_id_mapping_tools(host: Host) -> Finding:
    missing = [tool for tool in ("newuidmap", "newgidmap") if not host.which(tool)]
    if missing:
        return Finding("newuidmap/newgidmap", WARN, f"{' and '.join(missing)} not found: rootless containers get "
                       "only the user's own id", "apt-get install uidmap")
    return Finding("newuidmap/newgidmap", OK, "found")


def check_idmapped_mounts(host: Host) -> Finding:
    if host.idmapped_mounts():
        return Finding("idmapped mounts", OK, "supported (mount_setattr)")
    return Finding("idmapped mounts", WARN, "not supported by this kernel: idmap mount options are refused",
                   "run Linux 5.12 or newer")


def check_seccomp(host: Host) -> Finding:
    status = host.read("/proc/self/status") or ""
    if "Seccomp:" not in status:
        return Finding("seccomp", FAIL, "the kernel has no seccomp", "use a kernel with CONFIG_SECCOMP_FILTER",
                       needed=True)
    version = host.libseccomp_version()
    if version is None:
        return Finding("seccomp", FAIL, "libseccomp is not installed: configs with linux.seccomp fail",
                       "apt-get install libseccomp2", needed=True)
    return Finding("seccomp", OK, f"kernel filter; libseccomp {version}", needed=True)


def check_lsm(host: Host) -> Finding:
    parts = []
    if (host.read("/sys/module/apparmor/parameters/enabled") or "").strip() == "Y":
        parts.append("AppArmor enabled" + ("" if host.which("apparmor_parser") else " (apparmor_parser missing)"))
    if host.exists("/sys/fs/selinux/enforce"):
        mode = (host.read("/sys/fs/selinux/enforce") or "").strip()
        parts.append(f"SELinux {'enforcing' if mode == '1' else 'permissive'}")
    if not parts:
        return Finding("LSM", INFO, "no AppArmor or SELinux: profiles and labels in configs are not applied")
    return Finding("LSM", OK, "; ".join(parts))


def check_pidfd(host: Host) -> Finding:
    if host.pidfd():
        return Finding("pidfd", OK, "pidfd_open works (signals cannot hit a recycled pid)")
    return Finding("pidfd", WARN, "no pidfd_open (Linux < 5.3): signals go by pid", "run Linux 5.3 or newer")


def check_cni(host: Host, plugin_dirs: list[str], config_dir: str) -> Finding:
    found = {name for d in plugin_dirs for name in CNI_PLUGINS if host.exists(os.path.join(d, name))}
    missing = [name for name in CNI_PLUGINS if name not in found]
    where = ", ".join(plugin_dirs)
    if len(missing) == len(CNI_PLUGINS):
        return Finding("CNI plugins", WARN, f"none in {where}: --network bridge cannot work",
                       "apt-get install containernetworking-plugins")
    if missing:
        return Finding("CNI plugins", WARN, f"missing in {where}: {', '.join(missing)}",
                       "apt-get install containernetworking-plugins")
    networks = [n for n in host.listdir(config_dir) if n.endswith((".conflist", ".conf"))]
    return Finding("CNI plugins", OK, f"all found in {where}; {len(networks)} network(s) in {config_dir}")


def check_state_root(host: Host, root: str) -> Finding:
    if not host.writable_dir(root):
        return Finding("state root", FAIL, f"{root} is not writable", "pass --root DIR or set `root` in simcon.toml",
                       needed=True)
    fstype = host.filesystem_type(root)
    if fstype != "tmpfs":
        return Finding("state root", INFO, f"{root} on {fstype or 'an unknown filesystem'}: state outlives a "
                       "reboot, when every container in it is stopped", "after a reboot, run `simcon gc`")
    return Finding("state root", OK, f"{root} (tmpfs: cleared at reboot)")


def check_leftovers(host: Host, root: str) -> list[Finding]:
    """Stale state (corrupt or unreadable state dirs), cgroups of SimCon without a container, SimCon mounts."""
    findings = []
    ids = [name for name in host.listdir(root) if not name.startswith(".")]
    broken = [cid for cid in ids if not _state_readable(host, os.path.join(root, cid, "state.json"))]
    if broken:
        findings.append(Finding("state", WARN, f"{len(broken)} unreadable state dir(s) under {root}: "
                                f"{', '.join(broken[:5])}", "simcon delete --force ID (or simcon gc)"))
    else:
        findings.append(Finding("state", OK, f"{len(ids)} container(s) under {root}"))
    from simcon.cgroups.mounts import parse_mountinfo_text

    orphans = []
    # SimCon's default cgroup parent is /simcon (cgroupsPath unset): <mount>/simcon/<id> in every hierarchy.
    for hierarchy in parse_mountinfo_text(host.read("/proc/self/mountinfo") or ""):
        base = os.path.join(hierarchy.mount_point, "simcon")
        for name in host.listdir(base):
            if host.exists(os.path.join(base, name, "cgroup.procs")) and name not in ids:
                orphans.append(os.path.join(base, name))
    if orphans:
        findings.append(Finding("cgroups of SimCon", WARN, f"{len(orphans)} without a container: "
                                f"{', '.join(orphans[:3])}", "simcon gc (or rmdir them when empty)"))
    mounts = [line.split()[4] for line in (host.read("/proc/self/mountinfo") or "").splitlines()
              if len(line.split()) > 4 and "/simcon/" in line.split()[4] and line.split()[4].startswith(root)]
    if mounts:
        findings.append(Finding("mounts", WARN, f"{len(mounts)} SimCon mount(s) left: {', '.join(mounts[:3])}",
                                "umount them, then simcon gc"))
    return findings


def _state_readable(host: Host, path: str) -> bool:
    text = host.read(path)
    if text is None:
        return False
    from simcon import fastjson

    try:
        data = fastjson.loads(text)
    except ValueError:
        return False
    return isinstance(data, dict) and isinstance(data.get("id"), str)


def check_engines(host: Host) -> list[Finding]:
    """Whether podman and containerd are set up to use SimCon (docs/engines.md says how)."""
    findings = []
    if host.which("podman"):
        confs = ("/etc/containers/containers.conf", "/usr/share/containers/containers.conf",
                 os.path.expanduser("~/.config/containers/containers.conf"))
        configured = any("simcon" in (host.read(path) or "") for path in confs)
        findings.append(Finding("podman", OK if configured else INFO,
                                "a `simcon` runtime is configured" if configured else "installed; SimCon is not "
                                "one of its runtimes", "" if configured else "see docs/engines.md "
                                "([engine.runtimes] simcon = [...] in containers.conf)"))
    if host.which("containerd"):
        configured = "simcon" in (host.read("/etc/containerd/config.toml") or "")
        findings.append(Finding("containerd", OK if configured else INFO,
                                "a runtime handler uses SimCon" if configured else "installed; no runtime handler "
                                "uses SimCon", "" if configured else "see docs/engines.md (BinaryName)"))
    return findings


def exit_code(findings: list[Finding]) -> int:
    """0 when everything SimCon needs is there; 1 when a needed check failed."""
    return 1 if any(f.needed and f.status == FAIL for f in findings) else 0
