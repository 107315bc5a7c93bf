"""Progress bars for the CLI's long operations (migrations, bulk redrive, batch submit).

A bar is drawn by rich on stderr, and only when stderr is a terminal: a script that runs the
same command sees no bar and no control characters, and stdout keeps only the result.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

Advance = Callable[[int], None]


@contextmanager
def bar(description: str, total: int) -> Iterator[Advance]:
    """`advance(n)` moves the bar on by n of `total`; a no-op when stderr is not a terminal."""
    console = Console(stderr=True)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not sys.stderr.isatty(),
    )
    with progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)
