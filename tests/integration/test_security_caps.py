"""Capabilities: the five sets the config grants, seen from inside in /proc/self/status, and what they forbid."""

from __future__ import annotations

import pytest

CAPS = {"CAP_CHOWN": 0, "CAP_KILL": 5, "CAP_SETUID": 7, "CAP_NET_BIND_SERVICE": 10, "CAP_SYS_ADMIN": 21,
        "CAP_SYS_RESOURCE": 24, "CAP_AUDIT_WRITE": 29}
RUNC_DEFAULT = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
STATUS_SETS = {"CapBnd": "bounding", "CapEff": "effective", "CapPrm": "permitted", "CapInh": "inheritable",
               "CapAmb": "ambient"}


def mask(names: list[str]) -> int:
    return sum(1 << CAPS[n] for n in names)


def cap_sets(rt, capabilities: dict | None, script: str = "", user: dict | None = None) -> tuple[dict, str]:
    """The five sets (from /proc/self/status) of a container given `capabilities`, and the output of `script`."""
    def edit(bundle) -> None:
        if capabilities is None:
            bundle.config["process"].pop("capabilities", None)
        else:
            bundle.config["process"]["capabilities"] = capabilities
        if user is not None:
            bundle.config["process"]["user"] = user

    proc = rt.run_container(["sh", "-c", f"grep ^Cap /proc/self/status; echo ---; {script}"], edit=edit)
    assert proc.returncode == 0, rt.describe(proc)
    status, _, rest = proc.stdout.partition("---\n")
    sets = {}
    for line in status.splitlines():
        key, value = line.split(":")
        sets[STATUS_SETS[key]] = int(value, 16)
    return sets, rest + proc.stderr


def all_sets(names: list[str], ambient: bool = False) -> dict:
    return {"bounding": list(names), "effective": list(names), "permitted": list(names),
            "inheritable": list(names) if ambient else [], "ambient": list(names) if ambient else []}


def test_no_capabilities_section_means_none(rt) -> None:
    sets, _ = cap_sets(rt, None)
    assert sets == dict.fromkeys(STATUS_SETS.values(), 0)


def test_runc_default_set_and_a_forbidden_chown_and_hostname(rt) -> None:
    sets, out = cap_sets(rt, all_sets(RUNC_DEFAULT),
                         "chown 1 /tmp && echo chown-ok; hostname other && echo hostname-ok; true")
    expected = mask(RUNC_DEFAULT)
    assert sets == {"bounding": expected, "effective": expected, "permitted": expected, "inheritable": 0,
                    "ambient": 0}
    assert "chown: /tmp: Operation not permitted" in out
    assert "chown-ok" not in out
    assert "sethostname: Operation not permitted" in out
    assert "hostname-ok" not in out


def test_granted_capabilities_allow_chown_and_hostname(rt) -> None:
    names = ["CAP_CHOWN", "CAP_SYS_ADMIN"]
    sets, out = cap_sets(rt, all_sets(names), "chown 1 /tmp && echo chown-ok; hostname other && hostname")
    assert sets["effective"] == mask(names)
    assert "chown-ok" in out
    assert "other" in out.split()


def test_each_set_is_applied_separately(rt) -> None:
    caps = {"bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN"], "permitted": ["CAP_KILL"],
            "effective": ["CAP_KILL"], "inheritable": ["CAP_CHOWN"], "ambient": []}
    sets, out = cap_sets(rt, caps, "chown 1 /tmp && echo chown-ok; true")
    assert sets["bounding"] == mask(caps["bounding"])
    assert sets["permitted"] == mask(caps["permitted"])
    # execve as uid 0 makes the effective set the permitted one (capabilities(7)), whatever was set before.
    assert sets["effective"] == mask(caps["permitted"])
    assert sets["inheritable"] == mask(caps["inheritable"])
    assert sets["ambient"] == 0
    assert "chown-ok" not in out  # CAP_CHOWN is only bounding and inheritable


def test_non_root_user_keeps_ambient_capabilities_through_the_user_switch(rt) -> None:
    names = ["CAP_CHOWN", "CAP_KILL"]
    sets, out = cap_sets(rt, all_sets(names, ambient=True), "id -u; chown 1 /tmp && echo chown-ok",
                         user={"uid": 1000, "gid": 1000})
    assert out.split()[0] == "1000"
    assert sets["ambient"] == mask(names)
    assert sets["effective"] == mask(names)
    assert "chown-ok" in out


def test_non_root_user_without_ambient_has_no_effective_capabilities(rt) -> None:
    sets, _ = cap_sets(rt, all_sets(["CAP_CHOWN"]), user={"uid": 1000, "gid": 1000})
    # Without ambient capabilities execve as a non-root user clears permitted and effective (capabilities(7)).
    assert sets["bounding"] == mask(["CAP_CHOWN"])
    assert sets["effective"] == 0
    assert sets["permitted"] == 0


@pytest.mark.simcon_only("SimCon's message and JSON path")
def test_unknown_capability_is_a_clear_error_and_leaves_nothing(rt) -> None:
    def edit(bundle) -> None:
        bundle.config["process"]["capabilities"] = {"bounding": ["CAP_KILL", "CAP_FLY"]}

    proc = rt.run_container(["true"], edit=edit)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "process.capabilities.bounding[1]" in lines[0]
    assert "CAP_FLY" in lines[0]
    assert "Traceback" not in proc.stderr
    assert rt.root_entries() == []


@pytest.mark.simcon_only("SimCon warns and skips what it cannot grant")
def test_capability_simcon_lacks_is_skipped_with_a_warning(rt) -> None:
    bundle = rt.bundle(["grep", "^CapEff", "/proc/self/status"], write=False)
    bundle.config["process"]["capabilities"] = all_sets(["CAP_KILL", "CAP_SYS_RESOURCE"])
    bundle.write()
    # Warnings reach stderr only with --debug (without it, stderr is the container's alone). SimCon itself runs
    # without CAP_SYS_RESOURCE, whatever the test process holds.
    proc = rt.run("--debug", "run", "--bundle", bundle.path, bundle.cid, wrap=rt.WITHOUT_CAP_SYS_RESOURCE)
    assert proc.returncode == 0, rt.describe(proc)
    assert int(proc.stdout.split()[1], 16) == mask(["CAP_KILL"])
    assert "process.capabilities.effective[1]" in proc.stderr
    assert "CAP_SYS_RESOURCE" in proc.stderr and "skipped" in proc.stderr


def test_exec_gets_the_container_capabilities_and_cap_adds_one(rt) -> None:
    bundle = rt.bundle(["sleep", "3600"], write=False)
    bundle.config["process"]["capabilities"] = all_sets(RUNC_DEFAULT)
    bundle.write()
    rt.ok("run", "-d", "--bundle", bundle.path, bundle.cid)
    script = "grep ^CapEff /proc/self/status; chown 1 /tmp && echo chown-ok; true"
    plain = rt.ok("exec", bundle.cid, "sh", "-c", script)
    assert int(plain.stdout.split()[1], 16) == mask(RUNC_DEFAULT)
    assert "chown-ok" not in plain.stdout
    added = rt.ok("exec", "--cap", "CAP_CHOWN", bundle.cid, "sh", "-c", script)
    assert int(added.stdout.split()[1], 16) == mask([*RUNC_DEFAULT, "CAP_CHOWN"])
    assert "chown-ok" in added.stdout
