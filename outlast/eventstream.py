"""What both clients do the same way on a task's stream and on pages, without any I/O.

A task's stream (`GET /v1/tasks/{id}/stream`, ADR 0015) is Server-Sent Events whose id names
the last task_events row (and, after a token delta, the last delta row: `E.D`, ADR 0022).
`Reader` turns its lines into the task's events (the token deltas, `event: token`, are skipped:
they are the console's live view) and remembers the last id as the server wrote it, so a client
whose connection drops reconnects with `Last-Event-ID` and gets every event once. `Retries` is
the reconnect budget and backoff; `Deadline` and `settled` are `wait()`'s clock and goal.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

Json = dict[str, Any]

# The states `wait()` returns at: the end of a task, or a wait that needs a person (an approval,
# an answer, or a budget raised for a paused task). The names are db/states.py's TaskState.
TERMINAL = frozenset({"completed", "failed", "cancelled"})
WAITING = frozenset({"waiting_for_approval", "waiting_for_input", "paused"})
SETTLED = TERMINAL | WAITING

# The server pings every 15 s, so a read that waits longer than this is a dead connection.
READ_TIMEOUT_S = 45.0
STREAM_TIMEOUT = httpx.Timeout(10.0, read=READ_TIMEOUT_S)


def settled(task: Json) -> bool:
    return task.get("state") in SETTLED


def stream_path(task_id: str) -> str:
    return f"/v1/tasks/{task_id}/stream"


@dataclass
class Reader:
    """Parses SSE lines into the events' JSON (each with its `id`), and keeps the last id."""

    last_event_id: int | str | None = None
    _fields: dict[str, str] = field(default_factory=dict)

    def headers(self) -> dict[str, str]:
        if self.last_event_id is None:
            return {"Accept": "text/event-stream"}
        return {"Accept": "text/event-stream", "Last-Event-ID": str(self.last_event_id)}

    def feed(self, line: str) -> Json | None:
        """The event a blank line completes, else None (comments and pings are skipped)."""
        if line:
            if not line.startswith(":"):
                name, _, value = line.partition(":")
                self._fields[name] = value.removeprefix(" ")
            return None
        fields, self._fields = self._fields, {}
        if "data" not in fields or "id" not in fields:
            return None
        self.last_event_id = fields["id"]
        if fields.get("event") == "token":
            return None
        event: Json = json.loads(fields["data"])
        return event

    def events(self, lines: Iterable[str]) -> Iterator[Json]:
        for line in lines:
            event = self.feed(line)
            if event is not None:
                yield event


@dataclass
class Retries:
    """How often a dropped stream is reconnected: `limit` failures in a row, with backoff."""

    limit: int = 5
    failures: int = 0

    def reset(self) -> None:
        self.failures = 0

    def backoff(self, exc: Exception) -> float:
        """Seconds to wait before the next attempt; re-raises `exc` when the budget is spent."""
        self.failures += 1
        if self.failures > self.limit:
            raise exc
        return min(0.25 * 2.0**self.failures, 5.0)

    def ended(self) -> float:
        """As `backoff`, for a stream the API ended cleanly (a task stream never ends, so a
        proxy or a restart did): reconnect, but not in a tight loop."""
        return self.backoff(httpx.RemoteProtocolError("the API ended the stream"))


@dataclass
class Deadline:
    timeout: float | None
    clock: Callable[[], float] = time.monotonic
    start: float = field(init=False)

    def __post_init__(self) -> None:
        self.start = self.clock()

    def left(self, cap: float = math.inf) -> float:
        """Seconds left, at most `cap`; TimeoutError when none are."""
        if self.timeout is None:
            return cap
        remaining = self.timeout - (self.clock() - self.start)
        if remaining <= 0:
            raise TimeoutError(f"the task did not settle within {self.timeout:g} s")
        return min(remaining, cap)


@dataclass
class Watch:
    """`wait()`'s state: its place in the task's stream, and whether to poll instead (an API
    behind a proxy that refuses streams). Each look reads the stream until an event moves the
    task to a settled state, the connection drops, or the deadline comes; then `wait()` reads
    the task itself, which is the answer (an old event in the stream may say `waiting` of a
    wait that was decided long ago)."""

    deadline: Deadline
    poll_s: float
    reader: Reader = field(default_factory=lambda: Reader(0))
    streaming: bool = True
    dropped: bool = False

    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(10.0, read=self.deadline.left(READ_TIMEOUT_S))

    def refused(self, response: httpx.Response) -> bool:
        """An answer that is not a stream: poll from now on."""
        self.streaming = not response.is_error
        return not self.streaming

    def moved(self, line: str) -> bool:
        """Feeds one line; True when it completes an event that moved the task to a settled
        state. TimeoutError when the deadline has passed."""
        self.deadline.left()
        event = self.reader.feed(line)
        return event is not None and event.get("to_state") in SETTLED

    def pause(self) -> float:
        """Seconds to sleep before the next look: none after an event, else a poll interval."""
        if self.streaming and not self.dropped:
            return 0.0
        self.dropped = False
        return self.deadline.left(self.poll_s)


def next_cursor(page: Json, filters: Json) -> bool:
    """Moves `filters` on to the next page; False after the last."""
    filters["cursor"] = page.get("next_cursor")
    return bool(filters["cursor"])
