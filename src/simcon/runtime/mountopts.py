"""Parsing the `options` of an OCI mount into mount(2) flags, propagation and filesystem data.

Options are the names runc and crun accept: mount(2) flags, propagation, the recursive `r*` forms (applied with
mount_setattr), `tmpcopyup` and `idmap`/`ridmap`. An unknown option is passed to the filesystem as data (as
`size=64k` or `mode=755` are), which is also what both of them do.
"""

from __future__ import annotations

from simcon.linux import mount as m

# name -> (clear?, flag). "clear" options undo a flag another option or the default set.
FLAG_OPTIONS: dict[str, tuple[bool, int]] = {
    "defaults": (False, 0),
    "ro": (False, m.MS_RDONLY),
    "rw": (True, m.MS_RDONLY),
    "nosuid": (False, m.MS_NOSUID),
    "suid": (True, m.MS_NOSUID),
    "nodev": (False, m.MS_NODEV),
    "dev": (True, m.MS_NODEV),
    "noexec": (False, m.MS_NOEXEC),
    "exec": (True, m.MS_NOEXEC),
    "sync": (False, m.MS_SYNCHRONOUS),
    "async": (True, m.MS_SYNCHRONOUS),
    "dirsync": (False, m.MS_DIRSYNC),
    "remount": (False, m.MS_REMOUNT),
    "mand": (False, m.MS_MANDLOCK),
    "nomand": (True, m.MS_MANDLOCK),
    "noatime": (False, m.MS_NOATIME),
    "atime": (True, m.MS_NOATIME),
    "nodiratime": (False, m.MS_NODIRATIME),
    "diratime": (True, m.MS_NODIRATIME),
    "bind": (False, m.MS_BIND),
    "rbind": (False, m.MS_BIND | m.MS_REC),
    "relatime": (False, m.MS_RELATIME),
    "norelatime": (True, m.MS_RELATIME),
    "strictatime": (False, m.MS_STRICTATIME),
    "nostrictatime": (True, m.MS_STRICTATIME),
    "nosymfollow": (False, m.MS_NOSYMFOLLOW),
    "symfollow": (True, m.MS_NOSYMFOLLOW),
    "lazytime": (False, m.MS_LAZYTIME),
    "nolazytime": (True, m.MS_LAZYTIME),
    "silent": (False, m.MS_SILENT),
    "loud": (True, m.MS_SILENT),
}

PROPAGATION_OPTIONS: dict[str, int] = {
    "private": m.MS_PRIVATE,
    "rprivate": m.MS_PRIVATE | m.MS_REC,
    "shared": m.MS_SHARED,
    "rshared": m.MS_SHARED | m.MS_REC,
    "slave": m.MS_SLAVE,
    "rslave": m.MS_SLAVE | m.MS_REC,
    "unbindable": m.MS_UNBINDABLE,
    "runbindable": m.MS_UNBINDABLE | m.MS_REC,
}

# The recursive forms, applied to the mount and every mount below it with mount_setattr(AT_RECURSIVE):
# name -> (MOUNT_ATTR_* to set, MOUNT_ATTR_* to clear).
_ATIME = m.MOUNT_ATTR__ATIME
RECURSIVE_OPTIONS: dict[str, tuple[int, int]] = {
    "rro": (m.MOUNT_ATTR_RDONLY, 0),
    "rrw": (0, m.MOUNT_ATTR_RDONLY),
    "rnosuid": (m.MOUNT_ATTR_NOSUID, 0),
    "rsuid": (0, m.MOUNT_ATTR_NOSUID),
    "rnodev": (m.MOUNT_ATTR_NODEV, 0),
    "rdev": (0, m.MOUNT_ATTR_NODEV),
    "rnoexec": (m.MOUNT_ATTR_NOEXEC, 0),
    "rexec": (0, m.MOUNT_ATTR_NOEXEC),
    "rnodiratime": (m.MOUNT_ATTR_NODIRATIME, 0),
    "rdiratime": (0, m.MOUNT_ATTR_NODIRATIME),
    "rnosymfollow": (m.MOUNT_ATTR_NOSYMFOLLOW, 0),
    "rsymfollow": (0, m.MOUNT_ATTR_NOSYMFOLLOW),
    # The atime mode is one 3-bit value that the kernel only changes as a whole (clearing all of _ATIME);
    # undoing one of them means going back to the kernel's default, relatime.
    "rrelatime": (m.MOUNT_ATTR_RELATIME, _ATIME),
    "rnorelatime": (m.MOUNT_ATTR_RELATIME, _ATIME),
    "rnoatime": (m.MOUNT_ATTR_NOATIME, _ATIME),
    "ratime": (m.MOUNT_ATTR_RELATIME, _ATIME),
    "rstrictatime": (m.MOUNT_ATTR_STRICTATIME, _ATIME),
    "rnostrictatime": (m.MOUNT_ATTR_RELATIME, _ATIME),
}

# Options that are steps of SimCon's own rather than flags: copy the destination's content into a new tmpfs;
# idmapped bind mounts (only the top mount, or every mount of an rbind).
TMPCOPYUP = "tmpcopyup"
IDMAP_OPTIONS = ("idmap", "ridmap")

# Every option name SimCon gives a meaning to (what `features` lists as mountOptions). Anything else is data.
KNOWN_OPTIONS = frozenset(FLAG_OPTIONS) | frozenset(PROPAGATION_OPTIONS) | frozenset(RECURSIVE_OPTIONS) | {
    TMPCOPYUP, *IDMAP_OPTIONS}


class ParsedOptions:
    __slots__ = ("flags", "propagation", "data", "attr_set", "attr_clr", "tmpcopyup", "idmap")

    def __init__(self, flags: int, propagation: list[int], data: str, attr_set: int = 0, attr_clr: int = 0,
                 tmpcopyup: bool = False, idmap: str | None = None) -> None:
        self.flags = flags
        self.propagation = propagation
        self.data = data
        self.attr_set = attr_set  # mount_setattr, recursive
        self.attr_clr = attr_clr
        self.tmpcopyup = tmpcopyup
        self.idmap = idmap  # None, "idmap" or "ridmap"

    @property
    def is_bind(self) -> bool:
        return bool(self.flags & m.MS_BIND)


class MountOptionError(ValueError):
    def __init__(self, option: str, problem: str) -> None:
        super().__init__(f"option {option!r}: {problem}")
        self.option = option


def parse_options(options: list[str]) -> ParsedOptions:
    parsed = ParsedOptions(0, [], "")
    data: list[str] = []
    for option in options:
        if option in FLAG_OPTIONS:
            clear, flag = FLAG_OPTIONS[option]
            parsed.flags = parsed.flags & ~flag if clear else parsed.flags | flag
        elif option in PROPAGATION_OPTIONS:
            parsed.propagation.append(PROPAGATION_OPTIONS[option])
        elif option in RECURSIVE_OPTIONS:
            attr_set, attr_clr = RECURSIVE_OPTIONS[option]
            changed = attr_set | attr_clr
            # The last option about an attribute wins, as with the plain flags.
            parsed.attr_set = (parsed.attr_set & ~changed) | attr_set
            parsed.attr_clr = (parsed.attr_clr & ~changed) | attr_clr
        elif option == TMPCOPYUP:
            parsed.tmpcopyup = True
        elif option in IDMAP_OPTIONS:
            parsed.idmap = option
        elif not option:
            raise MountOptionError(option, "empty option")
        else:
            data.append(option)
    parsed.data = ",".join(data)
    return parsed


def idmap_supported() -> bool:
    """Whether this kernel can make idmapped mounts (mount_setattr, Linux 5.12+): probed with a call that can
    only fail, ENOSYS meaning the syscall is missing."""
    import errno

    try:
        m.mount_setattr(-1, "", m.AT_EMPTY_PATH, 0)
    except OSError as exc:
        return exc.errno != errno.ENOSYS
    return True
