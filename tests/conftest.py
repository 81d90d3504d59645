import pytest

from labkit.data import prepare_offline
from labkit.settings import load_settings


@pytest.fixture(scope="session")
def settings():
    """The run settings of this test session (the harness sets synthetic + smoke by default)."""
    return load_settings()


@pytest.fixture(scope="session")
def stand_in_root(settings):
    """LAB_DATA_DIR with the full-size stand-in in it (generated once, about 10 s)."""
    prepare_offline(settings.data_dir, quiet=True)
    return settings.data_dir


@pytest.fixture(scope="session")
def small_stand_in(tmp_path_factory):
    """A small stand-in (500 train / 100 test images) in its own folder."""
    root = tmp_path_factory.mktemp("small")
    prepare_offline(root, n_train=500, n_test=100, quiet=True)
    return root
