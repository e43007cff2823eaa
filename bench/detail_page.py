"""Subscriber detail page latency under 20 concurrent signed-in clients, on loopback.

    .venv/bin/python bench/detail_page.py [--requests 2000] [--clients 20] [--json]

Starts `cpniguard serve` (gunicorn, 2 workers x 10 threads, sized for a 2-core machine) on a
free 127.0.0.1 port against a freshly seeded demo installation, signs 20 support staff sessions
in through /login/ (CSRF token from the form, then POST), and has 20 threads fetch
/subscribers/<id>/?purpose=provide_service for random subscribers: the policy decision, the
record, the masking, the audit entry and the HTML page. Reports p50/p99 latency and requests/s.

The baseline, on the same server in the same run, is the public privacy notice
/policy/notice/ fetched without a session: a template render with no database query, so the
ratio is what reading and auditing a record adds to the server's own per-request cost. Every
loop is bounded by a request count and a time cap; nothing leaves the loopback interface.
"""

from __future__ import annotations

import http.client
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from urllib.parse import urlencode

from harness import (
    arguments,
    database_name,
    fresh_installation,
    median,
    percentile,
    rate,
    report,
    seed_subscribers,
)

TIME_CAP = 60.0  # seconds per phase
STARTUP_CAP = 60.0
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Session:
    """One keep-alive connection with its own cookies, like one browser tab."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}

    def _send(self, method: str, path: str, body: str | None,
              headers: dict[str, str]) -> http.client.HTTPResponse:
        try:
            self.connection.request(method, path, body=body, headers=headers)
            return self.connection.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server closed an idle keep-alive connection: reconnect once, as browsers do.
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.connection.request(method, path, body=body, headers=headers)
            return self.connection.getresponse()

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        response = self._send(method, path, body, headers)
        text = response.read().decode("utf-8", "replace")
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, text

    def sign_in(self, username: str, password: str) -> None:
        status, page = self.request("GET", "/login/")
        token = CSRF_FIELD.search(page)
        if status != 200 or token is None:
            raise RuntimeError(f"/login/ answered {status} without a CSRF token")
        form = urlencode({"csrfmiddlewaretoken": token.group(1), "username": username,
                          "password": password})
        status, _ = self.request("POST", "/login/", form)
        if status != 302 or "sessionid" not in self.cookies:
            raise RuntimeError(f"signing in as {username} answered {status}")


def wait_until_serving(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_CAP
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the server exited during startup; see its log")
        try:
            if Session(port).request("GET", "/login/")[0] == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not answer within the startup cap")


def phase(sessions: list[Session], paths: list[str]) -> tuple[list[float], float, int]:
    """Fetch `paths` from all sessions at once; (latencies in s, wall seconds, failures)."""
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    began = time.perf_counter()

    def client(session: Session, share: list[str]) -> None:
        for path in share:
            if time.perf_counter() - began > TIME_CAP:
                return
            sent = time.perf_counter()
            status, _ = session.request("GET", path)
            took = time.perf_counter() - sent
            with lock:
                latencies.append(took)
                failures[0] += status != 200

    threads = [threading.Thread(target=client, args=(s, paths[n::len(sessions)]))
               for n, s in enumerate(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, time.perf_counter() - began, failures[0]


def main() -> int:
    parser = arguments(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--subscribers", type=int, default=2000)
    args = parser.parse_args()
    home = fresh_installation("page")
    from cpniguard.audit.models import AuditEntry
    from cpniguard.subscribers.models import Subscriber

    _, passwords = seed_subscribers(args.subscribers)
    ids = list(Subscriber.objects.values_list("pk", flat=True))
    database = database_name()
    port = free_port()
    log = (home / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "cpniguard.cli", "serve", "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--threads", "10"],
        env={**os.environ, "CPNIGUARD_HOME": str(home)}, stdout=log, stderr=log,
        start_new_session=True)
    try:
        wait_until_serving(port, server)
        staff = sorted(name for name in passwords if name.startswith("support"))
        sessions = [Session(port) for _ in range(args.clients)]
        for n, session in enumerate(sessions):
            session.sign_in(staff[n % len(staff)], passwords[staff[n % len(staff)]])
        rng = random.Random(11)
        detail = [f"/subscribers/{rng.choice(ids)}/?purpose=provide_service"
                  for _ in range(args.requests)]
        reads = AuditEntry.objects.filter(event="subscriber:record:read")
        before = reads.count()
        warm = phase(sessions, detail[: args.clients * 5])[0]  # templates, connections
        anonymous = [Session(port) for _ in range(args.clients)]
        phase(anonymous, ["/policy/notice/"] * args.clients * 5)
        page, page_wall, page_failed = phase(sessions, detail)
        notice, notice_wall, notice_failed = phase(anonymous, ["/policy/notice/"] * args.requests)
        audited = reads.count() - before
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and its workers, which we started
        server.wait(timeout=30)
        log.close()
    if page_failed or notice_failed:
        sys.exit(f"failed requests: detail {page_failed}, notice {notice_failed}; rerun with "
                 "BENCH_KEEP=1 and read server.log in the installation directory")
    if audited != len(page) + len(warm):
        sys.exit(f"{len(page) + len(warm)} detail pages but {audited} audit entries")

    def ms(samples: list[float], statistic: Callable[[list[float]], float]) -> float:
        return statistic(samples) * 1000

    p50, p99 = ms(page, median), ms(page, lambda s: percentile(s, 0.99))
    n50, n99 = ms(notice, median), ms(notice, lambda s: percentile(s, 0.99))
    lines = [
        f"server: gunicorn 2 workers x 10 threads on 127.0.0.1:{port}; {database}; "
        f"{args.subscribers} subscribers; {args.clients} concurrent signed-in clients",
        f"detail page: {len(page)} requests, p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
        f"{rate(len(page), page_wall):,.0f} req/s (each audited)",
        f"baseline /policy/notice/ (no database): {len(notice)} requests, p50 {n50:.1f} ms, "
        f"p99 {n99:.1f} ms, {rate(len(notice), notice_wall):,.0f} req/s",
        f"ratio: detail/notice p50 {p50 / n50:.1f}x, p99 {p99 / n99:.1f}x; throughput "
        f"{rate(len(notice), notice_wall) / rate(len(page), page_wall):.1f}x lower",
    ]
    report(args, "detail_page", lines, {
        "database": database, "clients": args.clients, "requests": len(page),
        "p50_ms": p50, "p99_ms": p99, "req_per_s": rate(len(page), page_wall),
        "baseline_p50_ms": n50, "baseline_p99_ms": n99,
        "baseline_req_per_s": rate(len(notice), notice_wall), "ratio_p50": p50 / n50,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
