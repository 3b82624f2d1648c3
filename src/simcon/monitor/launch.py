"""`run -d` through a monitor: fork it (detached from the caller), create and start inside it, report back."""

from __future__ import annotations

import os
import sys

from simcon.errors import SimconError

WAITER_BOOTSTRAP = "import sys; sys.path.insert(0, sys.argv[1]); from simcon.monitor.waiter import main; main(sys.argv[2:])"


def run_detached(store, container_id: str, options) -> int:  # noqa: ANN001
    """Start the container under a new monitor; returns 0 once it runs, raises what create/start raised."""
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    sys.stdout.flush()
    sys.stderr.flush()
    first = os.fork()
    if first == 0:
        os.close(read_end)
        try:
            os.setsid()  # no terminal signals, no process group of the caller
            if os.fork() != 0:
                os._exit(0)
            _monitor(store, container_id, options, write_end)
        finally:
            os._exit(1)
    os.close(write_end)
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
    os.close(read_end)
    report = b"".join(chunks)
    if report == b"ok":
        return 0
    from simcon import fastjson

    try:
        error = fastjson.loads(report)
    except ValueError:
        error = {"message": "the monitor exited before the container started" if not report else report.decode()}
    raise SimconError(error.get("message", "failed"), container_id=container_id, hint=error.get("hint"))


def _monitor(store, container_id: str, options, report_fd: int) -> None:  # noqa: ANN001
    """Body of the monitor; never returns."""
    from simcon.linux import process as proc
    from simcon.runtime.create import create_container
    from simcon.runtime.operations import delete_container, start_container

    try:
        proc.set_child_subreaper(True)
        created = create_container(store, container_id, options)
        try:
            start_container(store, container_id)
        except BaseException:
            delete_container(store, container_id, force=True)
            raise
    except BaseException as exc:  # noqa: BLE001 - reported to `simcon run`, which prints it
        _report_failure(report_fd, exc)
        os._exit(1)
    state = created.state
    os.write(report_fd, b"ok")
    os.close(report_fd)
    # The container has its own copies of our stdio; ours would keep the caller's pipes open.
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    os.closerange(3, 1 << 20)
    src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    argv = [sys.executable, "-I", "-S", "-c", WAITER_BOOTSTRAP, src, store.root, container_id, str(state.pid),
            str(state.init_start_time or 0)]
    try:
        os.execv(sys.executable, argv)
    except OSError:
        from simcon.monitor.waiter import main

        main(argv[6:])
    os._exit(0)


def _report_failure(fd: int, exc: BaseException) -> None:
    from simcon import fastjson

    if isinstance(exc, SimconError):
        error = {"message": exc.message, "hint": exc.hint}
    elif isinstance(exc, OSError):
        where = f" `{exc.filename}`" if exc.filename else ""
        error = {"message": f"{exc.strerror or exc}{where}"}
    else:
        error = {"message": f"{type(exc).__name__}: {exc}"}
    try:
        os.write(fd, fastjson.dumps(error).encode())
    except OSError:
        pass
