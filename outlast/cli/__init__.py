"""Operator tooling: the `outlast` command and the local process manager behind `make start`.

    app.py              the command: run one process, manage the database, mount the rest
    stack.py            `outlast stack ...`: the whole local stack as background processes
    supervisor.py       what each managed process runs, its pid file and log, start and stop
    client_commands.py  `outlast tasks | dead-letters | approvals ...`: the REST API from the shell

Nothing but this package imports it (an import-linter contract in pyproject.toml): graph
authors, the client and the processes never depend on the tooling. It is also the one part of
`outlast` that imports the processes it starts (worker, reaper).
"""

from __future__ import annotations

from outlast.cli.app import main

__all__ = ["main"]
