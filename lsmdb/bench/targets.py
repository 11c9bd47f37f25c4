"""The engines a run drives: lsmdb (:class:`LsmdbTarget`) and its RocksDB peer
(:class:`~lsmdb.bench.rocks.RocksTarget`), behind one small interface."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from lsmdb.bench.config import BenchConfig
from lsmdb.bench.range_read import seek_read
from lsmdb.bench.rocks import RocksTarget
from lsmdb.options import Options

__all__ = ["LsmdbTarget", "make_target"]


class LsmdbTarget:
    """lsmdb behind the small interface the runner drives (rocks.RocksTarget mirrors it)."""

    engine = "lsmdb"

    def __init__(self, path: str, options: Options, inline: bool = False):
        import lsmdb

        self.path = path
        self.options = options
        self.db = lsmdb.open(path, options, inline_background=inline)
        self.put = self.db.put
        self.get = self.db.get
        self.delete = self.db.delete

    def put_sync(self, key: bytes, value: bytes) -> None:
        self.db.put(key, value, sync=True)

    def write_pairs(self, pairs: list[tuple[bytes, bytes]]) -> None:
        with self.db.write_batch() as wb:
            put = wb.put
            for k, v in pairs:
                put(k, v)

    def delete_range(self, start: bytes, end: bytes) -> None:
        self.db.delete_range(start, end)

    def scan(self) -> Iterator[tuple[bytes, bytes]]:
        return self.db.items()

    def new_iterator(self):
        return self.db.iterator()

    seek_read = staticmethod(seek_read)

    def flush(self) -> None:
        self.db.flush()

    def read_counters(self) -> dict[int, tuple[int, int, int, int, int]]:
        """Per table file: (bloom checks, bloom negatives, bloom false positives, data blocks
        read from disk, data block cache hits) since the table was opened."""
        out = {}
        for r in self.db.open_table_readers():
            out[getattr(r, "file_number", id(r))] = (
                getattr(r, "bloom_checks", 0), getattr(r, "bloom_negatives", 0),
                getattr(r, "bloom_false_positives", 0), getattr(r, "data_blocks_read", 0),
                getattr(r, "cache_hits", 0))
        return out

    def final_stats(self) -> dict[str, Any]:
        stats = self.db.stats(exact=True)
        out = stats.to_dict()
        predicted = getattr(stats, "predicted", None)
        if predicted is not None:
            out["predicted"] = _plain(predicted)
        return out

    def settings(self) -> dict[str, Any]:
        return self.options.to_dict()

    def version(self) -> str:
        import lsmdb

        return lsmdb.__version__

    def close(self) -> None:
        self.db.close()


def _plain(obj: Any) -> Any:
    """A JSON-ready form of a stats object (dataclass, object with to_dict, or mapping)."""
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (int, float, str, bool)) or obj is None:
        return obj
    return repr(obj)


def make_target(cfg: BenchConfig, path: str, options: Options):
    """The engine ``cfg.engine`` names, opened (created) at ``path``."""
    if cfg.engine == "rocksdb":
        return RocksTarget(path, options)
    return LsmdbTarget(path, options, inline=cfg.inline)
