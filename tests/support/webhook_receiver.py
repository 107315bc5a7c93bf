"""A loopback webhook receiver for tests: verifies every request's signature with
outlast.webhooks.verify, answers 503 to the first `fail_first` attempts of each delivery id,
then 200, and records
each request (its id, whether it verified, what it answered) and each accepted payload."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from outlast.errors import WebhookSignatureInvalid
from outlast.webhooks import ID_HEADER, verify


@dataclass
class Seen:
    delivery_id: str
    verified: bool
    status: int


@dataclass
class Receiver:
    url: str
    secret: str = ""
    fail_first: int = 0
    seen: list[Seen] = field(default_factory=list)
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)  # by delivery id
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        delivery_id = {k.lower(): v for k, v in headers.items()}.get(ID_HEADER.lower(), "")
        with self.lock:
            try:
                payload = verify(self.secret, headers, body)
            except WebhookSignatureInvalid:
                self.seen.append(Seen(delivery_id, False, 401))
                return 401
            tries = sum(1 for s in self.seen if s.delivery_id == delivery_id)
            status = 503 if tries < self.fail_first else 200
            self.seen.append(Seen(delivery_id, True, status))
            if status == 200:
                # A receiver dedupes on the id: a second acceptance of one id would be a bug.
                assert delivery_id not in self.accepted, f"delivered twice: {delivery_id}"
                self.accepted[delivery_id] = payload
            return status


@contextmanager
def receiver(*, fail_first: int = 0) -> Iterator[Receiver]:
    state = Receiver(url="", fail_first=fail_first)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = state.handle(dict(self.headers.items()), body)
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"no" if status >= 300 else b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
