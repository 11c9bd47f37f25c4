import pytest

from lsmdb import StorageEngine, StorageOptions, WalCommitPolicy, WalConfig
from lsmdb.testing.presets import small_options


def open_durable(path, policy=WalCommitPolicy.NEVER):
    return StorageEngine(StorageOptions(wal_config=WalConfig(dir=str(path)),
                                       wal_commit_policy=policy, lsm_options=small_options()))


@pytest.fixture(params=["memory", "lsm"])
def engine(request, tmp_path):
    eng = StorageEngine.new_without_wal() if request.param == "memory" else open_durable(
        tmp_path / "db")
    yield eng
    eng.close()


@pytest.fixture
def mem():
    eng = StorageEngine.new_without_wal()
    yield eng
    eng.close()


@pytest.fixture
def accounts(engine):
    """``engine`` with table accounts(id BIGINT PK, owner TEXT, balance BIGINT) and an index
    on balance."""
    engine.create_table("accounts", [("id", "BIGINT", False), ("owner", "TEXT"),
                                     ("balance", "BIGINT")], primary_key="id")
    engine.create_index("accounts", ["balance"], name="by_balance")
    return engine


@pytest.fixture
def reopen():
    """open_durable(path, policy=NEVER): a durable engine with small LSM options."""
    return open_durable
