"""Read the API continuously from a thread and keep every answer, with when it was asked, so a
test can judge the answers given while the database was up."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx

from tests.support.keys import AUTH


@dataclass(frozen=True)
class Answer:
    path: str
    sent: float  # time.monotonic() when the request was sent
    received: float
    status: int | None  # None: no HTTP answer at all (connection refused, timeout)
    detail: str


@dataclass
class Poller:
    """GET /v1/tasks and GET /v1/tasks/{id}, in turn, back to back from `readers` threads (so
    the API's pool holds as many connections), until stopped."""

    base_url: str
    task_ids: list[uuid.UUID]
    readers: int = 4
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _open: bool = True
    _busy: int = 0
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for n in range(self.readers):
            thread = threading.Thread(target=self._run, args=(n,), daemon=True, name=f"reader-{n}")
            thread.start()
            self._threads.append(thread)

    def pause(self) -> None:
        """No new request, and return once every request in flight has its answer."""
        with self._cond:
            self._open = False
            if not self._cond.wait_for(lambda: self._busy == 0, timeout=60):
                raise AssertionError("API requests still in flight after 60 s")

    def resume(self) -> None:
        with self._cond:
            self._open = True
            self._cond.notify_all()

    def stop(self) -> None:
        self._stop.set()
        self.resume()
        for thread in self._threads:
            thread.join(60)

    def _run(self, offset: int) -> None:
        ids = itertools.islice(itertools.cycle(self.task_ids), offset, None)
        # A request may wait for a database connection; 30 s is far past the API's own
        # 5 s pool wait, so a slow answer is still seen as the API's answer.
        with httpx.Client(base_url=self.base_url, timeout=30, headers=AUTH) as client:
            while not self._stop.is_set():
                for path in ("/v1/tasks", f"/v1/tasks/{next(ids)}"):
                    with self._cond:
                        self._cond.wait_for(lambda: self._open)
                        self._busy += 1
                    try:
                        self.answers.append(self._ask(client, path))
                    finally:
                        with self._cond:
                            self._busy -= 1
                            self._cond.notify_all()

    @staticmethod
    def _ask(client: httpx.Client, path: str) -> Answer:
        sent = time.monotonic()
        try:
            response = client.get(path)
        except httpx.HTTPError as exc:
            return Answer(path, sent, time.monotonic(), None, repr(exc))
        detail = "" if response.is_success else response.text[:300]
        return Answer(path, sent, time.monotonic(), response.status_code, detail)


def outside(answers: list[Answer], windows: list[tuple[float, float]]) -> list[Answer]:
    """The answers whose request began and ended outside every (start, end) window."""
    return [
        a
        for a in answers
        if not any(a.sent <= end and a.received >= start for start, end in windows)
    ]
