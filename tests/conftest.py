"""Shared fixtures: where the real recordings made by others live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real third-party recordings (``../shared/data`` beside the checkout)."""
    path = Path(os.environ.get("EMGSPASM_SHARED_DATA", REPO.parent / "shared" / "data"))
    assert path.is_dir(), f"real test data not found at {path}; set EMGSPASM_SHARED_DATA"
    return path
