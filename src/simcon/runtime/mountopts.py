"""Parsing the `options` of an OCI mount into mount(2) flags, propagation and filesystem data.

Options are the names runc and crun accept; an unknown option is passed to the filesystem as data (as
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

# Options that need mount_setattr or a copy step; accepted by runc, not yet by SimCon.
NOT_YET_SUPPORTED = frozenset({
    "rro", "rrw", "rnosuid", "rsuid", "rnodev", "rdev", "rnoexec", "rexec", "rnodiratime", "rdiratime",
    "rrelatime", "rnorelatime", "rnoatime", "ratime", "rstrictatime", "rnostrictatime", "rnosymfollow",
    "rsymfollow", "tmpcopyup", "idmap", "ridmap",
})


class ParsedOptions:
    __slots__ = ("flags", "propagation", "data")

    def __init__(self, flags: int, propagation: list[int], data: str) -> None:
        self.flags = flags
        self.propagation = propagation
        self.data = data

    @property
    def is_bind(self) -> bool:
        return bool(self.flags & m.MS_BIND)


class MountOptionError(ValueError):
    def __init__(self, option: str, problem: str) -> None:
        super().__init__(f"option {option!r}: {problem}")
        self.option = option


def parse_options(options: list[str]) -> ParsedOptions:
    flags = 0
    propagation: list[int] = []
    data: list[str] = []
    for option in options:
        if option in FLAG_OPTIONS:
            clear, flag = FLAG_OPTIONS[option]
            flags = flags & ~flag if clear else flags | flag
        elif option in PROPAGATION_OPTIONS:
            propagation.append(PROPAGATION_OPTIONS[option])
        elif option in NOT_YET_SUPPORTED:
            raise MountOptionError(option, "not supported by this version of SimCon")
        elif not option:
            raise MountOptionError(option, "empty option")
        else:
            data.append(option)
    return ParsedOptions(flags, propagation, ",".join(data))
