"""Every core module stays pure: no environment, no clock, no files (time and trust are parameters).

Which libraries the core may import is import-linter's to hold (pyproject.toml); what it cannot see
is a read of ``os.environ``, the clock or a file through names already imported.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "bot" / "core"
MODULES = sorted(p.name for p in CORE.glob("*.py") if p.name != "__init__.py")


def test_every_core_module_is_checked() -> None:
    assert {"certificate.py", "checks.py", "reminders.py", "schedule.py"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_core_module_reads_no_environment_clock_or_file(name: str) -> None:
    source = (CORE / name).read_text(encoding="utf-8")
    for forbidden in ("environ", ".now(", ".today(", "open(", "time.time(", "import os"):
        assert forbidden not in source, f"{name} uses {forbidden}"
