"""Floods of idle TCP connections from several loopback addresses, for the tests that
a node's ports refuse what is over their caps and keep their descriptors."""

from __future__ import annotations

import socket


def flood(port: int, sources: list[str], each: int) -> list[socket.socket]:
    """``each`` connections from every address of ``sources`` to ``port``, those the
    kernel let through held open (the caller closes them)."""
    held = []
    for source in sources:
        for _ in range(each):
            sock = socket.socket()
            sock.settimeout(2)
            sock.bind((source, 0))
            try:
                sock.connect(("127.0.0.1", port))
            except OSError:
                sock.close()
                continue
            held.append(sock)
    return held
