"""The parent's side of a terminal container: the console socket, and relaying a pty in the foreground.

With `--console-socket PATH` the init sends the pty master to whoever listens there (conmon, containerd's
shim) and SimCon is done. In a foreground `run` without one, SimCon is that listener itself and relays its own
stdin/stdout to the pty, with the local terminal in raw mode and window-size changes passed on.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import sys
import termios
import threading
import tty

from simcon.errors import SimconError
from simcon.linux import pty


def connect_console_socket(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as exc:
        sock.close()
        raise SimconError(f"--console-socket `{path}`: {exc.strerror or exc}") from exc
    return sock


def receive_master(sock: socket.socket) -> int:
    _msg, fds, _flags, _addr = socket.recv_fds(sock, 4096, 1)
    if not fds:
        raise SimconError("console: the container init sent no pty master")
    return fds[0]


class Relay:
    """Copies stdin -> master and master -> stdout until the container's side of the pty is closed."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.stdin = sys.stdin.fileno()
        self.stdout = sys.stdout.fileno()
        self._saved: list | None = None
        self._thread = threading.Thread(target=self._copy, name="simcon-console", daemon=True)
        self._done = threading.Event()

    def start(self) -> None:
        if os.isatty(self.stdin):
            self._saved = termios.tcgetattr(self.stdin)
            tty.setraw(self.stdin)
            self.resize()
            signal.signal(signal.SIGWINCH, lambda *_: self.resize())
        self._thread.start()

    def resize(self) -> None:
        try:
            rows, cols = pty.get_window_size(self.stdin)
            pty.set_window_size(self.master, rows, cols)
        except OSError:
            pass

    def _copy(self) -> None:
        watch = [self.master]
        stdin_open = True
        try:
            while True:
                readable, _, _ = select.select(watch + ([self.stdin] if stdin_open else []), [], [])
                if self.master in readable:
                    try:
                        data = os.read(self.master, 65536)
                    except OSError:  # EIO: every holder of the slave closed it
                        return
                    if not data:
                        return
                    os.write(self.stdout, data)
                if stdin_open and self.stdin in readable:
                    data = os.read(self.stdin, 65536)
                    if data:
                        os.write(self.master, data)
                    else:
                        stdin_open = False
        except OSError:
            return
        finally:
            self._done.set()

    def finish(self, timeout: float = 1.0) -> None:
        """After the container exited: let the last output through, then restore the terminal. (Never started, as
        when `start` failed: there is no output to wait for.)"""
        if self._thread.ident is not None:
            self._done.wait(timeout)
        if self._saved is not None:
            termios.tcsetattr(self.stdin, termios.TCSADRAIN, self._saved)
        os.close(self.master)
