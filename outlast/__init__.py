"""Outlast: a Postgres-native durable runtime for long-running LangGraph agent tasks.

The public Python API (docs/python-api.md): `outlast.context`, `outlast.human`, `outlast.tools`
and `outlast.errors` for graph authors, `outlast.client` for programs that call the REST API
(its `Client` and `AsyncClient` are also `outlast.Client` and `outlast.AsyncClient`); each
lists its names in `__all__`. The other modules are the runtime the processes share,
`outlast.graphs` holds the built-in example graphs, and `outlast.cli` is the `outlast` command.
"""

from outlast.client import AsyncClient, Client

__all__ = ["AsyncClient", "Client"]
__version__ = "0.1.0"
