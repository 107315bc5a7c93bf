"""The web console: server-rendered pages served by the API process at /console (docs/console.md).
It reads and acts only through the API (console.upstream) and imports no process package."""

from console.app import create_console

__all__ = ["create_console"]
