"""simcon.runtime.mountopts: OCI mount options -> mount(2) flags, propagation list and filesystem data.

The expected bits are the kernel's values (include/uapi/linux/mount.h), written out here rather than taken from
simcon.linux.mount, so a wrong constant there is caught too.
"""

from __future__ import annotations

import pytest

from simcon.runtime.mountopts import (
    FLAG_OPTIONS,
    KNOWN_OPTIONS,
    PROPAGATION_OPTIONS,
    RECURSIVE_OPTIONS,
    MountOptionError,
    parse_options,
)
from simcon.spec.constants import MOUNT_OPTIONS

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MS_LAZYTIME = 1 << 25

SETTING = {
    "ro": MS_RDONLY,
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "sync": MS_SYNCHRONOUS,
    "dirsync": MS_DIRSYNC,
    "remount": MS_REMOUNT,
    "mand": MS_MANDLOCK,
    "noatime": MS_NOATIME,
    "nodiratime": MS_NODIRATIME,
    "bind": MS_BIND,
    "rbind": MS_BIND | MS_REC,
    "relatime": MS_RELATIME,
    "strictatime": MS_STRICTATIME,
    "nosymfollow": MS_NOSYMFOLLOW,
    "lazytime": MS_LAZYTIME,
    "silent": MS_SILENT,
}

# clearing option -> the setting option it undoes
CLEARING = {
    "rw": "ro",
    "suid": "nosuid",
    "dev": "nodev",
    "exec": "noexec",
    "async": "sync",
    "nomand": "mand",
    "atime": "noatime",
    "diratime": "nodiratime",
    "norelatime": "relatime",
    "nostrictatime": "strictatime",
    "symfollow": "nosymfollow",
    "nolazytime": "lazytime",
    "loud": "silent",
}

PROPAGATION = {
    "private": MS_PRIVATE,
    "rprivate": MS_PRIVATE | MS_REC,
    "shared": MS_SHARED,
    "rshared": MS_SHARED | MS_REC,
    "slave": MS_SLAVE,
    "rslave": MS_SLAVE | MS_REC,
    "unbindable": MS_UNBINDABLE,
    "runbindable": MS_UNBINDABLE | MS_REC,
}


def test_every_flag_option_is_covered_here() -> None:
    assert set(FLAG_OPTIONS) == set(SETTING) | set(CLEARING) | {"defaults"}
    assert set(PROPAGATION_OPTIONS) == set(PROPAGATION)


def test_option_tables_do_not_overlap() -> None:
    assert not set(FLAG_OPTIONS) & set(PROPAGATION_OPTIONS)
    assert not set(FLAG_OPTIONS) & set(RECURSIVE_OPTIONS)
    assert not set(PROPAGATION_OPTIONS) & set(RECURSIVE_OPTIONS)


def test_features_lists_exactly_the_options_the_parser_knows() -> None:
    """`simcon features` must not claim an option the parser would pass on as data, nor miss one it knows."""
    assert set(MOUNT_OPTIONS) == set(KNOWN_OPTIONS)


@pytest.mark.parametrize("option", sorted(SETTING))
def test_setting_option_sets_its_bit(option: str) -> None:
    parsed = parse_options([option])
    assert parsed.flags == SETTING[option]
    assert parsed.propagation == []
    assert parsed.data == ""


@pytest.mark.parametrize("option", sorted(SETTING))
def test_setting_option_keeps_other_bits(option: str) -> None:
    other = MS_NOEXEC if SETTING[option] != MS_NOEXEC else MS_NODEV
    other_name = "noexec" if other == MS_NOEXEC else "nodev"
    assert parse_options([other_name, option]).flags == other | SETTING[option]


@pytest.mark.parametrize("option", sorted(CLEARING))
def test_clearing_option_undoes_the_earlier_one(option: str) -> None:
    setter = CLEARING[option]
    assert parse_options([setter, option]).flags == 0
    # ...and only that bit.
    assert parse_options(["nosuid" if setter != "nosuid" else "nodev", setter, option]).flags == (
        MS_NOSUID if setter != "nosuid" else MS_NODEV)


@pytest.mark.parametrize("option", sorted(CLEARING))
def test_clearing_option_alone_sets_nothing(option: str) -> None:
    assert parse_options([option]).flags == 0


@pytest.mark.parametrize("option", sorted(CLEARING))
def test_last_option_wins(option: str) -> None:
    setter = CLEARING[option]
    assert parse_options([option, setter]).flags == SETTING[setter]
    assert parse_options([setter, option, setter]).flags == SETTING[setter]


def test_defaults_sets_nothing() -> None:
    assert parse_options(["defaults"]).flags == 0
    assert parse_options(["ro", "defaults"]).flags == MS_RDONLY


def test_no_options() -> None:
    parsed = parse_options([])
    assert (parsed.flags, parsed.propagation, parsed.data, parsed.is_bind) == (0, [], "", False)


def test_typical_sysfs_options() -> None:
    parsed = parse_options(["nosuid", "noexec", "nodev", "ro"])
    assert parsed.flags == MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY


@pytest.mark.parametrize("option", sorted(PROPAGATION))
def test_propagation_option(option: str) -> None:
    parsed = parse_options([option])
    assert parsed.propagation == [PROPAGATION[option]]
    assert parsed.flags == 0
    assert parsed.data == ""


def test_propagation_collected_in_order_apart_from_flags() -> None:
    parsed = parse_options(["rshared", "ro", "private", "rbind", "runbindable", "slave"])
    assert parsed.propagation == [MS_SHARED | MS_REC, MS_PRIVATE, MS_UNBINDABLE | MS_REC, MS_SLAVE]
    assert parsed.flags == MS_RDONLY | MS_BIND | MS_REC


def test_unknown_options_become_data_in_order() -> None:
    parsed = parse_options(["nosuid", "mode=755", "strictatime", "size=65536k", "newinstance", "gid=5"])
    assert parsed.data == "mode=755,size=65536k,newinstance,gid=5"
    assert parsed.flags == MS_NOSUID | MS_STRICTATIME


def test_single_data_option_has_no_comma() -> None:
    assert parse_options(["mode=1777"]).data == "mode=1777"


@pytest.mark.parametrize("option", ["bind", "rbind"])
def test_is_bind(option: str) -> None:
    assert parse_options([option]).is_bind
    assert not parse_options(["ro", "nosuid"]).is_bind


# --- recursive options (mount_setattr with AT_RECURSIVE); MOUNT_ATTR_* from include/uapi/linux/mount.h -----

ATTR_RDONLY = 0x1
ATTR_NOSUID = 0x2
ATTR_NODEV = 0x4
ATTR_NOEXEC = 0x8
ATTR__ATIME = 0x70
ATTR_RELATIME = 0x0
ATTR_NOATIME = 0x10
ATTR_STRICTATIME = 0x20
ATTR_NODIRATIME = 0x80
ATTR_NOSYMFOLLOW = 0x200000

RECURSIVE = {  # option -> (attr_set, attr_clr)
    "rro": (ATTR_RDONLY, 0), "rrw": (0, ATTR_RDONLY),
    "rnosuid": (ATTR_NOSUID, 0), "rsuid": (0, ATTR_NOSUID),
    "rnodev": (ATTR_NODEV, 0), "rdev": (0, ATTR_NODEV),
    "rnoexec": (ATTR_NOEXEC, 0), "rexec": (0, ATTR_NOEXEC),
    "rnodiratime": (ATTR_NODIRATIME, 0), "rdiratime": (0, ATTR_NODIRATIME),
    "rnosymfollow": (ATTR_NOSYMFOLLOW, 0), "rsymfollow": (0, ATTR_NOSYMFOLLOW),
    # the atime mode is replaced as a whole; the "undo" forms go back to relatime, the kernel's default
    "rrelatime": (ATTR_RELATIME, ATTR__ATIME), "rnorelatime": (ATTR_RELATIME, ATTR__ATIME),
    "rnoatime": (ATTR_NOATIME, ATTR__ATIME), "ratime": (ATTR_RELATIME, ATTR__ATIME),
    "rstrictatime": (ATTR_STRICTATIME, ATTR__ATIME), "rnostrictatime": (ATTR_RELATIME, ATTR__ATIME),
}


def test_every_recursive_option_is_covered_here() -> None:
    assert set(RECURSIVE_OPTIONS) == set(RECURSIVE)


@pytest.mark.parametrize("option", sorted(RECURSIVE))
def test_recursive_option(option: str) -> None:
    parsed = parse_options([option])
    assert (parsed.attr_set, parsed.attr_clr) == RECURSIVE[option]
    assert parsed.flags == 0 and parsed.data == "" and parsed.propagation == []


def test_recursive_options_combine_and_last_wins() -> None:
    parsed = parse_options(["rro", "rnosuid", "rnoexec", "rrw"])
    assert (parsed.attr_set, parsed.attr_clr) == (ATTR_NOSUID | ATTR_NOEXEC, ATTR_RDONLY)
    parsed = parse_options(["rnoatime", "rstrictatime"])
    assert (parsed.attr_set, parsed.attr_clr) == (ATTR_STRICTATIME, ATTR__ATIME)
    parsed = parse_options(["rstrictatime", "ratime", "rnodev"])
    assert (parsed.attr_set, parsed.attr_clr) == (ATTR_NODEV, ATTR__ATIME)


def test_recursive_and_plain_flags_are_independent() -> None:
    parsed = parse_options(["ro", "rnosuid", "rbind"])
    assert parsed.flags == MS_RDONLY | MS_BIND | MS_REC
    assert (parsed.attr_set, parsed.attr_clr) == (ATTR_NOSUID, 0)


def test_tmpcopyup_and_idmap_are_steps_not_data() -> None:
    parsed = parse_options(["tmpcopyup", "mode=755"])
    assert parsed.tmpcopyup and parsed.data == "mode=755" and parsed.idmap is None
    assert parse_options(["rbind", "idmap"]).idmap == "idmap"
    assert parse_options(["rbind", "ridmap"]).idmap == "ridmap"
    assert not parse_options(["mode=755"]).tmpcopyup


def test_empty_option_is_refused() -> None:
    with pytest.raises(MountOptionError) as info:
        parse_options(["nosuid", ""])
    assert info.value.option == ""
    assert "empty" in str(info.value)


def test_mount_option_error_is_a_value_error() -> None:
    assert issubclass(MountOptionError, ValueError)


def test_input_list_is_not_modified() -> None:
    options = ["ro", "mode=755", "rprivate"]
    parse_options(options)
    assert options == ["ro", "mode=755", "rprivate"]
