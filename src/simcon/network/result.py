"""Reading a CNI result (any version from 0.3): what `state`, `port` and the hosts file need. Stdlib only,
since `simcon state` imports it."""

from __future__ import annotations


def result_ips(result: dict | None) -> list[dict]:
    """[{address: "10.77.0.5/16", gateway, interface (name)}] from a result of any 0.3+ version."""
    if not result:
        return []
    interfaces = result.get("interfaces") or []
    out = []
    for ip in result.get("ips") or []:
        entry = {"address": ip.get("address", ""), "gateway": ip.get("gateway", "")}
        index = ip.get("interface")
        if isinstance(index, int) and 0 <= index < len(interfaces):
            entry["interface"] = interfaces[index].get("name", "")
        out.append(entry)
    return out


def result_mac(result: dict | None, ifname: str) -> str:
    for iface in (result or {}).get("interfaces") or []:
        if iface.get("name") == ifname and iface.get("sandbox"):
            return iface.get("mac", "")
    return ""


def describe(section: dict | None) -> dict | None:
    """The network part of `simcon state`: network, addresses, MAC, published ports."""
    if not section:
        return None
    result = section.get("result")
    view = {"mode": section.get("mode"), "ips": [ip["address"] for ip in result_ips(result)]}
    if section.get("network"):
        view["network"] = section["network"]
    mac = result_mac(result, section.get("attachment", {}).get("ifname", "eth0"))
    if mac:
        view["mac"] = mac
    if section.get("ports"):
        view["ports"] = section["ports"]
    return view
