"""`simcon exec`: run another process in a running container (runc's flags)."""

from __future__ import annotations

from simcon.cli.args import ArgumentParser, Namespace

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from simcon.runtime.state import StateStore

HELP = "run a process in a running container"
EXAMPLES = (
    "simcon exec web sh -c 'echo hi'",
    'simcon exec -t web sh',
)


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("-p", "--process", default=None, metavar="FILE",
                        help="a process.json giving the whole process (the process flags are then ignored)")
    parser.add_argument("-d", "--detach", action="store_true", help="do not wait for the process to exit")
    parser.add_argument("-t", "--tty", action="store_true", help="give the process a pseudo-terminal")
    parser.add_argument("--cwd", default=None, metavar="DIR", help="working directory inside the container")
    parser.add_argument("-e", "--env", action="append", default=None, metavar="KEY=VALUE",
                        help="add or override an environment variable (repeatable)")
    parser.add_argument("-u", "--user", default=None, metavar="UID[:GID]", help="run as this uid (and gid)")
    parser.add_argument("-g", "--additional-gids", action="append", type=int, default=None, metavar="GID",
                        help="an additional group (repeatable)")
    parser.add_argument("-c", "--cap", action="append", default=None, metavar="CAP",
                        help="add a capability, e.g. CAP_NET_ADMIN (repeatable)")
    parser.add_argument("--no-new-privs", action="store_true", help="set no_new_privs for the process")
    parser.add_argument("--apparmor", default=None, metavar="PROFILE", help="AppArmor profile for the process")
    parser.add_argument("--process-label", default=None, metavar="LABEL", help="SELinux label for the process")
    parser.add_argument("--pid-file", default=None, metavar="FILE", help="write the process's pid to FILE")
    parser.add_argument("--console-socket", default=None, metavar="PATH",
                        help="unix socket that receives the pty master (with --tty)")
    parser.add_argument("--preserve-fds", type=int, default=0, metavar="N",
                        help="pass N extra fds (3 .. 3+N-1) to the process")
    parser.add_argument("--cgroup", action="append", default=None, metavar="[CONTROLLER:]PATH",
                        help="run in this existing sub-cgroup of the container (repeatable)")
    parser.add_argument("--ignore-paused", action="store_true", help="allow exec in a paused container")
    parser.add_argument("container_id", metavar="ID")
    parser.add_argument("process_args", nargs="...", metavar="COMMAND", help="the command and its arguments")


def run(args: Namespace, store: StateStore) -> int:
    from simcon.runtime.exec import ExecOptions, exec_in_container

    options = ExecOptions(
        process_file=args.process, args=list(args.process_args or []), detach=args.detach, tty=args.tty, cwd=args.cwd,
        env=list(args.env or []), user=args.user, additional_gids=list(args.additional_gids or []),
        caps=list(args.cap or []), no_new_privs=args.no_new_privs, apparmor=args.apparmor,
        process_label=args.process_label, pid_file=args.pid_file, console_socket=args.console_socket,
        preserve_fds=args.preserve_fds, cgroup=list(args.cgroup or []), ignore_paused=args.ignore_paused,
    )
    return exec_in_container(store, args.container_id, options)
