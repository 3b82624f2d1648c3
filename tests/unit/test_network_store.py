"""The network store: the default network written on first use, create/rm, overlap and name checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simcon.errors import NetworkError
from simcon.network.store import DEFAULT_SUBNET, NetworkStore, network_subnets


@pytest.fixture
def store(tmp_path: Path) -> NetworkStore:
    return NetworkStore(str(tmp_path / "net.d"), str(tmp_path / "data"), ["/usr/lib/cni"])


def test_default_network_is_written_on_first_use(store: NetworkStore) -> None:
    assert store.names() == []
    netlist = store.get("simcon")
    assert store.names() == ["simcon"]
    types = [p["type"] for p in netlist.plugins]
    assert types == ["bridge", "portmap", "firewall", "tuning"]
    bridge = netlist.plugins[0]
    assert bridge["bridge"] == "simcon0" and bridge["ipMasq"] and bridge["isGateway"]
    assert [str(n) for n in network_subnets(netlist)] == [DEFAULT_SUBNET]
    assert bridge["ipam"]["dataDir"] == str(Path(store.data_dir) / "networks")
    assert netlist.plugins[1]["capabilities"] == {"portMappings": True}


def test_default_subnet_avoids_podman_and_docker() -> None:
    import ipaddress

    ours = ipaddress.ip_network(DEFAULT_SUBNET)
    assert ours.prefixlen == 16 and ours.is_private
    for theirs in ("10.88.0.0/16", "172.17.0.0/16"):
        assert not ours.overlaps(ipaddress.ip_network(theirs))


def test_create_picks_a_free_subnet_and_bridge(store: NetworkStore) -> None:
    store.get("simcon")
    a = store.create("net-a")
    b = store.create("net-b")
    assert [str(n) for n in network_subnets(a)] != [str(n) for n in network_subnets(b)]
    assert {a.plugins[0]["bridge"], b.plugins[0]["bridge"]} == {"simcon1", "simcon2"}


def test_create_refuses_an_overlapping_subnet_and_leaves_no_file(store: NetworkStore) -> None:
    store.get("simcon")
    with pytest.raises(NetworkError, match="subnet 10.77.1.0/24 overlaps 10.77.0.0/16 of network `simcon`"):
        store.create("clash", subnet="10.77.1.0/24")
    assert store.names() == ["simcon"]


@pytest.mark.parametrize("kwargs, problem", [
    ({"subnet": "10.1.2.3/8"}, "host bits set"),
    ({"subnet": "10.150.0.0/16", "gateway": "10.151.0.1"}, "not a host address"),
    ({"subnet": "10.150.0.0/16", "gateway": "nope"}, "not an IP address"),
    ({"bridge": "much-too-long-bridge-name"}, "at most 15"),
])
def test_create_bad_input(store: NetworkStore, kwargs: dict, problem: str) -> None:
    with pytest.raises(NetworkError, match=problem):
        store.create("n1", **kwargs)
    assert store.names() == []


def test_internal_network_has_no_gateway_route_or_masquerade(store: NetworkStore) -> None:
    bridge = store.create("inside", subnet="10.150.0.0/24", internal=True).plugins[0]
    assert not bridge["isGateway"] and not bridge["ipMasq"] and bridge["ipam"]["routes"] == []


def test_unknown_network_names_the_directory(store: NetworkStore) -> None:
    with pytest.raises(NetworkError) as info:
        store.get("nope")
    assert "unknown network `nope`" in str(info.value) and store.config_dir in str(info.value)


def test_name_mismatch_and_syntax_errors_name_the_file(store: NetworkStore) -> None:
    Path(store.config_dir).mkdir(parents=True)
    Path(store.file_of("x")).write_text(json.dumps({"cniVersion": "1.0.0", "name": "y", "plugins": [{"type": "a"}]}))
    with pytest.raises(NetworkError, match="does not match the file name"):
        store.get("x")
    Path(store.file_of("z")).write_text("{not json")
    with pytest.raises(NetworkError, match=f"{store.file_of('z')}: not valid JSON"):
        store.get("z")


@pytest.mark.parametrize("name", ["", "a b", "../x", "-x", "none", "host", "bridge", "x" * 65])
def test_bad_names(store: NetworkStore, name: str) -> None:
    with pytest.raises(NetworkError, match="invalid network name"):
        store.create(name)


def test_remove(store: NetworkStore) -> None:
    store.create("gone", subnet="10.150.0.0/24")
    store.remove("gone")
    assert store.names() == []
    with pytest.raises(NetworkError, match="unknown network `gone`"):
        store.remove("gone")
