"""The typed protocol between `simcon create` (the parent) and its two children.

Two SEQPACKET socketpairs, one per child, so a message always reaches the process it is meant for. Each packet
is one JSON object with a ``type``. Everything the children need (the launch plan) they inherit through fork;
the messages only sequence the steps and carry pids and errors.

    parent (simcon create)          intermediate                      init (PID 1 of the container)
      | mkdir cgroups, mkfifo
      |---- fork ------------------->|
      | cgroups.add_process(pid)     |
      |---- PROCEED ---------------->|
      |                              | setns(paths), a user namespace first
      |                              | unshare(user)                       (only with a new user namespace)
      |<--- IDMAP_REQUEST -----------|
      | write uid_map / gid_map      |
      |---- IDMAP_DONE ------------->|
      |                              | setresuid(0) inside, unshare(rest)
      |                              |---- fork ------------------------->|
      |<--- INIT_PID {pid} ----------|                                    |
      | waitpid(intermediate)        x                                    | mounts, devices
      |<--- RUN_CREATE_HOOKS --------------------------------------------| (only with prestart/createRuntime hooks)
      | prestart + createRuntime hooks                                    |
      |---- HOOKS_DONE -------------------------------------------------->|
      |                                                                   | createContainer hooks, pivot_root,
      |                                                                   | masked paths, hostname, user, cwd,
      |                                                                   | look up the executable
      |<--- READY --------------------------------------------------------|
      | write state.json, pid file; exit                                  | blocks opening exec.fifo ...
                                                                          | ... `simcon start` reads it
                                                                          | startContainer hooks; execve

Any child step that fails sends ERROR {step, errno, message, path} and exits; the parent raises it as
``InitError``. A child that dies without a word shows up as EOF, which the parent reports with the step it was
waiting for.
"""

from __future__ import annotations

import os

from simcon import fastjson
from simcon.errors import InitError
from simcon.linux import unixsock

PROCEED = "proceed"
IDMAP_REQUEST = "idmap-request"
IDMAP_DONE = "idmap-done"
INIT_PID = "init-pid"
RUN_CREATE_HOOKS = "run-create-hooks"
HOOKS_DONE = "hooks-done"
READY = "ready"
ERROR = "error"

_MAX_PACKET = 65536


class ChildFailed(Exception):
    """Raised in a child to abort with a step name; turned into an ERROR message by ``report_failure``."""

    def __init__(self, step: str, exc: BaseException) -> None:
        super().__init__(step)
        self.step = step
        self.exc = exc


class Channel:
    """One end of a SEQPACKET socketpair, speaking the messages above."""

    def __init__(self, sock: unixsock.Socket, peer: str) -> None:
        self.sock = sock
        self.peer = peer  # who is on the other side, for error messages

    @classmethod
    def pair(cls, child_name: str) -> tuple[Channel, Channel]:
        parent_sock, child_sock = unixsock.socketpair(unixsock.SOCK_SEQPACKET)
        return cls(parent_sock, child_name), cls(child_sock, "parent")

    def send(self, kind: str, **fields: object) -> None:
        fields["type"] = kind
        self.sock.send(fastjson.dumps(fields).encode())

    def receive(self, waiting_for: str) -> dict:
        """The next message; EOF means the peer died, which becomes an ``InitError`` naming what we waited for."""
        data = self.sock.recv(_MAX_PACKET)
        if not data:
            raise InitError(waiting_for, f"{self.peer} exited without reporting an error")
        return self._decode(data, waiting_for)

    def wait_for_exec(self, waiting_for: str) -> None:
        """For a child that execs: EOF (its copy of the channel was CLOEXEC) means execve succeeded; anything else
        is its ERROR, raised as ``InitError``."""
        data = self.sock.recv(_MAX_PACKET)
        if not data:
            return
        message = self._decode(data, waiting_for)
        raise InitError(waiting_for, f"protocol error: expected EOF from {self.peer}, got {message!r}")

    def _decode(self, data: bytes, waiting_for: str) -> dict:
        try:
            message = fastjson.loads(data)
        except ValueError:
            raise InitError(waiting_for, f"protocol error: unreadable message from {self.peer}: {data[:80]!r}") from None
        if not isinstance(message, dict):
            raise InitError(waiting_for, f"protocol error: unexpected message from {self.peer}: {message!r}")
        if message.get("type") == ERROR:
            raise InitError(
                message.get("step", "?"),
                message.get("message", "failed"),
                errno=message.get("errno", 0),
                path=message.get("path", ""),
            )
        return message

    def expect(self, kind: str, waiting_for: str) -> dict:
        message = self.receive(waiting_for)
        if message.get("type") != kind:
            raise InitError(waiting_for, f"protocol error: expected {kind!r} from {self.peer}, got {message!r}")
        return message

    def report_failure(self, step: str, exc: BaseException) -> None:
        """Send an ERROR describing ``exc``; never raises (the child is about to exit anyway)."""
        if isinstance(exc, OSError):
            fields = {"errno": exc.errno or 0, "message": exc.strerror or str(exc), "path": exc.filename or ""}
        elif isinstance(exc, InitError):
            fields = {"errno": exc.errno, "message": exc.detail, "path": exc.path}
            step = exc.step
        else:
            fields = {"errno": 0, "message": str(exc) or type(exc).__name__, "path": ""}
        try:
            self.send(ERROR, step=step, **fields)
        except OSError:
            pass

    def close(self) -> None:
        self.sock.close()

    def fileno(self) -> int:
        return self.sock.fileno()


def child_exit(code: int) -> None:
    """Leave a forked child without running the parent's atexit handlers or flushing its buffers twice."""
    os._exit(code)
