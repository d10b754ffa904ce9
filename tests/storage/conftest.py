import shutil

import pytest

from snapcal_core.storage.store import init_state
from tests.storage._helpers import STATE


@pytest.fixture
def fresh_home(tmp_path):
    """A calibration home that does not exist yet."""
    return tmp_path / "calibration"


@pytest.fixture(scope="session")
def _initialised_template(tmp_path_factory):
    template = tmp_path_factory.mktemp("template") / "calibration"
    init_state(template, STATE)  # the native v_0000 (1.2 M pixels) is written once per session
    return template


@pytest.fixture
def home(tmp_path, _initialised_template):
    """A calibration home whose test state is already initialised (v_0000 Lite and native)."""
    target = tmp_path / "calibration"
    shutil.copytree(_initialised_template, target)
    return target
