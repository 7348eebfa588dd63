"""Listening addresses held exclusively: a venue never shares a port with another process.

grpcio binds with SO_REUSEPORT by default, so a second venue on a taken port would start and
split the calls with the first; the server is built with `grpc.so_reuseport` = 0 and a failed
bind is a `ListenError` naming the address. A host name can resolve to several addresses (IPv4
and IPv6 `localhost`), of which grpcio binds what it can: every one is checked first, so that a
venue never listens on half of a name either.
"""

from __future__ import annotations

import errno
import socket

import grpc


class ListenError(Exception):
    """An address the venue cannot listen on; the message names it and says what to do."""


def split(address: str) -> tuple[str, int]:
    """`host:port` (IPv6 hosts in brackets) as (host, port); ListenError if malformed."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65_535:
        raise ListenError(f"cannot listen on {address!r}: expected host:port")
    return host.strip("[]") or "0.0.0.0", int(port)


def check_free(address: str, what: str, setting: str) -> None:
    """Raise ListenError if any address `address` (the `setting` for `what`) resolves to is
    taken; port 0 is always free."""
    host, port = split(address)
    if port == 0:
        return
    try:
        resolved = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise ListenError(f"cannot listen on {address} ({what}): {e.strerror}") from None
    for family, kind, proto, _, sockaddr in resolved:
        with socket.socket(family, kind, proto) as s:
            # SO_REUSEADDR lets a port in TIME_WAIT be reused but never one another socket listens on
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(sockaddr)
            except OSError as e:
                if e.errno == errno.EADDRINUSE:
                    raise ListenError(f"cannot listen on {address} ({what}): the address is in use by another "
                                      f"process; stop it or choose another {setting}") from None
                # any other failure (e.g. no IPv6 on this host) is the real bind's to report


def bind_grpc(server: grpc.aio.Server, address: str) -> int:
    """Bind the (not yet started) server to `address`; the port bound."""
    check_free(address, "gRPC", "--listen address")
    try:
        return server.add_insecure_port(address)
    except RuntimeError:  # grpcio's message only says "failed to bind"
        raise ListenError(f"cannot listen on {address} (gRPC): the address is in use or unavailable") from None
