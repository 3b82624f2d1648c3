"""The intermediates of `create` and `exec` make themselves non-dumpable before anything else, so the processes
they fork (the container init, the exec'd process) are too until their execve."""

from __future__ import annotations

import json
import os
import socket

from simcon.errors import InitError
from simcon.init import container_init, exec_init, sync
from simcon.init.plan import ContainerLaunch, ContainerPlan, ExecLaunch, ExecPlan, ProcessPlan
from simcon.linux import process as proc

PR_GET_DUMPABLE = 3


class _Probe(sync.Channel):
    """Fails the first wait with the dumpable flag as the message: it travels back as an ERROR packet."""

    def expect(self, kind: str, waiting_for: str) -> dict:
        raise InitError("probe", f"dumpable={proc.prctl(PR_GET_DUMPABLE)}")


def dumpable_at_first_wait(body) -> str:  # noqa: ANN001
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        try:
            ours.close()
            body(_Probe(theirs, "parent"))
        finally:
            os._exit(99)
    theirs.close()
    try:
        message = json.loads(ours.recv(65536))
    finally:
        ours.close()
        os.waitpid(pid, 0)
    return message["message"]


PROCESS = ProcessPlan(args=("sh",))
CONTAINER = ContainerPlan(container_id="c", rootfs="/nonexistent", process=PROCESS)
EXEC = ExecPlan(container_id="c", init_pid=1, process=PROCESS)


def test_create_intermediate_is_not_dumpable() -> None:
    assert proc.prctl(PR_GET_DUMPABLE) == 1
    spare = sync.Channel.pair("init")
    try:
        assert dumpable_at_first_wait(lambda ch: container_init.run_intermediate(CONTAINER, ContainerLaunch(), ch, spare[1])) == \
            "dumpable=0"
    finally:
        for channel in spare:
            channel.close()


def test_exec_intermediate_is_not_dumpable() -> None:
    assert dumpable_at_first_wait(lambda ch: exec_init.run_exec_intermediate(EXEC, ExecLaunch(), ch)) == \
        "dumpable=0"
