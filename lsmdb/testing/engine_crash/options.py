"""Constants and engine options shared by the crash loop's child, checker and parent."""

from __future__ import annotations

INITIAL_BALANCE = 1000
KILL_MODES = ("none", "random", "mixed")
_ID_GEN = 10 ** 12  # transfer id = gen * _ID_GEN + (thread + 1) * _ID_THREAD + seq
_ID_THREAD = 10 ** 9
# Visits of each kill point in about a second of the workload (small memtables): a
# kill-point trial dies at a visit drawn from [1, hint].
_VISIT_HINTS = {"wal.append:before": 200, "wal.append:after": 200, "wal.sync:before": 20,
                "wal.sync:after": 20}
_DEFAULT_HINT = 2


def parse_policy(text: str):
    """``always`` | ``never`` | ``every:N`` -> WalCommitPolicy."""
    from lsmdb import WalCommitPolicy
    from lsmdb.errors import InvalidArgumentError

    t = text.strip().lower()
    if t == "always":
        return WalCommitPolicy.ALWAYS
    if t == "never":
        return WalCommitPolicy.NEVER
    if t.startswith("every:") and t[6:].isdigit():
        return WalCommitPolicy.every(int(t[6:]))
    raise InvalidArgumentError(f"commit policy is always, never or every:N, not {text!r}")


def _engine_options(path: str, policy: str):
    from lsmdb import StorageOptions, WalConfig
    from lsmdb.testing.presets import small_options

    # Small memtables and files: a second of transfers goes through flushes and compactions.
    return StorageOptions(wal_config=WalConfig(dir=path), wal_commit_policy=parse_policy(policy),
                          lsm_options=small_options())
