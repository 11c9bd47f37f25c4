"""RocksDB (through rocksdict) configured to the shape of an lsmdb :class:`~lsmdb.Options`.

``lsmdb bench --engine rocksdb`` runs the same workloads, keys and values on RocksDB so the
two engines' amplification can be compared on one configuration. The mapping:

====================================  =====================================================
lsmdb option                          RocksDB option
====================================  =====================================================
memtable_bytes                        write_buffer_size
max_immutable_memtables               max_write_buffer_number = value + 1
block_bytes, block_restart_interval   BlockBasedTableOptions block_size, restart interval
compression.kind / level              zstd (at that level) or none
bloom.bits_per_key                    full (non block-based) bloom filter, same bits/key;
                                      0 = no filter. RocksDB has one bits/key for every
                                      level, so ``allocation="monkey"`` is run as uniform
block_cache_bytes                     LRU block cache of that size; 0 = no block cache
wal_sync                              "always" = WriteOptions.sync; "never" and every(N)
                                      run unsynced (RocksDB has no every-N policy)
compaction.style "leveled"            level compaction: size_ratio = max_bytes_for_level_
                                      multiplier, base_level_bytes = max_bytes_for_level_
                                      base, dynamic_level_bytes = level_compaction_dynamic_
                                      level_bytes, target_file_bytes = target_file_size_
                                      base, max_levels = num_levels, l0_trigger/slowdown/
                                      stop = level0_* triggers
compaction.style "tiered"             universal compaction: T runs of similar size are
                                      merged together (min_merge_width = T and the sorted-
                                      run trigger level0_file_num_compaction_trigger =
                                      max(l0_trigger, T)); max_space_amp = 1 + max_size_
                                      amplification_percent / 100
compaction.soft/hard_pending_         soft/hard_pending_compaction_bytes_limit (RocksDB's
compaction_bytes                      64/256 GiB defaults when None); the delayed write
                                      rate stays RocksDB's 16 MiB/s
compaction.style "fifo"               FIFO compaction, max_table_files_size =
                                      base_level_bytes
"lazy_leveling", "fluid"              no RocksDB equivalent: refused
====================================  =====================================================

Write amplification comes from RocksDB's own statistics (``Options.enable_statistics``):
(WAL + flush + compaction bytes written) / user bytes written, the formula lsmdb uses. Space
amplification is the SST bytes on disk over the live user bytes counted by a full scan.
Read amplification per lookup comes from the bloom and block-cache tickers.

rocksdict keeps the filter policy on reopen only when the options are also passed as
``column_families={"default": opts}``, so the DB is always opened that way.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from typing import Any

from lsmdb.bench.range_read import seek_read
from lsmdb.errors import InvalidArgumentError
from lsmdb.options import Options

__all__ = ["RocksTarget", "rocks_options", "parse_statistics", "parse_level_stats",
           "parse_stall_counts"]

_TICKER_RE = re.compile(r"^(rocksdb\.[\w.\-]+) COUNT : (\d+)", re.M)
_SIZE_UNITS = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}


def _rocksdict():
    try:
        import rocksdict
    except ImportError:
        raise InvalidArgumentError(
            "--engine rocksdb needs the rocksdict package (pip install rocksdict)") from None
    return rocksdict


def rocks_options(options: Options) -> tuple[Any, dict[str, Any]]:
    """(rocksdict.Options, the settings applied as a dict for the report)."""
    rd = _rocksdict()
    c = options.compaction
    opts = rd.Options(raw_mode=True)
    opts.create_if_missing(True)
    opts.enable_statistics()
    settings: dict[str, Any] = {}

    def apply(name: str, method: str, value: Any) -> None:
        getattr(opts, method)(value)
        settings[name] = value

    apply("write_buffer_size", "set_write_buffer_size", options.memtable_bytes)
    apply("max_write_buffer_number", "set_max_write_buffer_number",
          options.max_immutable_memtables + 1)
    if options.compression.kind == "zstd":
        opts.set_compression_type(rd.DBCompressionType.zstd())
        level = options.compression.level
        with contextlib.suppress(TypeError, AttributeError):
            opts.set_compression_options(-14, level, 0, 0)
            settings["compression_level"] = level
        settings["compression"] = "zstd"
    else:
        opts.set_compression_type(rd.DBCompressionType.none())
        settings["compression"] = "none"

    table = rd.BlockBasedOptions()
    table.set_block_size(options.block_bytes)
    table.set_block_restart_interval(options.block_restart_interval)
    settings["block_size"] = options.block_bytes
    bits = options.bloom.bits_for(0)
    if bits > 0:
        table.set_bloom_filter(bits, False)
        settings["bloom_filter"] = {"bits_per_key": bits, "block_based": False}
        if options.bloom.allocation != "uniform" or options.bloom.per_level_bits:
            settings["bloom_note"] = "RocksDB uses one bits/key for all levels"
    if options.block_cache_bytes > 0:
        table.set_block_cache(rd.Cache(options.block_cache_bytes))
        settings["block_cache_bytes"] = options.block_cache_bytes
    else:
        table.disable_cache()
        settings["block_cache_bytes"] = 0
    opts.set_block_based_table_factory(table)

    if c.style == "leveled":
        opts.set_compaction_style(rd.DBCompactionStyle.level())
        settings["compaction_style"] = "level"
        apply("max_bytes_for_level_multiplier", "set_max_bytes_for_level_multiplier",
              float(c.size_ratio))
        if c.size_ratio_per_level:
            extra = [r / c.size_ratio for r in c.size_ratio_per_level]
            apply("max_bytes_for_level_multiplier_additional",
                  "set_max_bytes_for_level_multiplier_additional", extra)
        apply("max_bytes_for_level_base", "set_max_bytes_for_level_base", c.base_level_bytes)
        apply("level_compaction_dynamic_level_bytes",
              "set_level_compaction_dynamic_level_bytes", c.dynamic_level_bytes)
        apply("target_file_size_base", "set_target_file_size_base", c.target_file_bytes)
        apply("num_levels", "set_num_levels", c.max_levels)
        trigger = c.l0_trigger
    elif c.style == "tiered":
        opts.set_compaction_style(rd.DBCompactionStyle.universal())
        uco = rd.UniversalCompactOptions()
        uco.min_merge_width = max(2, c.size_ratio)
        uco.max_size_amplification_percent = round((c.max_space_amp - 1.0) * 100)
        opts.set_universal_compaction_options(uco)
        settings["compaction_style"] = "universal"
        settings["universal"] = {"min_merge_width": uco.min_merge_width,
                                 "max_size_amplification_percent":
                                     uco.max_size_amplification_percent,
                                 "size_ratio_percent": uco.size_ratio}
        apply("target_file_size_base", "set_target_file_size_base", c.target_file_bytes)
        trigger = max(c.l0_trigger, c.size_ratio)
    elif c.style == "fifo":
        opts.set_compaction_style(rd.DBCompactionStyle.fifo())
        fifo = rd.FifoCompactOptions()
        fifo.max_table_files_size = c.base_level_bytes
        opts.set_fifo_compaction_options(fifo)
        settings["compaction_style"] = "fifo"
        settings["fifo_max_table_files_size"] = c.base_level_bytes
        trigger = c.l0_trigger
    else:
        raise InvalidArgumentError(
            f"--style: {c.style} has no RocksDB equivalent; --engine rocksdb runs "
            "leveled, tiered (universal) or fifo")
    slowdown = max(c.l0_slowdown, trigger)
    apply("level0_file_num_compaction_trigger", "set_level_zero_file_num_compaction_trigger",
          trigger)
    apply("level0_slowdown_writes_trigger", "set_level_zero_slowdown_writes_trigger", slowdown)
    apply("level0_stop_writes_trigger", "set_level_zero_stop_writes_trigger",
          max(c.l0_stop, slowdown))
    apply("max_background_jobs", "set_max_background_jobs", max(2, options.background_threads))
    # Compaction-debt stalls: RocksDB's defaults (64 / 256 GiB) unless lsmdb sets a limit. The
    # delayed write rate is not settable through rocksdict: RocksDB uses 16 MiB/s, lsmdb's
    # default too.
    if c.soft_pending_compaction_bytes is not None:
        apply("soft_pending_compaction_bytes_limit", "set_soft_pending_compaction_bytes_limit",
              c.soft_pending_compaction_bytes)
    if c.hard_pending_compaction_bytes is not None:
        apply("hard_pending_compaction_bytes_limit", "set_hard_pending_compaction_bytes_limit",
              c.hard_pending_compaction_bytes)
    settings["wal_sync"] = options.wal_sync == "always"
    return opts, settings


def parse_statistics(text: str | None) -> dict[str, int]:
    """Ticker counts of ``Options.get_statistics()`` text: {"rocksdb.wal.bytes": n, ...}."""
    return {m.group(1): int(m.group(2)) for m in _TICKER_RE.finditer(text or "")}


def parse_level_stats(cfstats: str | None) -> list[dict[str, Any]]:
    """Per-level rows of the "Compaction Stats" table in ``rocksdb.cfstats``."""
    levels: list[dict[str, Any]] = []
    header: list[str] | None = None
    for line in (cfstats or "").splitlines():
        parts = line.split()
        if parts[:2] == ["Level", "Files"]:
            header = parts
            continue
        if header is None or not parts or not re.fullmatch(r"L\d+", parts[0]):
            if levels and parts and parts[0] == "Sum":
                break
            continue
        # "Size" is two tokens in the rows ("958.01 KB"): shift columns after it by one.
        try:
            files = int(parts[1].split("/")[0])
            size = float(parts[2]) * _SIZE_UNITS.get(parts[3], 1)
            wamp = float(parts[header.index("W-Amp") + 1])
        except (ValueError, IndexError):
            continue
        levels.append({"level": int(parts[0][1:]), "files": files, "bytes": int(size),
                       "write_amp": wamp})
    return levels


def parse_stall_counts(cfstats: str | None) -> dict[str, int]:
    """{"slowdown": total delays, "stop": total stops} from the "Write Stall (count)" line
    of ``rocksdb.cfstats``; {} when no stall happened."""
    for line in (cfstats or "").splitlines():
        if line.startswith("Write Stall (count):"):
            counts = dict(re.findall(r"([\w-]+): (\d+)", line))
            out = {"slowdown": int(counts.get("total-delays", 0)),
                   "stop": int(counts.get("total-stops", 0))}
            return {k: v for k, v in out.items() if v}
    return {}


def rocksdict_version(path: str) -> str:
    """"rocksdict X, RocksDB Y", Y read from the OPTIONS file RocksDB wrote in ``path``."""
    from importlib.metadata import version

    rocks = "?"
    with contextlib.suppress(OSError):
        for name in sorted(os.listdir(path)):
            if name.startswith("OPTIONS-"):
                with open(os.path.join(path, name)) as fh:
                    for line in fh:
                        if line.strip().startswith("rocksdb_version="):
                            rocks = line.split("=", 1)[1].strip()
    return f"rocksdict {version('rocksdict')}, RocksDB {rocks}"


class RocksTarget:
    """rocksdict behind the runner's engine interface (see runner.LsmdbTarget)."""

    engine = "rocksdb"

    def __init__(self, path: str, options: Options):
        rd = _rocksdict()
        self.path = path
        self.options = options
        self._opts, self._settings = rocks_options(options)
        self.db = rd.Rdict(path, self._opts, column_families={"default": self._opts})
        self._wopts = rd.WriteOptions()
        self._wopts.sync = options.wal_sync == "always"
        self.db.set_write_options(self._wopts)
        self._sync_opts = rd.WriteOptions()
        self._sync_opts.sync = True
        self._batch = rd.WriteBatch
        self.put = self.db.put
        self.get = self.db.get
        self.delete = self.db.delete

    def put_sync(self, key: bytes, value: bytes) -> None:
        self.db.put(key, value, self._sync_opts)

    def write_pairs(self, pairs: list[tuple[bytes, bytes]]) -> None:
        wb = self._batch(raw_mode=True)
        put = wb.put
        for k, v in pairs:
            put(k, v)
        self.db.write(wb)

    def delete_range(self, start: bytes, end: bytes) -> None:
        self.db.delete_range(start, end)

    def scan(self) -> Iterator[tuple[bytes, bytes]]:
        return iter(self.db.items())

    def new_iterator(self):
        return self.db.iter()

    seek_read = staticmethod(seek_read)  # rocksdict's iterator has lsmdb's protocol

    def flush(self) -> None:
        self.db.flush(True)

    def _tickers(self) -> dict[str, int]:
        return parse_statistics(self._opts.get_statistics())

    def read_counters(self) -> dict[int, tuple[int, int, int, int, int]]:
        t = self._tickers()
        useful = t.get("rocksdb.bloom.filter.useful", 0)
        positive = t.get("rocksdb.bloom.filter.full.positive", 0)
        true_positive = t.get("rocksdb.bloom.filter.full.true.positive", 0)
        return {0: (useful + positive, useful, positive - true_positive,
                    t.get("rocksdb.block.cache.data.miss", 0),
                    t.get("rocksdb.block.cache.data.hit", 0))}

    def final_stats(self) -> dict[str, Any]:
        t = self._tickers()
        user = t.get("rocksdb.bytes.written", 0)
        wal = t.get("rocksdb.wal.bytes", 0)
        flushed = t.get("rocksdb.flush.write.bytes", 0)
        compacted = t.get("rocksdb.compact.write.bytes", 0)
        sst = self.db.property_int_value("rocksdb.total-sst-files-size") or 0
        live = sum(len(k) + len(v) for k, v in self.db.items())
        hits = t.get("rocksdb.block.cache.data.hit", 0)
        misses = t.get("rocksdb.block.cache.data.miss", 0)
        stall_micros = t.get("rocksdb.stall.micros", 0)
        cfstats = self.db.property_value("rocksdb.cfstats")
        return {
            "levels": parse_level_stats(cfstats),
            "user_bytes_written": user,
            "wal_bytes": wal,
            "flush_bytes": flushed,
            "compaction_bytes_read": t.get("rocksdb.compact.read.bytes", 0),
            "compaction_bytes_written": compacted,
            "write_amp": (wal + flushed + compacted) / user if user else 0.0,
            "sst_bytes": sst,
            "live_user_bytes": live,
            "space_amp": sst / live if live else None,
            "space_amp_exact": True,
            "stalls": parse_stall_counts(cfstats),
            "stall_seconds": {"total": stall_micros / 1e6} if stall_micros else {},
            "block_cache_hits": hits,
            "block_cache_misses": misses,
            "block_cache_hit_rate": hits / (hits + misses) if hits + misses else None,
            "tickers": {k: v for k, v in t.items() if v},
        }

    def settings(self) -> dict[str, Any]:
        return dict(self._settings)

    def version(self) -> str:
        return rocksdict_version(self.path)

    def close(self) -> None:
        self.db.close()
