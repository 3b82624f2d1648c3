"""CNI networking in a real root network namespace: the test VM's (never the host's; see docs/networking.md).

`simcon run -p 8080:80` of a busybox httpd on the default `simcon` bridge network answers `wget localhost:8080`
and on the guest's own address, and after `delete` no veth, no per-container iptables rule and no IPAM
reservation is left. The guest's root is a throwaway tmpfs overlay, so the default network directories
(/etc/simcon/net.d, /var/lib/simcon/cni) are used as they are.

The guest runs Debian's stock kernel, whose bridge, veth and netfilter parts are modules; the host has no kmod,
so the module tree of that kernel (unpacked by scripts/vm into $SIMCON_VM_CACHE) is linked into the guest's
/lib/modules and busybox's depmod/modprobe serve the kernel's module requests.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from v2harness import start_container  # noqa: F401 - the harness (and its rt fixture) of tests/vm

pytestmark = pytest.mark.skipif(not os.access("/usr/lib/cni/bridge", os.X_OK),
                                reason="containernetworking-plugins is not installed (make setup installs it)")

HTTPD = "mkdir -p /www && echo hello-from-the-vm > /www/index.html && exec httpd -f -p 80 -h /www"
VM_CACHE = Path(os.environ.get("SIMCON_VM_CACHE", "/var/cache/simcon-vm"))


def _module_tree() -> None:
    """Let the guest kernel load its modules: /lib/modules/$(uname -r) from the VM cache, depmod, modprobe."""
    release = os.uname().release
    target = Path("/lib/modules") / release
    if not target.exists():
        found = sorted(VM_CACHE.glob(f"*/root/lib/modules/{release}"))
        if not found:
            pytest.fail(f"no module tree for kernel {release} under {VM_CACHE}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(found[0])
    if not (target / "modules.dep").exists():
        subprocess.run(["busybox", "depmod", release], check=True, capture_output=True)
    modprobe = Path("/sbin/modprobe")
    if not modprobe.exists():
        modprobe.symlink_to("/bin/busybox")  # busybox dispatches on argv[0]
    Path("/proc/sys/kernel/modprobe").write_text(str(modprobe))
    # iptables-nft needs these up front (the rest is requested by the kernel as rules appear).
    for module in ("bridge", "veth", "nf_tables", "nft_compat", "nft_chain_nat", "nf_nat", "nf_conntrack"):
        subprocess.run([str(modprobe), module], capture_output=True)


def _per_container_state() -> dict:
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    ipam = Path("/var/lib/simcon/cni/networks/simcon")
    return {
        "container rules": [l for l in rules.splitlines() if re.search(r"CNI-DN-|CNI-[0-9a-f]{20}|10\.77\.", l)],
        "veths": [l for l in links.splitlines() if "veth" in l],
        "reservations": sorted(p.name for p in ipam.glob("10.77.*")) if ipam.is_dir() else [],
    }


def test_published_port_in_the_real_root_netns(rt) -> None:  # noqa: ANN001
    _module_tree()
    bundle = rt.bundle(["sh", "-c", HTTPD])
    rt.ok("run", "-d", "--network", "bridge", "-p", "8080:80", "--bundle", bundle.path, bundle.cid)
    try:
        network = json.loads(rt.ok("state", bundle.cid).stdout)["network"]
        assert network["ports"] == [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]
        assert _per_container_state()["veths"], "the container's veth should be there"

        def answer() -> str:
            got = subprocess.run(["wget", "-q", "-O-", "-T", "5", "http://localhost:8080/"], capture_output=True,
                                 text=True, timeout=60)
            return got.stdout.strip()

        assert rt.wait_for(answer, 120, "httpd behind -p 8080:80") == "hello-from-the-vm"
    finally:
        rt.run("delete", "--force", bundle.cid)
    assert _per_container_state() == {"container rules": [], "veths": [], "reservations": []}
