"""Send a huge upload to a real server and watch its peak memory (Linux /proc)."""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path


def peak_rss(pid: int) -> int:
    """The peak resident memory (VmHWM) of a process and its children, in bytes."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(child) for child in children.read_text().split()]
    for each in pids:
        for line in Path(f"/proc/{each}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total = max(total, int(line.split()[1]) * 1024)
    return total


def huge_upload(port: int, path: str, size: int, *, chunked: bool, chunk: int = 1 << 20) -> int:
    """Stream ``size`` bytes to 127.0.0.1:port; return the HTTP status the server answered."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Type: application/x-www-form-urlencoded"]
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}")
    head.append("X-Twilio-Signature: aGVsbG8gd29ybGQgaGVsbG8gd29ybGQ=")
    block = b"x" * chunk

    def send() -> None:
        with contextlib.suppress(OSError):
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
            sent = 0
            while sent < size:
                piece = block[: min(chunk, size - sent)]
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece)
                sent += len(piece)
            if chunked:
                sock.sendall(b"0\r\n\r\n")

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    response = b""
    with contextlib.suppress(OSError):
        while b"\r\n" not in response:
            data = sock.recv(4096)
            if not data:
                break
            response += data
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
    sender.join(timeout=30)
    return int(response.split()[1]) if response.startswith(b"HTTP/") else 0
