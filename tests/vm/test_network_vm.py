"""CNI networking in a real root network namespace: the test VM's (never the host's; see docs/networking.md).

`simcon run -p 8080:80` of a busybox httpd on the default `simcon` bridge network answers `wget localhost:8080`
and on the guest's own address, and after `delete` no veth, no per-container iptables rule and no IPAM
reservation is left. The guest's root is a throwaway tmpfs overlay, so the default network directories
(/etc/simcon/net.d, /var/lib/simcon/cni) are used as they are.

The guest runs Debian's stock kernel, whose bridge, veth and netfilter parts are modules, and the host (whose
`/` the guest uses) has no kmod: the test loads what the plugins need from that kernel's module tree (unpacked by
scripts/vm into $SIMCON_VM_CACHE), resolving each module's `depends=` itself, with busybox insmod.
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


# What bridge, veth, portmap and firewall need through iptables-nft; dependencies are added by _load_modules.
# crc32c_generic first: libcrc32c (nf_tables needs it) asks the crypto API for crc32c when it loads (a softdep).
MODULES = ("crc32c_generic", "bridge", "veth", "nf_tables", "nft_compat", "nft_chain_nat", "nft_nat", "nft_masq", "nft_ct",
           "nft_counter", "nf_nat", "nf_conntrack", "xt_addrtype", "xt_comment", "xt_conntrack", "xt_mark",
           "xt_MASQUERADE", "xt_nat", "xt_tcpudp", "xt_multiport")


def _load_modules() -> None:
    release = os.uname().release
    trees = sorted(VM_CACHE.glob(f"*/root/lib/modules/{release}/kernel"))
    if not trees:
        pytest.fail(f"no module tree for kernel {release} under {VM_CACHE}")
    paths: dict[str, Path] = {}
    for sub in ("net", "lib", "drivers/net", "crypto"):
        for path in (trees[0] / sub).rglob("*.ko"):
            paths[path.stem.replace("-", "_")] = path
    order: list[str] = []

    def visit(name: str) -> None:
        name = name.replace("-", "_")
        if name in order or name not in paths:
            return  # loaded already, or built into the kernel
        found = re.search(rb"depends=([^\x00]*)\x00", paths[name].read_bytes())
        for dep in (found.group(1).decode().split(",") if found else []):
            if dep:
                visit(dep)
        order.append(name)

    for module in MODULES:
        visit(module)
    problems = []
    for name in order:
        if not Path(f"/sys/module/{name}").exists():
            done = subprocess.run(["busybox", "insmod", str(paths[name])], capture_output=True, text=True)
            if done.returncode != 0:
                problems.append(f"insmod {name}: {done.stderr.strip()}")
    probe = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True)
    assert probe.returncode == 0, f"iptables unusable in the guest: {probe.stderr.strip()}; {problems}"


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
    _load_modules()
    bundle = rt.bundle(["sh", "-c", HTTPD])
    # Under software emulation every plugin (a Go binary) takes seconds: a generous bound, never asserted on.
    rt.ok("run", "-d", "--network", "bridge", "-p", "8080:80", "--bundle", bundle.path, bundle.cid, timeout=600)
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
        rt.run("delete", "--force", bundle.cid, timeout=600)
    assert _per_container_state() == {"container rules": [], "veths": [], "reservations": []}
