"""The create plan: a validated config.json and the options of `create`/`run` -> one frozen ``CreatePlan``.

Each section has a builder of its own in this package; ``build_plan`` calls them in order and assembles the
result. Everything that can fail on bad input fails here, before anything is made on the host.
"""

from __future__ import annotations

import os

from simcon.errors import UnsupportedError
from simcon.init.plan import DEFAULT_ROOTFS_PROPAGATION, ContainerPlan, HookPlan
from simcon.linux.namespaces import NAMESPACES
from simcon.runtime.mountopts import PROPAGATION_OPTIONS
from simcon.runtime.plan.cgroup import CgroupRequest, cgroup_plan
from simcon.runtime.plan.hooks import HooksPlan, hooks_plan, start_timeout
from simcon.runtime.plan.mounts import devices_plan, mounts_plan
from simcon.runtime.plan.options import CreateOptions, rootless_mode
from simcon.runtime.plan.process import process_plan
from simcon.records import Record, to_builtins
from simcon.spec.model import Process

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from simcon.runtime.state import StateStore
    from simcon.spec.model import Spec

# linux.rootfsPropagation takes the same names as a mount's propagation options.
ROOTFS_PROPAGATION = PROPAGATION_OPTIONS

INIT_ANNOTATION = "run.oci.simcon.init"


class CreatePlan(Record, frozen=True):
    """Everything `create` does, in plain values; ``container`` is the part its children carry out."""

    container_id: str
    bundle: str
    config_file: str
    container: ContainerPlan
    hooks: HooksPlan
    cgroup: CgroupRequest
    start_timeout: float  # seconds the parent waits for each answer of its children
    # The new user namespace's maps (container id, host id, size), written by the parent.
    uid_mappings: tuple[tuple[int, int, int], ...] = ()
    gid_mappings: tuple[tuple[int, int, int], ...] = ()
    seccomp_file: str = ""  # the file that gave the seccomp filter (config.json or --seccomp-profile)
    console_socket: str | None = None  # --console-socket: where the init sends the pty master
    relay_terminal: bool = False  # a foreground `run` with a terminal: SimCon itself receives the pty master
    pid_file: str | None = None
    # Recorded in state.json: the annotations, and config.json's process (the base of every `exec`).
    annotations: dict[str, str] = {}
    process_record: dict | None = None
    # A network.setup.Prepared: what the CNI ADD sets up before any container process exists (None: no network).
    network: object | None = None

    @property
    def rootless(self) -> bool:
        return self.cgroup.rootless


def plan_create(store: StateStore, container_id: str, options: CreateOptions) -> CreatePlan:
    """Read the bundle's config.json (warnings go to the log) and build the plan of `create`.

    The network request (runtime.network) is prepared first: it checks the options against what the config says
    and answers which network namespace to join and which files the CNI ADD will make to mount; that is applied
    to the loaded spec here, and the plan then carries what attach needs."""
    from simcon import log
    from simcon.spec.load import load_config_with_warnings

    bundle = os.path.abspath(options.bundle)
    config_file = os.path.join(bundle, "config.json")
    spec, warnings = load_config_with_warnings(bundle)
    for problem in warnings:
        log.warning(f"{config_file}: {problem}")
    network = _network(store, container_id, spec, options, config_file)
    return build_plan(spec, bundle, container_id, config_file=config_file, options=options, network=network)


def _network(store: StateStore, container_id: str, spec: Spec, options: CreateOptions, config_file: str) -> object:
    """The prepared network request (None: none), its namespace and mounts applied to ``spec``."""
    from simcon.runtime.network import prepare_network, wants_network

    if not wants_network(options.network, spec.annotations):
        return None  # a plain runc-style create never imports the network package
    from simcon.network.setup import HOST, READ_ONLY_BIND, ConfigFacts
    from simcon.spec.model import Linux, Mount, Namespace

    if spec.linux is None:
        spec.linux = Linux()
    current = next((ns for ns in spec.linux.namespaces if ns.type == "network"), None)
    facts = ConfigFacts(None if current is None else current.path or "", spec.hostname or "",
                        frozenset(os.path.normpath(m.destination) for m in spec.mounts))
    prepared = prepare_network(store, container_id, facts, spec.annotations, options.network, config_file)
    if prepared is None:
        return None
    if prepared.namespace is not None:
        others = [ns for ns in spec.linux.namespaces if ns.type != "network"]
        joined = [] if prepared.namespace == HOST else [Namespace(type="network", path=prepared.namespace)]
        spec.linux.namespaces = others + joined
    for destination, source in prepared.mounts:
        spec.mounts.append(Mount(destination=destination, source=source, type="bind", options=list(READ_ONLY_BIND)))
    return prepared


def build_plan(spec: Spec, bundle: str, container_id: str, *, config_file: str,
               options: CreateOptions | None = None, network: object | None = None) -> CreatePlan:
    """Turn a validated ``Spec`` into a ``CreatePlan``. Raises ``ConfigError`` naming the JSON path.

    ``network``: the prepared network request (``runtime.network.prepare_network``), carried for the launch."""
    options = options if options is not None else CreateOptions(bundle=bundle)
    rootless = rootless_mode(options.rootless)
    linux = spec.linux
    # Without `process` (optional in the runtime-spec) the init sets up everything, parks, and is never started.
    process = spec.process if spec.process is not None else Process()
    annotations = dict(spec.annotations or {})

    # Checked first: a cgroupsPath the driver would refuse fails before anything else is looked at.
    cgroup = cgroup_plan(linux, container_id, systemd=options.systemd_cgroup,
                         systemd_default=options.systemd_cgroup_default, rootless=rootless)

    root_path = spec.root.path
    rootfs = os.path.realpath(root_path if os.path.isabs(root_path) else os.path.join(bundle, root_path))

    # --- namespaces, and the maps of a new user namespace
    unshare_flags = 0
    join: list[tuple[str, int, str]] = []
    own: set[str] = set()
    for ns in linux.namespaces if linux is not None else []:
        flag = NAMESPACES[ns.type][0]
        if ns.path:
            join.append((ns.path, flag, ns.type))
        else:
            unshare_flags |= flag
            own.add(ns.type)
    # A user namespace given by path is joined first: it grants the rights to join the others.
    join.sort(key=lambda joined: joined[2] != "user")
    new_user_namespace = "user" in own
    uid_mappings: list = []
    gid_mappings: list = []
    id_map_helpers = setgroups_denied = False
    if new_user_namespace:
        from simcon.runtime.plan import idmaps

        # Created alone, first, so the parent can write its maps before the other namespaces exist.
        unshare_flags &= ~NAMESPACES["user"][0]
        uid_mappings, gid_mappings = idmaps.id_mappings_plan(linux, process, config_file)
        if os.geteuid() != 0:
            id_map_helpers = not idmaps.own_ids_only(uid_mappings, gid_mappings)
            setgroups_denied = not id_map_helpers
    has_namespace = {*own, *(kind for _, _, kind in join)}.__contains__

    # --- the filesystem
    from simcon.runtime.plan import lsm_labels

    # Once for both labels: on a host without SELinux each is skipped with one warning.
    process_label, mount_label = lsm_labels.selinux_labels(process, linux, config_file)
    mounts = mounts_plan(spec.mounts or [], bundle, config_file, host_netns=not has_namespace("network"),
                         mount_label=mount_label,
                         container_maps=(linux.uid_mappings, linux.gid_mappings) if new_user_namespace else None)
    devices, dev_links = devices_plan(linux.devices if linux is not None else [], mounts)

    # --- the process and what surrounds it
    process_section = process_plan(process, config_file, linux=linux, selinux_label=process_label,
                                   own_user_namespace=new_user_namespace, setgroups_denied=setgroups_denied,
                                   preserve_fds=options.preserve_fds)
    from simcon.runtime.plan import personality, rlimits, seccomp, sysctl

    oom_score_adj = rlimits.oom_score_adj_plan(process.oom_score_adj, config_file)
    sysctl_section = sysctl.sysctl_plan(linux.sysctl, has_namespace, config_file) if linux is not None else []
    personality_section = personality.personality_plan(linux.personality, config_file) if linux is not None else None
    filter_section, seccomp_file = (linux.seccomp if linux is not None else None), config_file
    if options.seccomp_profile is not None:
        bounding = list(process.capabilities.bounding) if process.capabilities is not None else []
        filter_section = seccomp.seccomp_profile(options.seccomp_profile, bounding)
        seccomp_file = options.seccomp_profile
    seccomp_section = listener_state = None
    if filter_section is not None:
        seccomp_section = seccomp.seccomp_plan(filter_section, seccomp_file)
        if seccomp_section.listener_path:
            listener_state = seccomp.listener_state(seccomp_section, container_id, bundle, annotations)

    timeout = start_timeout(annotations, config_file, options.start_timeout)
    hooks = hooks_plan(spec.hooks, timeout)
    console_socket = _console_plan(process_section.terminal, options, container_id, config_file)

    container = ContainerPlan(
        container_id=container_id,
        rootfs=rootfs,
        process=process_section,
        rootfs_readonly=bool(spec.root.readonly),
        rootfs_propagation=(ROOTFS_PROPAGATION[linux.rootfs_propagation] if linux is not None
                            and linux.rootfs_propagation else DEFAULT_ROOTFS_PROPAGATION),
        unshare_flags=unshare_flags,
        join_namespaces=tuple(join),
        own_namespaces=frozenset(own),
        new_user_namespace=new_user_namespace,
        id_map_helpers=id_map_helpers,
        mounts=mounts,
        devices=devices,
        dev_links=dev_links,
        masked_paths=tuple(linux.masked_paths or ()) if linux is not None else (),
        readonly_paths=tuple(linux.readonly_paths or ()) if linux is not None else (),
        hostname=spec.hostname or None,
        domainname=spec.domainname or None,
        oom_score_adj=oom_score_adj,
        sysctl=tuple(sysctl_section),
        personality=personality_section,
        seccomp=seccomp_section,
        seccomp_listener_state=listener_state,
        new_session_keyring=not options.no_new_keyring,
        no_pivot=options.no_pivot,
        tiny_init=options.init or annotations.get(INIT_ANNOTATION, "").lower() in ("1", "true", "yes"),
        sync_create_hooks=hooks.init_waits,
        create_container_hooks=hooks.create_container,
        start_container_hooks=hooks.start_container,
    )
    return CreatePlan(
        container_id=container_id,
        bundle=bundle,
        config_file=config_file,
        container=container,
        hooks=hooks,
        cgroup=cgroup,
        start_timeout=timeout,
        uid_mappings=tuple(uid_mappings),
        gid_mappings=tuple(gid_mappings),
        seccomp_file=seccomp_file,
        console_socket=console_socket,
        relay_terminal=process_section.terminal and console_socket is None,
        pid_file=os.path.abspath(options.pid_file) if options.pid_file else None,
        annotations=annotations,
        process_record=to_builtins(spec.process) if spec.process is not None else None,
        network=network,
    )


def _console_plan(terminal: bool, options: CreateOptions, container_id: str, config_file: str) -> str | None:
    """The console socket the init sends its pty master to; None with a relayed terminal (or none at all)."""
    if not terminal:
        if options.console_socket:
            raise UnsupportedError(f"--console-socket is only valid when {config_file} has process.terminal "
                                   "true", container_id=container_id)
        return None
    if options.console_socket:
        return options.console_socket
    if not options.relay_terminal:
        raise UnsupportedError(
            f"{config_file}: process.terminal is true: a detached container needs --console-socket to receive "
            "its terminal", container_id=container_id)
    return None


def hooks_from_state(hooks: list[dict]) -> list[HookPlan]:
    """The poststart/poststop hooks recorded in state.json at create."""
    return [HookPlan.from_json(h) for h in hooks]

