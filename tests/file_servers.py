"""Loopback file servers for the transfer tests: an HTTP server (http.server) and a minimal FTP server, each in a
thread, recording what chargers fetched and uploaded."""

from __future__ import annotations

import http.server
import posixpath
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)


@dataclass
class FileServer:
    """What a loopback server serves (`files`, by path) and what it was asked (`requests`, in order)."""

    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[Received] = field(default_factory=list)
    refuse_put: bool = False  # answer PUT with 405 (the charger then POSTs)
    port: int = 0

    def url(self, path: str, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    @property
    def times(self) -> list[float]:
        """When each request came (time.time())."""
        return [request.at for request in self.requests]

    def received(self, method: str) -> list[Received]:
        return [request for request in self.requests if request.method == method]


class _HttpHandler(http.server.BaseHTTPRequestHandler):
    server: _HttpServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _record(self) -> Received:
        length = int(self.headers.get("Content-Length") or 0)
        received = Received(self.command, self.path, dict(self.headers.items()), self.rfile.read(length))
        self.server.state.requests.append(received)
        return received

    def _answer(self, code: int, body: bytes = b"") -> None:
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._record()
        content = self.server.state.files.get(self.path)
        self._answer(200, content) if content is not None else self._answer(404)

    def do_PUT(self) -> None:
        self._record()
        self._answer(405 if self.server.state.refuse_put else 201)

    def do_POST(self) -> None:
        self._record()
        self._answer(200)


class _HttpServer(http.server.ThreadingHTTPServer):
    state: FileServer


@contextmanager
def http_server(files: dict[str, bytes] | None = None, refuse_put: bool = False) -> Iterator[FileServer]:
    state = FileServer(files=dict(files or {}), refuse_put=refuse_put)
    server = _HttpServer(("127.0.0.1", 0), _HttpHandler)
    server.state = state
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class _FtpHandler(socketserver.StreamRequestHandler):
    """Just what ftplib's login, cwd, storbinary, retrbinary and quit need (passive mode, binary type)."""

    server: _FtpServer

    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        state, cwd, passive = self.server.state, "/", None
        self.reply("220 loopback FTP ready")
        for raw in self.rfile:
            command, _, argument = raw.decode().strip().partition(" ")
            command = command.upper()
            if command == "USER":
                self.reply("331 password please")
            elif command == "PASS":
                self.reply("230 logged in")
            elif command == "TYPE":
                self.reply("200 type set")
            elif command == "CWD":
                cwd = posixpath.normpath(posixpath.join(cwd, argument))
                self.reply("250 directory changed")
            elif command == "PASV":
                passive = socket.create_server(("127.0.0.1", 0))
                passive.settimeout(5)
                port = passive.getsockname()[1]
                self.reply(f"227 Entering Passive Mode (127,0,0,1,{port >> 8},{port & 255})")
            elif command in ("STOR", "RETR") and passive is not None:
                path = posixpath.join(cwd, argument)
                state.requests.append(Received(command, path, {}, b""))
                if command == "RETR" and path not in state.files:
                    self.reply("550 no such file")
                    continue
                self.reply("150 opening data connection")
                data, _ = passive.accept()
                with data, passive:
                    if command == "STOR":
                        state.files[path] = b"".join(iter(lambda d=data: d.recv(65536), b""))
                        state.requests[-1].body = state.files[path]
                    else:
                        data.sendall(state.files[path])
                passive = None
                self.reply("226 transfer complete")
            elif command == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


class _FtpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    state: FileServer


@contextmanager
def ftp_server(files: dict[str, bytes] | None = None) -> Iterator[FileServer]:
    state = FileServer(files=dict(files or {}))
    server = _FtpServer(("127.0.0.1", 0), _FtpHandler)
    server.state = state
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def dead_url(path: str = "/firmware.bin", scheme: str = "http") -> str:
    """A loopback URL nothing listens on (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"{scheme}://127.0.0.1:{port}{path}"
