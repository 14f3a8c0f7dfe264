"""Just enough of a WebSocket client (RFC 6455) for ``twiliosig send``, from the standard library.

It opens the handshake with the headers it is given, reports the answer (``101`` and
the upgrade, or the refusal's status and body), sends text messages, collects what the
server sends back, and closes. No extensions, no fragmentation on send; a client for
trying an endpoint, not for running a service.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import socket
import ssl
import struct
from dataclasses import dataclass, field

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_TEXT, _BINARY, _CLOSE, _PING, _PONG = 0x1, 0x2, 0x8, 0x9, 0xA
_MAX_HEAD = 64 * 1024
_MAX_FRAME = 16 * 1024 * 1024


class WebSocketError(Exception):
    """The server broke the protocol, or the connection ended in the middle of a frame."""


@dataclass
class Handshake:
    """The server's answer to the upgrade request."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes = b""


@dataclass
class Session:
    """What happened on an open connection: the texts the server sent, and how it closed."""

    received: list[str] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str = ""


class Connection:
    """One client connection: :meth:`open` it, :meth:`send_text`, then :meth:`finish`."""

    def __init__(
        self, url: str, headers: list[tuple[str, str]], *, timeout: float = 10.0, context: ssl.SSLContext | None = None
    ) -> None:
        scheme, _, rest = url.partition("://")
        scheme = scheme.lower()
        if scheme not in ("ws", "wss", "http", "https"):
            raise ValueError(f"a WebSocket URL starts ws:// or wss://, not {url!r}")
        end = min((index for index in (rest.find("/"), rest.find("?")) if index >= 0), default=len(rest))
        authority, target = rest[:end], rest[end:]
        self.target = target if target.startswith("/") else "/" + target
        self.secure = scheme in ("wss", "https")
        self.authority = authority.rpartition("@")[2]
        host, port = _host_port(self.authority, 443 if self.secure else 80)
        self.host, self.port = host, port
        self.headers = headers
        self.timeout = timeout
        self.context = context  # for wss://: the CAs to trust (the system's when None)
        self.sock: socket.socket | None = None
        self._buffer = b""

    def open(self) -> Handshake:
        """Send the upgrade request; the socket stays open only when the server answers 101."""
        raw = socket.create_connection((self.host, self.port), timeout=self.timeout)
        if self.secure:
            context = self.context or ssl.create_default_context()
            try:
                raw = context.wrap_socket(raw, server_hostname=self.host)
            except BaseException:
                raw.close()
                raise
        self.sock = raw
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        lines = [
            f"GET {self.target} HTTP/1.1",
            f"Host: {self.authority}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in self.headers),
        ]
        raw.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
        handshake = self._read_head()
        if handshake.status != 101:
            length = _header(handshake.headers, "content-length") or ""
            known = length.isascii() and length.isdigit() and len(length) <= 18  # int() refuses over 4,300 digits
            handshake.body = self._read_body(int(length) if known else None)
            self.close_socket()
            return handshake
        expected = base64.b64encode(hashlib.sha1(key.encode("ascii") + _GUID).digest()).decode("ascii")  # noqa: S324 - RFC 6455
        if _header(handshake.headers, "sec-websocket-accept") != expected:
            self.close_socket()
            raise WebSocketError("the server answered 101 without the Sec-WebSocket-Accept RFC 6455 requires")
        return handshake

    def send_text(self, text: str) -> None:
        """Send one text message (a single masked frame, as a client must)."""
        self._send_frame(_TEXT, text.encode("utf-8"))

    def finish(self, *, idle: float = 0.5) -> Session:
        """Collect what the server sends until it is quiet for ``idle`` seconds, then close.

        The server's answers come first: a close frame sent at once would cut them off.
        """
        session = Session()
        assert self.sock is not None
        self.sock.settimeout(idle)
        try:
            if not self._collect(session):
                with contextlib.suppress(OSError):
                    self._send_frame(_CLOSE, struct.pack("!H", 1000))
                self._collect(session)
        finally:
            self.close_socket()
        return session

    def _collect(self, session: Session) -> bool:
        """Read frames into ``session`` until a close frame (True) or silence or a dropped connection (False)."""
        try:
            while True:
                opcode, payload = self._read_frame()
                if opcode == _TEXT:
                    session.received.append(payload.decode("utf-8", "replace"))
                elif opcode == _BINARY:
                    session.received.append(f"<{len(payload)} binary bytes>")
                elif opcode == _PING:
                    self._send_frame(_PONG, payload)
                elif opcode == _CLOSE:
                    if len(payload) >= 2:
                        session.close_code = struct.unpack("!H", payload[:2])[0]
                        session.close_reason = payload[2:].decode("utf-8", "replace")
                    with contextlib.suppress(OSError):
                        self._send_frame(_CLOSE, payload[:2])
                    return True
        except (TimeoutError, ConnectionError, WebSocketError):
            return False

    def close_socket(self) -> None:
        """Drop the TCP connection."""
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    # --- the wire ------------------------------------------------------------------------------

    def _recv(self) -> bytes:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        return chunk

    def _read_exact(self, size: int) -> bytes:
        while len(self._buffer) < size:
            self._buffer += self._recv()
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def _read_head(self) -> Handshake:
        while b"\r\n\r\n" not in self._buffer:
            if len(self._buffer) > _MAX_HEAD:
                raise WebSocketError("the server's answer has no end of headers")
            self._buffer += self._recv()
        head, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not (len(parts[1]) == 3 and parts[1].isascii() and parts[1].isdigit()):
            raise WebSocketError(f"not an HTTP answer: {status_line[:80]!r}")
        headers = []
        for line in header_lines:
            name, colon, value = line.partition(":")
            if colon:
                headers.append((name.strip(), value.strip()))
        return Handshake(int(parts[1]), parts[2] if len(parts) > 2 else "", headers)

    def _read_body(self, length: int | None) -> bytes:
        try:
            if length is not None:
                return self._read_exact(min(length, _MAX_HEAD))
            while len(self._buffer) < _MAX_HEAD:
                self._buffer += self._recv()
        except (ConnectionError, TimeoutError):
            pass
        return self._buffer[:_MAX_HEAD]

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        assert self.sock is not None
        header = bytes([0x80 | opcode])
        length = len(payload)
        if length < 126:
            header += bytes([0x80 | length])
        elif length < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack("!H", length)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", length)
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def _read_frame(self) -> tuple[int, bytes]:
        """One whole message: continuation frames joined, control frames returned as they come."""
        opcode = None
        parts: list[bytes] = []
        while True:
            first, second = self._read_exact(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack("!H", self._read_exact(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", self._read_exact(8))[0]
            if length > _MAX_FRAME:
                raise WebSocketError(f"a frame of {length} bytes is more than this client reads")
            mask = self._read_exact(4) if second & 0x80 else b""
            payload = self._read_exact(length)
            if mask:
                payload = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
            frame_opcode = first & 0x0F
            if frame_opcode >= _CLOSE:
                return frame_opcode, payload
            if frame_opcode != 0:
                opcode = frame_opcode
            parts.append(payload)
            if first & 0x80:
                return opcode or _TEXT, b"".join(parts)


def _host_port(authority: str, default: int) -> tuple[str, int]:
    if authority.startswith("["):
        host, _, rest = authority[1:].partition("]")
        port = rest.lstrip(":")
    else:
        host, _, port = authority.partition(":")
    if port and not port.isdigit():
        raise ValueError(f"not a port: {port!r}")
    return host, int(port) if port else default


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((value for key, value in headers if key.lower() == name), None)
