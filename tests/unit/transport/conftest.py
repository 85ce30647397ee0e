from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.transport.pki import Pki, make_pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def missing(tmp_path: Path) -> Path:
    """A path where no file is (a Secret that was not mounted)."""
    return tmp_path / "not-mounted" / "file.pem"
