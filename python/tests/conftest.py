"""Shared helpers: the cross-language fixtures in tests/fixtures of the repository."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
T0 = datetime(2024, 5, 3, 14, 0, tzinfo=timezone.utc)


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES
