"""`simcon create`: set up a container from a bundle; its process waits for `start`."""

from __future__ import annotations

from simcon.cli.args import ArgumentParser, Namespace

HELP = "create a container from a bundle (its process waits for `start`)"
EXAMPLES = (
    "simcon create --bundle ./mybundle web && simcon start web",
    "simcon create --bundle . --pid-file /run/web.pid --console-socket /tmp/console.sock web",
)


def add_create_arguments(parser: ArgumentParser) -> None:
    """The options `create` and `run` share."""
    parser.add_argument("-b", "--bundle", default=".", help="path to the bundle directory (default: .)")
    parser.add_argument("--pid-file", default=None, metavar="FILE", help="write the init's pid to FILE")
    parser.add_argument("--console-socket", default=None, metavar="PATH",
                        help="unix socket that receives the pty master (terminal containers)")
    parser.add_argument("--no-pivot", action="store_true", help="use MS_MOVE + chroot instead of pivot_root")
    parser.add_argument("--no-new-keyring", action="store_true", help="do not create a new session keyring")
    parser.add_argument("--preserve-fds", type=int, default=0, metavar="N",
                        help="pass N extra fds (3 .. 3+N-1) to the container process")
    parser.add_argument("--init", action="store_true",
                        help="keep a tiny init as PID 1 that reaps orphans and forwards signals "
                             "(also: annotation run.oci.simcon.init=true)")
    parser.add_argument("--seccomp-profile", default=None, metavar="FILE",
                        help="apply this seccomp profile (OCI linux.seccomp or Docker JSON) instead of the "
                             "config's; 'unconfined' for none")
    add_network_arguments(parser)
    parser.add_argument("--log-driver", default=None, metavar="NAME",
                        help="capture the container's output through a monitor into this log driver: k8s-file, "
                             "json-file, journald, syslog, none, passthrough (default: k8s-file for run -d, "
                             "else passthrough; also: annotation run.oci.simcon.log-driver)")
    parser.add_argument("--log-opt", action="append", default=None, metavar="KEY=VALUE",
                        help="a log driver option, repeatable (max-size=20m, max-file=5, compress=true, path=FILE, "
                             "...: docs/logging.md)")
    parser.add_argument("container_id", metavar="ID")


def add_network_arguments(parser: ArgumentParser) -> None:
    """Networking through CNI (docs/networking.md); each also as annotation run.oci.simcon.NAME."""
    parser.add_argument("--network", default=None, metavar="MODE",
                        help="none (only lo), host, bridge (the default `simcon` network), a network NAME, or "
                             "ns:PATH; default: as the config says")
    parser.add_argument("-p", "--publish", action="append", metavar="[IP:]HOST:CTR[/tcp|udp]",
                        help="publish a container port (or range) on the host; repeatable")
    parser.add_argument("--dns", action="append", metavar="IP", help="nameserver for resolv.conf; repeatable")
    parser.add_argument("--dns-search", action="append", metavar="DOMAIN", help="search domain; repeatable")
    parser.add_argument("--dns-option", action="append", metavar="OPT", help="resolv.conf option; repeatable")
    parser.add_argument("--add-host", action="append", metavar="NAME:IP", help="an /etc/hosts entry; repeatable")
    parser.add_argument("--mac-address", default=None, metavar="MAC", help="the container's MAC address")
    parser.add_argument("--ip", default=None, metavar="IP", help="a static address in the network's subnet")


NETWORK_SETTINGS = ("cni_config_dir", "cni_data_dir", "cni_plugin_dirs", "host_resolv_conf")


def network_options(args: Namespace, engine_call: bool) -> dict:
    """The network options, the `network` container default of simcon.toml, and where networks live."""
    network = args.network or args.settings.container_default("network", engine_call)
    return {"network": network, "publish": args.publish, "dns": args.dns, "dns-search": args.dns_search,
            "dns-option": args.dns_option, "add-host": args.add_host, "mac-address": args.mac_address,
            "ip": args.ip, "settings": {key: args.settings.get(key) for key in NETWORK_SETTINGS}}


def log_settings(args: Namespace, store, *, detached: bool):  # noqa: ANN001, ANN201
    """The log driver and options of a new container (runtime.container_logs.resolve)."""
    from simcon.runtime.container_logs import resolve

    engine_call = args.pid_file is not None  # as options_from: config-file defaults are not for engines
    settings = args.settings
    default_opts = settings.container_default("log_opts", engine_call) or {}
    return resolve(store.root, args.container_id, args.bundle, args.log_driver, args.log_opt or [],
                   detached=detached, default_driver=settings.container_default("log_driver", engine_call),
                   default_opts={str(k): str(v) for k, v in dict(default_opts).items()})


def configure(parser: ArgumentParser) -> None:
    add_create_arguments(parser)


def options_from(args: Namespace):  # noqa: ANN201
    from simcon.runtime.create import CreateOptions

    # Engines (podman's conmon, containerd's shim) always pass --pid-file: the container defaults of simcon.toml
    # are for people typing `simcon run`, never a change to what an engine asked for (simcon.settings).
    engine_call = args.pid_file is not None
    settings = args.settings
    seccomp_profile = args.seccomp_profile or settings.container_default("seccomp_profile", engine_call)
    init = args.init or bool(settings.container_default("init", engine_call))
    return CreateOptions(bundle=args.bundle, pid_file=args.pid_file, console_socket=args.console_socket,
                         no_pivot=args.no_pivot, no_new_keyring=args.no_new_keyring,
                         preserve_fds=args.preserve_fds, init=init,
                         seccomp_profile=seccomp_profile, rootless=rootless_mode(args.rootless),
                         network=network_options(args, engine_call),
                         systemd_cgroup=args.systemd_cgroup,
                         # simcon.toml's cgroup_manager: only for a config.json without cgroupsPath (create).
                         systemd_cgroup_default=settings.get("cgroup_manager") == "systemd",
                         start_timeout=settings.get("start_timeout"))


def rootless_mode(value: str) -> bool | None:
    """The global ``--rootless true|false|auto``; auto (None) is decided where the plan is built."""
    return {"true": True, "false": False}.get(value)


def run(args: Namespace, store) -> int:  # noqa: ANN001
    from simcon.runtime.create import create_container

    options = options_from(args)
    logs = log_settings(args, store, detached=False)
    if logs.captured:
        # A monitor that outlives `create` holds the container's stdout and stderr (runtime.container_logs).
        from simcon.runtime.container_logs import spawn_monitored

        spawn_monitored(store, args.container_id, options, logs, start=False)
        return 0
    create_container(store, args.container_id, options, hold_signals_after_commit=True)
    return 0
