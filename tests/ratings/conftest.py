from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _evidence_storage(settings: object, tmp_path: Path) -> None:
    """Evidence files go to a folder of the test's own."""
    settings.REPORT_EVIDENCE_ROOT = tmp_path / "private"  # type: ignore[attr-defined]
