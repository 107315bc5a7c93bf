from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.observe import Observer


@pytest.fixture
def observe(db_url: str) -> Iterator[Observer]:
    observer = Observer(db_url)
    yield observer
    observer.close()
