import pytest

from lsmdb.testing.presets import small_options


@pytest.fixture
def small_opts():
    return small_options()
