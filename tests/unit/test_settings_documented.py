"""Every setting is documented in the one table in docs/operations.md, and nothing else is."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import AliasChoices

from outlast.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs/operations.md"


def env_name(field: str) -> str:
    """The variable a field is read from: its alias (the first, if several), else OUTLAST_*."""
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, str):
        return alias
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        return alias.choices[0]
    return f"OUTLAST_{field.upper()}"


def test_settings_table_matches_the_settings_class() -> None:
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", DOC.read_text(), re.M))
    fields = {env_name(name) for name in Settings.model_fields}
    assert fields <= documented, f"undocumented: {sorted(fields - documented)}"
    extra = (
        documented
        - fields
        - {
            "OUTLAST_API_URL",
            "OUTLAST_API_KEY",
            "OUTLAST_SOAK_TASKS",
            "OUTLAST_SOAK_KILLS",
            "OUTLAST_SOAK_SEED",
        }
    )
    assert not extra, f"documented but not settings: {sorted(extra)}"


def test_bad_setting_is_refused_with_its_name(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OUTLAST_LEASE_TTL_S", "-1")
    try:
        Settings()
    except ValueError as exc:
        assert "lease_ttl_s" in str(exc)
    else:
        raise AssertionError("a negative lease TTL was accepted")
