"""simcon.init.sync: the typed messages between `create` and its children over a SEQPACKET socketpair."""

from __future__ import annotations

import errno
import os
import socket

import pytest

from simcon.errors import InitError
from simcon.init import sync
from simcon.init.sync import Channel


@pytest.fixture
def channels():  # noqa: ANN201
    parent, child = Channel.pair("init")
    yield parent, child
    parent.close()
    child.close()


def test_pair_is_a_seqpacket_socketpair_with_cloexec(channels) -> None:
    parent, child = channels
    assert parent.sock.type == socket.SOCK_SEQPACKET
    assert parent.sock.family == socket.AF_UNIX
    assert parent.peer == "init" and child.peer == "parent"
    assert parent.fileno() != child.fileno()
    assert not os.get_inheritable(parent.fileno())
    assert not os.get_inheritable(child.fileno())


def test_send_receive_round_trip(channels) -> None:
    parent, child = channels
    child.send(sync.INIT_PID, pid=4242, names=["a", "b"], nested={"k": None})
    assert parent.receive("init pid") == {"pid": 4242, "names": ["a", "b"], "nested": {"k": None},
                                          "type": sync.INIT_PID}
    parent.send(sync.PROCEED)
    assert child.receive("proceed") == {"type": sync.PROCEED}


def test_messages_keep_their_boundaries(channels) -> None:
    parent, child = channels
    child.send(sync.RUN_CREATE_HOOKS)
    child.send(sync.READY, n=1)
    assert parent.receive("hooks")["type"] == sync.RUN_CREATE_HOOKS
    assert parent.receive("ready") == {"type": sync.READY, "n": 1}


def test_expect_returns_the_message(channels) -> None:
    parent, child = channels
    child.send(sync.INIT_PID, pid=7)
    assert parent.expect(sync.INIT_PID, "init pid")["pid"] == 7


def test_expect_wrong_type_is_a_protocol_error(channels) -> None:
    parent, child = channels
    child.send(sync.READY)
    with pytest.raises(InitError) as info:
        parent.expect(sync.INIT_PID, "waiting for the init pid")
    assert info.value.step == "waiting for the init pid"
    text = str(info.value)
    assert "protocol error" in text
    assert repr(sync.INIT_PID) in text  # what was expected
    assert sync.READY in text  # what came
    assert "init" in text  # from whom


def test_report_failure_of_oserror_carries_errno_message_and_path(channels) -> None:
    parent, child = channels
    child.report_failure("mount /proc", OSError(errno.EPERM, os.strerror(errno.EPERM), "/run/x/rootfs/proc"))
    with pytest.raises(InitError) as info:
        parent.receive("ready")
    exc = info.value
    assert exc.step == "mount /proc"
    assert exc.errno == errno.EPERM
    assert exc.path == "/run/x/rootfs/proc"
    assert str(exc) == f"mount /proc `/run/x/rootfs/proc`: {os.strerror(errno.EPERM)}"


def test_report_failure_of_oserror_without_path(channels) -> None:
    parent, child = channels
    child.report_failure("unshare", OSError(errno.EINVAL, os.strerror(errno.EINVAL)))
    with pytest.raises(InitError) as info:
        parent.receive("init pid")
    assert (info.value.step, info.value.errno, info.value.path) == ("unshare", errno.EINVAL, "")
    assert str(info.value) == f"unshare: {os.strerror(errno.EINVAL)}"


def test_report_failure_of_oserror_without_errno(channels) -> None:
    parent, child = channels
    child.report_failure("exec", OSError("something odd"))
    with pytest.raises(InitError) as info:
        parent.receive("ready")
    assert info.value.errno == 0
    assert "something odd" in str(info.value)


def test_report_failure_of_init_error_keeps_its_own_step(channels) -> None:
    parent, child = channels
    child.report_failure("outer", InitError("look up executable", "executable file not found in $PATH",
                                            errno=errno.ENOENT, path="nope"))
    with pytest.raises(InitError) as info:
        parent.receive("ready")
    assert info.value.step == "look up executable"
    assert info.value.errno == errno.ENOENT
    assert info.value.path == "nope"
    assert "executable file not found in $PATH" in str(info.value)


def test_report_failure_of_other_exceptions(channels) -> None:
    parent, child = channels
    child.report_failure("hostname", RuntimeError("boom"))
    child.report_failure("hostname", ValueError())
    with pytest.raises(InitError) as info:
        parent.receive("ready")
    assert str(info.value) == "hostname: boom"
    with pytest.raises(InitError) as info:
        parent.receive("ready")
    assert str(info.value) == "hostname: ValueError"


def test_report_failure_never_raises_when_the_parent_is_gone() -> None:
    parent, child = Channel.pair("init")
    parent.close()
    try:
        child.report_failure("mount", OSError(errno.EPERM, "Operation not permitted", "/x"))
    finally:
        child.close()


def test_eof_names_the_step_waited_for() -> None:
    parent, child = Channel.pair("intermediate")
    child.close()
    try:
        with pytest.raises(InitError) as info:
            parent.expect(sync.INIT_PID, "waiting for the init pid")
        assert info.value.step == "waiting for the init pid"
        assert "intermediate" in str(info.value)
        assert "exited" in str(info.value)
    finally:
        parent.close()


def test_error_from_a_forked_child_reaches_the_parent() -> None:
    """The real shape: the child reports a failed step and exits; the parent raises it."""
    parent, child = Channel.pair("init")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            parent.close()
            child.send(sync.INIT_PID, pid=os.getpid())
            child.report_failure("pivot_root", OSError(errno.EINVAL, os.strerror(errno.EINVAL), "/new/root"))
        finally:
            sync.child_exit(0)
    child.close()
    try:
        assert parent.expect(sync.INIT_PID, "init pid")["pid"] == pid
        with pytest.raises(InitError) as info:
            parent.expect(sync.READY, "ready")
        assert (info.value.step, info.value.errno, info.value.path) == ("pivot_root", errno.EINVAL, "/new/root")
        # After the child exits, the next read is EOF.
        with pytest.raises(InitError, match="exited without reporting"):
            parent.receive("after error")
    finally:
        os.waitpid(pid, 0)
        parent.close()
