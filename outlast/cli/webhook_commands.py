"""`outlast webhooks ...`: completion webhooks over the REST API (docs/howto/webhooks.md);
list, get, pause, resume and delete come from named_objects.

Output and failures as in client_commands: the API's JSON on stdout (`list`: a table, or
`-o json|yaml`, `--watch N`); a failure is one line on stderr and exit code 2. `create` prints
the webhook with its signing secret, which is shown this once.
"""

from __future__ import annotations

from typing import Annotated

import typer

from outlast.cli.client_commands import Url, api_session, print_json
from outlast.cli.columns import WEBHOOK_COLUMNS
from outlast.cli.named_objects import NamedObjects, named_objects_app
from outlast.client import DEFAULT_URL

webhooks_app = named_objects_app(
    NamedObjects(
        noun="webhook",
        plural="webhooks",
        columns=WEBHOOK_COLUMNS,
        help="Completion webhooks: create, list, get, pause, resume, delete.",
        list_help="List every webhook (-o json|yaml: every field; never the secret).",
        get_help="Print one webhook and its newest deliveries.",
        pause_help="Stop making deliveries (events during the pause are never delivered).",
        resume_help="Make deliveries again, of what happens from now on.",
        delete_help="Delete a webhook (its deliveries not sent yet end without sending).",
    )
)
ALL_EVENTS = "task.completed,task.failed,task.waiting,task.budget_paused"


@webhooks_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Unique in your tenant (a slug).")],
    target: Annotated[str, typer.Argument(metavar="URL", help="The receiver, http(s).")],
    events: Annotated[
        str, typer.Option(help="Comma-separated event types (default: all four).")
    ] = ALL_EVENTS,
    allow_private: Annotated[
        bool, typer.Option(help="Deliver to a private address (the operator's admin key only).")
    ] = False,
    url: Url = DEFAULT_URL,
) -> None:
    """Create a webhook; print it with its signing secret (shown this once: store it)."""
    chosen = [e.strip() for e in events.split(",") if e.strip()]
    with api_session(url) as api:
        print_json(api.create_webhook(name, target, chosen, allow_private=allow_private or None))
