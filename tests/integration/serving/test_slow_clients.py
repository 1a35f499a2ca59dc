"""Server-side timeouts for slow clients, on `glamcast serve` as a real process, over raw sockets.

Plain uvicorn 0.55 holds each of these connections for ever (measured: all three still open
after 15 s with a 5 s keep-alive timeout); `glamcast serve` closes them: headers not complete
within `api_header_timeout_s` (an idle connection, half-sent headers, a slowloris trickle) →
closed; a body not complete within `api_body_timeout_s` → 408 and closed.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from testkit import eventually
from uvicorn.protocols.http.h11_impl import H11Protocol

from glamcast.platform.stack import free_port
from glamcast.serving.server import header_timeout_protocol

pytestmark = pytest.mark.integration

HEADER_TIMEOUT_S = 1.5
BODY_TIMEOUT_S = 1.5
SLACK_S = 2.5  # a loaded machine: the close may come this much after the timeout


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[int]:
    """`glamcast serve` on a free port with short timeouts; yields the port."""
    state = tmp_path_factory.mktemp("slow-clients")
    port = free_port()
    env = {**os.environ, "GLAMCAST_STATE_DIR": str(state),
           "GLAMCAST_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",  # none: ingest is not the point
           "GLAMCAST_MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}",
           "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
           "GLAMCAST_API_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
           "GLAMCAST_API_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S)}
    with open(state / "serve.log", "wb") as log:  # the child keeps its own descriptor
        process = subprocess.Popen([sys.executable, "-m", "glamcast.cli", "serve", "--port", str(port)],
                                   env=env, stdout=log, stderr=subprocess.STDOUT)

    def healthy() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def exited() -> str | None:
        if process.poll() is None:
            return None
        return f"glamcast serve exited ({process.returncode}):\n{(state / 'serve.log').read_text()[-3000:]}"

    try:
        eventually(healthy, 120, "glamcast serve to answer /healthz", abort=exited)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def read_until_closed(sock: socket.socket, limit_s: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and when it closed
    (seconds from now); fails if it is still open after `limit_s`."""
    started, received = time.monotonic(), b""
    sock.settimeout(0.05)
    while time.monotonic() - started < limit_s:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return received, time.monotonic() - started
        received += chunk
    raise AssertionError(f"connection still open after {limit_s} s; received {received[:200]!r}")


def test_an_idle_connection_is_closed_after_the_header_timeout(served):
    with connect(served) as sock:
        received, after = read_until_closed(sock, HEADER_TIMEOUT_S + SLACK_S)
    assert received == b""
    assert after >= HEADER_TIMEOUT_S * 0.9  # the timer, not something faster


def test_half_sent_headers_are_closed_after_the_header_timeout(served):
    with connect(served) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: glamcast\r\nX-Slow: ")
        received, after = read_until_closed(sock, HEADER_TIMEOUT_S + SLACK_S)
    assert received == b""
    assert after >= HEADER_TIMEOUT_S * 0.9


def test_a_slowloris_trickle_does_not_extend_the_header_timeout(served):
    with connect(served) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: glamcast\r\n")
        started = time.monotonic()
        closed_after = None
        while time.monotonic() - started < HEADER_TIMEOUT_S + SLACK_S:
            try:
                sock.sendall(b"X-a: b\r\n")  # a header line every 0.2 s, never the blank line
                sock.settimeout(0.2)
                if sock.recv(1) == b"":
                    closed_after = time.monotonic() - started
                    break
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - started
                break
    assert closed_after is not None, "a trickle of header lines kept the connection open"
    assert closed_after >= HEADER_TIMEOUT_S * 0.9


def test_a_stalled_body_gets_408_and_a_close(served):
    with connect(served) as sock:
        sock.sendall(b"POST /v1/events/tryon HTTP/1.1\r\nHost: glamcast\r\nX-API-Key: dev-ingest\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{\"event_id\"")
        received, after = read_until_closed(sock, BODY_TIMEOUT_S + SLACK_S)
    status_line, _, rest = received.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 408 Request Timeout", received[:300]
    assert b"connection: close" in rest.lower()
    assert f"request body not received within {BODY_TIMEOUT_S:g} s".encode() in rest
    assert after >= BODY_TIMEOUT_S * 0.9


def test_prompt_requests_on_a_kept_alive_connection_are_served(served):
    request = b"GET /healthz HTTP/1.1\r\nHost: glamcast\r\n\r\n"
    with connect(served) as sock:
        for _ in range(3):  # each within the header timeout, the connection idle in between
            sock.sendall(request)
            answer = b""
            while b'{"status":"ok"}' not in answer:
                chunk = sock.recv(65536)
                assert chunk, f"closed mid-answer: {answer!r}"
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200 OK")
            time.sleep(HEADER_TIMEOUT_S * 0.6)  # idle, shorter than keep-alive (5 s)


def test_the_header_timeout_holds_with_h11_too():
    """uvicorn uses h11 where httptools is not installed: the same wrapper, on h11's protocol."""
    app = FastAPI()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning",
        http=header_timeout_protocol(HEADER_TIMEOUT_S, base=H11Protocol)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        eventually(lambda: server.started, 30, "uvicorn (h11) to start", abort=lambda: (
            None if thread.is_alive() else "uvicorn exited"))
        with connect(port) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: glamcast\r\n")
            received, after = read_until_closed(sock, HEADER_TIMEOUT_S + SLACK_S)
        assert received == b"" and after >= HEADER_TIMEOUT_S * 0.9
    finally:
        server.should_exit = True
        thread.join(timeout=10)
