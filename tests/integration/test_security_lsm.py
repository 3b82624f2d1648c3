"""LSM labels: SimCon detects whether the host runs AppArmor and refuses a profile it cannot apply (SELinux labels
on a host without SELinux are skipped with a warning, as crun: tests/integration/test_spec_conformance.py).

This host runs neither; the real thing needs a kernel booted with that LSM (the VM lane), which SimCon does not
drive yet: applying labels is not implemented, so even there the config is refused, clearly.
"""

from __future__ import annotations

import os

import pytest


def lsm_active(name: str) -> bool:
    try:
        with open("/sys/kernel/security/lsm") as f:
            return name in f.read().split(",")
    except OSError:
        return False


@pytest.mark.simcon_only("runc 1.1.5 ignores a profile it cannot apply; SimCon refuses it")
@pytest.mark.parametrize(("section", "field", "value", "lsm", "where"), [
    ("process", "apparmorProfile", "docker-default", "apparmor", "process.apparmorProfile"),
])
def test_label_for_an_lsm_the_host_lacks_is_a_clear_error(rt, section, field, value, lsm, where) -> None:
    if lsm_active(lsm) or (lsm == "selinux" and os.path.isdir("/sys/fs/selinux")):
        pytest.skip(f"this host runs {lsm}: the error path needs a host without it")

    def edit(bundle) -> None:
        bundle.config[section][field] = value

    proc = rt.run_container(["true"], edit=edit)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert where in lines[0] and "not enabled on this host" in lines[0], proc.stderr
    assert rt.root_entries() == []
