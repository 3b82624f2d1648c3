"""Unix sockets for the create and exec paths, on CPython's C module ``_socket`` without the ``socket`` package.

Why: ``import socket`` builds its enums (``enum``) and imports ``selectors`` and ``collections.abc``: about 10 ms of
every `create`, `run` and `exec`, for a socketpair and one fd handed over. ``_socket.socket`` has every method used
here (send, recv, sendmsg, connect, close, fileno) and, like ``socket.socket``, is close-on-exec from the start.
"""

from __future__ import annotations

import _socket
import sys

AF_UNIX = _socket.AF_UNIX
SOCK_STREAM = _socket.SOCK_STREAM
SOCK_SEQPACKET = _socket.SOCK_SEQPACKET
Socket = _socket.socket


def socketpair(kind: int) -> tuple[Socket, Socket]:
    """A connected pair of AF_UNIX sockets of ``kind`` (SOCK_STREAM or SOCK_SEQPACKET)."""
    return _socket.socketpair(AF_UNIX, kind)


def connect(path: str) -> Socket:
    """A SOCK_STREAM socket connected to ``path``; OSError as connect(2) fails."""
    sock = _socket.socket(AF_UNIX, SOCK_STREAM)
    try:
        sock.connect(path)
    except BaseException:
        sock.close()
        raise
    return sock


def send_fds(sock: Socket, data: bytes, fds: list[int]) -> None:
    """Send ``data`` with ``fds`` attached (SCM_RIGHTS), in one message."""
    # The fds as the C ints SCM_RIGHTS carries, without `array` (it imports collections.abc: ~3 ms).
    rights = b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in fds)
    sock.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, rights)])
