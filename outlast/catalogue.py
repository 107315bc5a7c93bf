"""The tools an agent may be allowed (an agent's `allowed_tools` names only these). One list,
so the tools issue adds a tool here and every check follows. `request_human_input` is in
outlast/tools.py; the others arrive with the tools issue."""

from __future__ import annotations

TOOLS = ("calculator", "read_url", "request_human_input", "create_text_artifact")
