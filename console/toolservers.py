"""The tool servers page: a tenant's MCP servers with their tools and health; register one,
refresh one, remove one (confirmed). Every read and action is the API's /v1/tool-servers with
the signed-in key (scope agents:admin); the bearer token goes to the API and is never shown."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from console.pages import _items, back
from console.session import Caller

if TYPE_CHECKING:
    from console.app import Console

PAGE = "/console/tool-servers"


async def servers_page(console: Console, request: Request, caller: Caller) -> Response:
    answer = await console.upstream.call(caller.key, "GET", "/v1/tool-servers")
    items = _items(answer)
    return console.render(request, "tool_servers.html", caller, answer=answer, items=items)


async def server_add(
    console: Console, request: Request, caller: Caller, fields: dict[str, str]
) -> Response:
    body = {"name": fields.get("name", "").strip(), "url": fields.get("url", "").strip()}
    if fields.get("token"):
        body["token"] = fields["token"].strip()
    answer = await console.upstream.call(caller.key, "POST", "/v1/tool-servers", json=body)
    if not answer.ok:
        return back(PAGE, error=answer.detail)
    tools = len(answer.body.get("tools") or [])
    return back(PAGE, notice=f"Tool server {body['name']} registered with {tools} tools.")


async def server_action(
    console: Console, request: Request, caller: Caller, fields: dict[str, str]
) -> Response:
    name, verb = request.path_params["name"], request.path_params["verb"]
    path = f"/v1/tool-servers/{quote(name, safe='')}"
    if verb == "remove":
        answer = await console.upstream.call(caller.key, "DELETE", path)
        done = f"Tool server {name} removed."
    elif verb == "refresh":
        answer = await console.upstream.call(caller.key, "POST", f"{path}/refresh")
        done = f"Tool server {name} refreshed."
    else:
        return Response("unknown action", 404)
    return back(PAGE, notice=done) if answer.ok else back(PAGE, error=answer.detail)
