"""Point reads from several threads at once, against a writer and background compactions,
through a block cache small enough that blocks are evicted and re-read all the time."""

import random
import threading

import lsmdb
from lsmdb.testing.presets import small_options


def _value(key: bytes, version: int) -> bytes:
    return key * 3 + b"|%d" % version


def test_concurrent_get_and_multi_get_see_only_written_values(tmp_path):
    keys = [b"key%05d" % i for i in range(3000)]
    db = lsmdb.open(tmp_path / "db", small_options(block_cache_bytes=16 << 10))
    for k in keys:
        db.put(k, _value(k, 0))
    db.flush()
    stop = threading.Event()
    errors: list[BaseException] = []
    reads = [0] * 4

    def reader(n: int) -> None:
        rnd = random.Random(n)
        try:
            while not stop.is_set() or reads[n] < 200:
                if rnd.random() < 0.5:
                    k = rnd.choice(keys)
                    got = [(k, db.get(k))]
                else:
                    ks = rnd.sample(keys, 20)
                    got = list(zip(ks, db.multi_get(ks), strict=True))
                for k, v in got:
                    assert v is not None and v.startswith(k * 3 + b"|"), (k, v)
                reads[n] += 1
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    try:
        for version in range(1, 4):
            for k in keys[::3]:
                db.put(k, _value(k, version))
            db.flush()
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[0]
    want = [_value(k, 3 if i % 3 == 0 else 0) for i, k in enumerate(keys)]
    assert db.multi_get(keys) == want and [db.get(k) for k in keys] == want
    db.close()
