"""When a WAL commit is fsynced: ALWAYS, every(n) commits, or NEVER.

``WalCommitPolicy`` is parsed once from ``Options.wal_sync`` (``"always"``, ``"never"``,
``"every(N)"``) and is immutable; the DB's write leader asks its :class:`CommitSchedule`
(the policy plus a running commit count) whether the commit it is about to write is synced.
A writer's explicit ``sync=True`` always syncs and does not count toward every(n); an
explicit ``sync=False`` is never synced by ALWAYS (which only sets the default).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from lsmdb.options import every, parse_wal_sync


@dataclass(frozen=True)
class WalCommitPolicy:
    """How many commits share one fsync: 1 (ALWAYS), n (every(n)) or 0 (NEVER)."""

    commits_per_sync: int

    ALWAYS: ClassVar[WalCommitPolicy]
    NEVER: ClassVar[WalCommitPolicy]

    @classmethod
    def every(cls, n: int) -> WalCommitPolicy:
        """Fsync every ``n``-th commit (InvalidArgumentError unless 1 <= n <= the options'
        bound)."""
        return cls(parse_wal_sync(every(n)))

    @classmethod
    def from_wal_sync(cls, text: str) -> WalCommitPolicy:
        """The policy an ``Options.wal_sync`` value names (InvalidArgumentError if none)."""
        return cls(parse_wal_sync(text))

    @property
    def syncs_by_default(self) -> bool:
        """Whether a write that says nothing (``sync=None``) is fsynced: ALWAYS only."""
        return self.commits_per_sync == 1

    @property
    def never_syncs(self) -> bool:
        """NEVER: only writes that ask (``sync=True``) are fsynced; close does not sync."""
        return self.commits_per_sync == 0

    def __repr__(self) -> str:
        if self.commits_per_sync == 1:
            return "WalCommitPolicy.ALWAYS"
        if self.commits_per_sync == 0:
            return "WalCommitPolicy.NEVER"
        return f"WalCommitPolicy.every({self.commits_per_sync})"

    def to_wal_sync(self) -> str:
        """The ``Options.wal_sync`` text of this policy (round-trips ``from_wal_sync``)."""
        if self.commits_per_sync == 1:
            return "always"
        if self.commits_per_sync == 0:
            return "never"
        return every(self.commits_per_sync)

    def schedule(self) -> CommitSchedule:
        """A fresh commit count under this policy (one per DB: it spans WAL segments)."""
        return CommitSchedule(self)


WalCommitPolicy.ALWAYS = WalCommitPolicy(1)
WalCommitPolicy.NEVER = WalCommitPolicy(0)


class CommitSchedule:
    """A policy and the commits written since the last fsync it asked for. Not thread-safe:
    only the write leader (under the DB's mutex) asks it. The policy's two answers are
    copied to plain attributes: the write path reads them on every write."""

    __slots__ = ("policy", "syncs_by_default", "never_syncs", "_commits_per_sync",
                 "_unsynced_commits")

    def __init__(self, policy: WalCommitPolicy):
        self.policy = policy
        self.syncs_by_default = policy.syncs_by_default
        self.never_syncs = policy.never_syncs
        self._commits_per_sync = policy.commits_per_sync
        self._unsynced_commits = 0

    def commit_needs_sync(self, requested: bool, commits: int = 1) -> bool:
        """Whether the write about to be made is fsynced; ``requested``: one of the writers
        in it asked for a sync (``sync=True``, or ``None`` under ALWAYS). ``commits``: how
        many commits the write carries toward every(n) (the DB's write group counts as one;
        the storage engine's group carries one per transaction)."""
        if requested:
            return True
        n = self._commits_per_sync
        if n > 1:
            self._unsynced_commits += commits
            if self._unsynced_commits >= n:
                self._unsynced_commits = 0
                return True
        return False
