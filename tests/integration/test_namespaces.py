"""Namespaces: the container gets new ones, or joins the one a `path` names."""

from __future__ import annotations

import os

import pytest

NS_KINDS = {"mount": "mnt", "uts": "uts", "ipc": "ipc", "pid": "pid", "network": "net", "cgroup": "cgroup"}


def _ns_links(rt, edit=None) -> dict[str, str]:
    script = "for n in mnt uts ipc pid net cgroup; do echo $n $(readlink /proc/self/ns/$n); done"
    proc = rt.run_container(["sh", "-c", script], edit=edit)
    assert proc.returncode == 0, rt.describe(proc)
    return dict(line.split(" ", 1) for line in proc.stdout.splitlines())


@pytest.mark.parametrize("kind", sorted(NS_KINDS))
def test_new_namespace_differs_from_host(rt, kind: str) -> None:
    link = NS_KINDS[kind]
    inside = _ns_links(rt)[link]
    assert inside.startswith(f"{link}:[")
    assert inside != rt.host_ns(link)


def test_namespace_not_requested_is_shared_with_host(rt) -> None:
    def no_ipc(bundle) -> None:
        bundle.config["linux"]["namespaces"] = [n for n in bundle.config["linux"]["namespaces"]
                                                if n["type"] != "ipc"]

    links = _ns_links(rt, edit=no_ipc)
    assert links["ipc"] == rt.host_ns("ipc")
    assert links["uts"] != rt.host_ns("uts")


def test_join_network_namespace_by_path(rt, netns_holder: str) -> None:
    def join(bundle) -> None:
        for ns in bundle.config["linux"]["namespaces"]:
            if ns["type"] == "network":
                ns["path"] = netns_holder

    links = _ns_links(rt, edit=join)
    assert links["net"] == os.readlink(netns_holder)
    assert links["net"] != rt.host_ns("net")


def test_new_network_namespace_has_only_loopback(rt) -> None:
    proc = rt.run_container(["ls", "/sys/class/net"])
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout.split() == ["lo"]
