"""Engine counters behind StorageEngine.metrics() (plain ints: updated on hot paths)."""

from __future__ import annotations

__all__ = ["EngineCounters"]


class EngineCounters:
    __slots__ = ("rows_read", "rows_written", "committed", "aborted", "serialization_failures",
                 "checkpoints")

    def __init__(self) -> None:
        self.rows_read = 0
        self.rows_written = 0
        self.committed = 0
        self.aborted = 0
        self.serialization_failures = 0
        self.checkpoints = 0
