"""The service as gunicorn serves it (the README's command): slow clients, a forged access log, gunicorn's
own error pages, chunked bodies over the limit."""

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import TEST_SCHEDULES

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, tmp_path, *extra, threads=16):
        self.port = free_port()
        self.log = tmp_path / "gunicorn.log"
        env = {
            **os.environ,
            "ESTIMATOR_WORKERS": "2",
            "ESTIMATOR_THREADS": str(threads),
            "ESTIMATOR_FEE_SCHEDULES": str(TEST_SCHEDULES),
            "ESTIMATOR_SECRET_KEY": "s" * 64,
            "ESTIMATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'records.sqlite3'}",
        }
        command = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "--bind", f"127.0.0.1:{self.port}"]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen([*command, *extra, "wsgi:app"], cwd=ROOT, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if self.get("/healthz", timeout=1)[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise AssertionError(self.log.read_text())

    def get(self, path, timeout=5):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def raw(self, data, timeout=5):
        """Send raw bytes; return the raw answer."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(data)
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
            return b"".join(chunks)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture
def server(tmp_path):
    running = Server(tmp_path)
    yield running
    running.stop()


def slow_clients(port, count):
    """Connections that send their headers and then only the first byte of a 1,000-byte body."""
    sockets = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(
            b"POST /api/v1/estimates HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{"
        )
        sockets.append(s)
    return sockets


def test_slow_clients_do_not_stop_the_service_answering(server):
    sockets = slow_clients(server.port, 8)  # four per worker: enough to stop sync workers for good
    try:
        time.sleep(0.5)
        started = time.monotonic()
        status, body = server.get("/healthz", timeout=5)
        assert status == 200 and b'"status":"ok"' in body.replace(b" ", b"")
        assert time.monotonic() - started < 3
    finally:
        for s in sockets:
            s.close()


def test_one_free_thread_anywhere_is_enough_a_busy_worker_takes_no_more_connections(tmp_path):
    small = Server(tmp_path, threads=3)
    sockets = slow_clients(small.port, 2 * 3 - 1)  # every thread of both workers but one
    try:
        time.sleep(0.5)
        for _ in range(3):
            assert small.get("/healthz", timeout=5)[0] == 200
    finally:
        for s in sockets:
            s.close()
        small.stop()


def test_the_slow_client_test_can_fail_sync_workers_are_blocked(tmp_path):
    sync = Server(tmp_path, "--worker-class", "sync", "--threads", "1")
    sockets = slow_clients(sync.port, 4)
    try:
        time.sleep(0.5)
        with pytest.raises(OSError):  # a time-out: every worker waits on a slow body
            sync.get("/healthz", timeout=3)
    finally:
        for s in sockets:
            s.close()
        sync.stop()


def test_control_characters_in_a_path_cannot_forge_access_log_lines(server):
    answer = server.raw(b"GET /x%0d%0a127.0.0.1%20%22GET%20/forged%22%20200%00%1b[31m HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 404")
    time.sleep(0.5)
    lines = server.log.read_bytes().splitlines()
    hits = [line for line in lines if b"forged" in line]
    assert len(hits) == 1
    assert hits[0].startswith(b'127.0.0.1 "GET /x\\x0d\\x0a127.0.0.1')
    assert b"\\x00\\x1b[31m" in hits[0]
    assert not any(b"\x00" in line or b"\x1b" in line for line in lines)


def test_gunicorns_own_error_pages_carry_the_security_headers(server):
    answer = server.raw(b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    assert head.startswith("HTTP/1.1 414")
    for header in ("X-Content-Type-Options: nosniff", "X-Frame-Options: DENY", "Content-Security-Policy: default-src"):
        assert header in head
    malformed = server.raw(b"GARBAGE\r\n\r\n")
    assert malformed.startswith(b"HTTP/1.1 400") and b"X-Content-Type-Options: nosniff" in malformed


def test_a_chunked_body_over_the_limit_is_refused(server):
    chunk = b"x" * 8192
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(10)) + b"0\r\n\r\n"
    answer = server.raw(
        b"POST /api/v1/estimates HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + body
    )
    assert answer.startswith(b"HTTP/1.1 413")


def test_a_chunked_body_under_the_limit_is_read(server):
    body = b'{"cpt_code": "11111", "payer_id": "plan", "date_of_service": "2025-06-01"}'
    answer = server.raw(
        b"POST /api/v1/estimates HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    )
    assert answer.startswith(b"HTTP/1.1 200") and b'"allowed_amount"' in answer


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /records?name=Jane%20Doe&birth_date=1980-01-01\r\nHost: x\r\n\r\n",  # no version
        b"GET /records?name=Jane\x7fDoe&birth_date=1980-01-01 HTTP/1.1\r\nHost: x\r\n\r\n",  # a control byte
        b"GET  /records?name=Jane%20Doe&birth_date=1980-01-01 HTTP/1.1\r\nHost: x\r\n\r\n",  # two spaces
        b"GET http://[::1/records?name=Jane%20Doe&birth_date=1980-01-01 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /records?name=Jane%20Doe&birth_date=1980-01-01 HTTP/1.1 EXTRA\r\nHost: x\r\n\r\n",
        b"GET /records?name=Jane%20Doe&birth_date=1980-01-01 HTTP/9.9\r\nHost: x\r\n\r\n",  # a bad version
        b"G\x01T /records?name=Jane%20Doe&birth_date=1980-01-01 HTTP/1.1\r\nHost: x\r\n\r\n",  # a bad method
        b"GET /records?name=Jane%20Doe&birth_date=1980-01-01 HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"GET /records?name=Jane%20Doe&birth_date=1980-01-01 HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 10_000 + b"\r\n\r\n",
    ],
)
def test_the_error_log_keeps_no_request_line_or_query_string(server, request_bytes):
    answer = server.raw(request_bytes)
    assert answer.startswith(b"HTTP/1.1 4")
    time.sleep(0.5)
    log = server.log.read_bytes()
    assert b"Jane" not in log and b"1980-01-01" not in log, log.decode(errors="replace")[-2000:]
