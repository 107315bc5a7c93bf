"""A worker loads the vendors' SDKs in a thread at start (outlast.models.discovery.warm_up), so
that its first model call does not hold its event loop, and its heartbeats, while an SDK
imports (a second or two, more on a loaded machine: longer than a test lease)."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import asyncio, json, sys, threading

imported = {}

class Spy:
    def find_spec(self, name, path=None, target=None):
        if name in ("anthropic", "openai", "genai_prices") and name not in imported:
            imported[name] = threading.current_thread() is threading.main_thread()
        return None

sys.meta_path.insert(0, Spy())
from outlast.models.discovery import warm_up
from outlast.settings import load

async def main():
    return await asyncio.to_thread(warm_up, load())

loaded = asyncio.run(main())
print(json.dumps({"loaded": loaded, "on_main_thread": imported}))
"""


def probe(env: dict[str, str]) -> dict[str, object]:
    clean = {k: v for k, v in __import__("os").environ.items() if not k.endswith("_API_KEY")}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_the_sdks_of_configured_providers_load_off_the_event_loop() -> None:
    result = probe({"OPENAI_API_KEY": "sk-test"})
    assert result["loaded"] == ["outlast.models.openai", "genai_prices"]
    # Imported, and in the worker thread, not on the loop's (main) thread.
    assert result["on_main_thread"] == {"openai": False, "genai_prices": False}


def test_nothing_is_loaded_without_a_key() -> None:
    result = probe({})
    assert result["loaded"] == [] and result["on_main_thread"] == {}
