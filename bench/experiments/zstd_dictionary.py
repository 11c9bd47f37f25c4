"""What a per-table zstd dictionary would buy a block cache miss (issue 15, readrandom at
db_bench's 64 MiB cache): compression ratio and decompression time per data block, with and
without a dictionary trained on the table's own blocks (RocksDB's ``max_dict_bytes``).

db_bench's keys and values (``--num``, sorted, seqno 0 as at the bottom level) are cut into
data blocks by lsmdb's own BlockBuilder at each ``--block-sizes``; for each dictionary size
(0 = none, today's format) and zstd level the blocks are compressed, and ``--samples`` random
blocks are decompressed with one ``ZstdDecompressor`` (digested dictionary loaded once, as a
table reader would hold it). Ratio counts the dictionary's bytes. Nothing here changes the
format: it measures whether the change would pay.

    python bench/experiments/zstd_dictionary.py --num 200000 --block-sizes 4096,2048 \\
        --dict-bytes 0,16384,32768 --levels 3 --out bench/results/zstd_dictionary.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # bench/


def cut_blocks(num: int, block_bytes: int) -> list[bytes]:
    """db_bench's first ``num`` keys and values, sorted, as lsmdb data blocks."""
    import db_bench

    from lsmdb._core.block import BlockBuilder
    from lsmdb._core.ikey import PUT, make_internal_key

    cfg = db_bench.Config(num=num, reads=1)
    buf = db_bench.value_buffer(cfg)
    order = sorted(range(num), key=db_bench.key_at)
    blocks, bb = [], BlockBuilder(16)
    for i in order:
        bb.add(make_internal_key(db_bench.key_at(i), 0, PUT),
               db_bench.value_at(buf, cfg.value_size, i, 0))
        if bb.estimated_size >= block_bytes:
            blocks.append(bb.finish())
            bb.reset()
    if not bb.empty:
        blocks.append(bb.finish())
    return blocks


def measure(blocks: list[bytes], dict_bytes: int, level: int, samples: int, seed: int) -> dict:
    import zstandard

    raw = sum(map(len, blocks))
    rng = random.Random(seed)
    if dict_bytes:
        # RocksDB's default training budget is 100x the dictionary.
        budget = min(len(blocks), max(1, 100 * dict_bytes // max(1, raw // len(blocks))))
        d = zstandard.train_dictionary(dict_bytes, rng.sample(blocks, budget), level=level)
        comp = zstandard.ZstdCompressor(level=level, dict_data=d, write_dict_id=False)
        dctx = zstandard.ZstdDecompressor(dict_data=d)
    else:
        comp = zstandard.ZstdCompressor(level=level)
        dctx = zstandard.ZstdDecompressor()
    packed = [comp.compress(b) for b in blocks]
    picks = [rng.randrange(len(packed)) for _ in range(samples)]
    t0 = time.process_time()
    for j in picks:
        dctx.decompress(packed[j])
    per_block = (time.process_time() - t0) / samples
    for j in picks[:50]:  # the round trip holds
        if dctx.decompress(packed[j]) != blocks[j]:
            raise AssertionError("a block did not decompress to itself")
    return {"dict_bytes": dict_bytes, "level": level, "blocks": len(blocks),
            "ratio": (sum(map(len, packed)) + dict_bytes) / raw,
            "decompress_us_per_block": 1e6 * per_block,
            "decompress_us_per_4kib": 1e6 * per_block * 4096 * len(blocks) / raw}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--num", type=int, default=200_000)
    ap.add_argument("--block-sizes", default="4096,2048")
    ap.add_argument("--dict-bytes", default="0,16384,32768")
    ap.add_argument("--levels", default="3")
    ap.add_argument("--samples", type=int, default=30_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", help="JSON report")
    args = ap.parse_args(argv)
    runs = []
    for block_bytes in (int(x) for x in args.block_sizes.split(",")):
        blocks = cut_blocks(args.num, block_bytes)
        for dict_bytes in (int(x) for x in args.dict_bytes.split(",")):
            for level in (int(x) for x in args.levels.split(",")):
                res = measure(blocks, dict_bytes, level, args.samples, args.seed)
                res["block_bytes"] = block_bytes
                runs.append(res)
                print(f"block {block_bytes:5d} dict {dict_bytes:6d} level {level:3d}: ratio "
                      f"{res['ratio']:.3f}  decompress {res['decompress_us_per_block']:.2f} "
                      f"us/block, {res['decompress_us_per_4kib']:.2f} us per 4 KiB decoded",
                      flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"num": args.num, "samples": args.samples, "runs": runs,
                       "loadavg": os.getloadavg()[0]}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
