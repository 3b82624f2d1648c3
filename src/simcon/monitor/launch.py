"""Start a monitor: a process detached from the caller that is the container init's parent and subreaper.

The caller hands over ``setup``, which runs inside the monitor (it creates and starts the container, so the init
is re-parented to the monitor when its intermediate exits) and names the lean entry point the monitor then
becomes. Failures of ``setup`` travel back over a pipe and are raised in the caller as one ``SimconError``.
"""

from __future__ import annotations

import os
import sys

from simcon import faults, interrupts
from simcon.errors import SimconError

_BOOTSTRAP = "import sys; sys.path.insert(0, sys.argv[1]); from {module} import main; main(sys.argv[2:])"


def spawn(setup, container_id: str, undo=None) -> None:  # noqa: ANN001
    """Fork the monitor and run ``setup() -> (module, args[, fds])`` in it; return once it succeeded.

    ``fds`` (the container's captured stdout/stderr, see ``runtime.container_logs``) are handed to ``module``
    as fds 3, 4, ... in that order; every other fd above stderr is closed.

    A caller interrupted meanwhile (Ctrl-C, SIGTERM) closes its end of the report pipe and raises: the monitor,
    finding nobody to report to, runs ``undo()`` (removes the container), since nobody would know it started.

    The monitor then execs ``module.main(args)`` in a bare interpreter (`python -I -S`): same pid, same children,
    and the subreaper flag survives execve, while the memory of everything create imported does not.
    """
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    sys.stdout.flush()
    sys.stderr.flush()
    first = os.fork()
    if first == 0:
        os.close(read_end)
        try:
            os.setsid()  # no terminal signals, no process group shared with the caller
            if os.fork() != 0:
                os._exit(0)
            _monitor(setup, write_end, undo)
        finally:
            os._exit(1)
    os.close(write_end)
    try:
        report = _read_report(first, read_end)
    except (KeyboardInterrupt, interrupts.Terminated):
        with interrupts.deferred():
            os.set_blocking(read_end, False)
            try:
                succeeded = os.read(read_end, 2) == b"ok"  # reported just before the signal: it did start
            except BlockingIOError:
                succeeded = False
            os.close(read_end)  # from now on the monitor's report fails, and it undoes the container
        if not succeeded:
            raise
        report = b"ok"
    else:
        os.close(read_end)
    if report == b"ok":
        return
    from simcon import fastjson

    try:
        error = fastjson.loads(report)
    except ValueError:
        error = {"message": report.decode(errors="replace") if report else
                 "the monitor exited before the container started"}
    raise SimconError(error.get("message") or "failed", container_id=container_id, hint=error.get("hint"))


def _read_report(first: int, read_end: int) -> bytes:
    try:
        os.waitpid(first, 0)
    except ChildProcessError:
        pass
    chunks = []
    while True:
        chunk = os.read(read_end, 65536)
        if not chunk:
            break
        chunks.append(chunk)
        if chunks == [b"ok"]:
            # Success is one atomic write: do not wait for EOF, which a parked init (`create` under a monitor)
            # would delay for as long as it holds an inherited copy of this pipe.
            break
    return b"".join(chunks)


def _monitor(setup, report_fd: int, undo) -> None:  # noqa: ANN001
    """Body of the monitor; never returns."""
    from simcon.linux import process as proc

    try:
        faults.point("monitor:forked")
        proc.set_child_subreaper(True)
        module, args, *rest = setup()
        keep = rest[0] if rest else []
    except BaseException as exc:  # noqa: BLE001 - reported to the caller, which prints it
        _report_failure(report_fd, exc)
        os._exit(1)
    import _signal

    _signal.signal(_signal.SIGPIPE, _signal.SIG_IGN)  # a gone caller must be an EPIPE here, not our death
    try:
        os.write(report_fd, b"ok")
    except OSError:  # EPIPE: the caller was interrupted and is gone, so nobody knows the container exists
        if undo is not None:
            with interrupts.deferred():
                try:
                    undo()
                except BaseException:  # noqa: BLE001 - nobody to tell; `delete --force` is the way out
                    pass
        os._exit(1)
    os.close(report_fd)
    faults.point("monitor:reported")
    # The container has its own copies of our stdio; ours would keep the caller's pipes open.
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    _hand_over(keep)
    src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    argv = [sys.executable, "-I", "-S", "-c", _BOOTSTRAP.format(module=module), src, *args]
    try:
        os.execv(sys.executable, argv)
    except OSError:  # no interpreter to exec: stay as we are, heavier but working
        from importlib import import_module

        import_module(module).main(list(args))
    os._exit(0)


def _hand_over(fds: list[int]) -> None:
    """Move ``fds`` to 3, 4, ... (inheritable, for the exec'd interpreter) and close every other fd from 3 up."""
    import fcntl

    high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3 + len(fds)) for fd in fds]
    for number, fd in enumerate(high, start=3):
        os.dup2(fd, number)  # dup2 leaves the new fd inheritable
    os.closerange(3 + len(fds), 1 << 20)


def _report_failure(fd: int, exc: BaseException) -> None:
    from simcon import fastjson

    if isinstance(exc, SimconError):
        error = {"message": exc.message, "hint": exc.hint}
    elif isinstance(exc, (KeyboardInterrupt, interrupts.Terminated)):
        error = {"message": "the monitor was " + ("interrupted" if isinstance(exc, KeyboardInterrupt) else
                                                  "terminated") + "; the container was removed"}
    elif isinstance(exc, OSError):
        where = f" `{exc.filename}`" if exc.filename else ""
        error = {"message": f"{exc.strerror or exc}{where}"}
    else:
        error = {"message": f"{type(exc).__name__}: {exc}"}
    try:
        os.write(fd, fastjson.dumps(error).encode())
    except OSError:
        pass
