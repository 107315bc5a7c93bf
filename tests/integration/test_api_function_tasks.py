"""Function tasks over REST: listed with their kind, submitted like graphs, and refused where only
a graph makes sense (a follow-up needs a thread)."""

from __future__ import annotations

from tests.support.api import api_client, submit


def test_functions_are_listed_submitted_and_have_no_thread_to_continue(db_url: str) -> None:
    with api_client(db_url, graphs="echo=tests.support.functions:echo") as client:
        graphs = {g["name"]: g for g in client.get("/v1/graphs").json()["items"]}
        assert graphs["echo"]["kind"] == "function" and graphs["echo"]["nodes"] == []
        assert graphs["echo"]["description"] == "Return the input with the attempt that ran it."
        assert graphs["pipeline"]["kind"] == "graph"

        task = submit(client, "echo", input={"n": 1})
        assert task["state"] == "queued"
        response = client.post(f"/v1/tasks/{task['id']}/messages", json={"message": "again"})
        assert response.status_code == 409
        problem = response.json()
        assert problem["type"].endswith("/function-task")
        assert "no thread to continue" in problem["detail"]
