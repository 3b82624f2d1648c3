"""The container lifecycle's side of networking: where `create` and `delete` call into ``simcon.network``.

    create:  prepare_network() before the state directory exists (bad input fails with nothing made), then
             attach_network() right after the first state.json is written and before any container process
             is forked: the container joins the namespace the CNI plugins have already set up, so neither
             createRuntime hooks nor the container's program ever see it half-done.
    delete / failed create:  detach_network() with what the state recorded.
"""

from __future__ import annotations

from simcon.runtime.state import ContainerState, LockedContainer, StateStore

# The options of `create`/`run` that are network options (as network.setup.ANNOTATIONS names them).
OPTION_KEYS = ("network", "publish", "dns", "dns-search", "dns-option", "add-host", "mac-address", "ip")


def wants_network(options: dict, annotations: dict | None) -> bool:
    """Cheap test, so a plain runc-style create never imports the network package."""
    if any(options.get(k) not in (None, [], "") for k in OPTION_KEYS):
        return True
    return any(k.startswith("run.oci.simcon.") and k[15:] in OPTION_KEYS for k in annotations or {})


def prepare_network(store: StateStore, container_id: str, config, annotations: dict | None,  # noqa: ANN001
                    options: dict, config_file: str):  # noqa: ANN201
    """A ``network.setup.Prepared`` (which namespace to join and what to mount, for the plan builder), or None.
    ``config``: the ``network.setup.ConfigFacts`` the plan builder read from the config."""
    if not wants_network(options, annotations):
        return None
    from simcon.network.setup import prepare, request_from

    request = request_from(options, annotations)
    if request.mode is None:
        return None
    settings = options.get("settings") or {}
    return prepare(request, config, container_id, store.container_dir(container_id), published_ports(store),
                   config_file, network_store(settings),
                   settings.get("host_resolv_conf") or "/etc/resolv.conf")


def network_store(settings: dict):  # noqa: ANN201
    """The networks, in the directories the settings name (cni_config_dir, cni_data_dir, cni_plugin_dirs)."""
    from simcon.network.store import NetworkStore

    given = {"config_dir": settings.get("cni_config_dir"), "data_dir": settings.get("cni_data_dir"),
             "plugin_dirs": settings.get("cni_plugin_dirs")}
    return NetworkStore(**{k: v for k, v in given.items() if v})


def published_ports(store: StateStore) -> dict[tuple[int, str], str]:
    """(host port, protocol) -> id of the container that publishes it, over every container of this root."""
    from simcon.runtime.state import read_state

    taken: dict[tuple[int, str], str] = {}
    for container_id in store.ids():
        try:
            state = read_state(store.container_dir(container_id), container_id)
        except Exception:  # noqa: BLE001 - a container being deleted meanwhile publishes nothing
            continue
        for entry in (state.network or {}).get("ports") or []:
            taken[(int(entry["hostPort"]), entry.get("protocol", "tcp"))] = container_id
    return taken


def attach_network(prepared, locked: LockedContainer, state: ContainerState) -> None:  # noqa: ANN001
    from simcon.network.setup import attach

    def save(section: dict) -> None:
        state.network = section
        locked.write(state)

    attach(prepared, locked.path, save)


def detach_network(state: ContainerState, *, raise_errors: bool = True) -> list[str]:
    if not state.network:
        return []
    from simcon.network.setup import detach

    return detach(state.network, raise_errors=raise_errors)


# ---- `simcon network` and `simcon port`


def check_network(store: StateStore, container_id: str) -> None:
    """`network check ID`: the CNI plugins' CHECK of the container's attachment; NetworkError when one fails."""
    from simcon.network.setup import check

    check(store.read_unlocked(container_id).network, container_id)


def list_networks(settings: dict) -> list[dict]:
    """name, driver (first plugin), subnets, bridge and file of every network in the store."""
    from simcon.errors import NetworkError
    from simcon.network.cni import NetworkList
    from simcon.network.store import network_subnets

    store = network_store(settings)
    rows = []
    for name in store.names():
        file = store.file_of(name)
        try:
            netlist = NetworkList.load(file)
        except NetworkError as exc:
            rows.append({"name": name, "driver": "?", "subnets": [], "bridge": "", "file": file,
                         "error": str(exc)})
            continue
        first = netlist.plugins[0]
        rows.append({"name": name, "driver": first.get("type", ""), "bridge": first.get("bridge", ""),
                     "subnets": [str(n) for n in network_subnets(netlist)], "file": file,
                     "plugins": [p["type"] for p in netlist.plugins]})
    return rows


def inspect_network(settings: dict, name: str) -> dict:
    store = network_store(settings)
    if name not in store.names() and name != "simcon":
        store.get(name)  # raises: unknown network, naming the directory
    return store.get(name).raw


def create_network(settings: dict, name: str, *, subnet: str = "", gateway: str = "", bridge: str = "", internal: bool = False,
                   masquerade: bool = True) -> dict:
    return network_store(settings).create(name, subnet=subnet, gateway=gateway, bridge=bridge, internal=internal,
                                 masquerade=masquerade).raw


def remove_network(settings: dict, store: StateStore, name: str) -> None:
    """Remove a network's file; refused while a container of this root is attached to it."""
    from simcon.errors import NetworkError
    from simcon.runtime.state import read_state

    for container_id in store.ids():
        try:
            state = read_state(store.container_dir(container_id), container_id)
        except Exception:  # noqa: BLE001 - deleted meanwhile
            continue
        if (state.network or {}).get("network") == name:
            raise NetworkError(f"network `{name}` is in use by container `{container_id}`", network=name,
                               hint=f"delete the container first (simcon delete {container_id})")
    network_store(settings).remove(name)


def container_ports(store: StateStore, container_id: str) -> list[dict]:
    from simcon.runtime.state import validate_id

    validate_id(container_id)
    state = store.read_unlocked(container_id)
    return list((state.network or {}).get("ports") or [])
