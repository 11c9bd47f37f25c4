"""Damaged files never crash lsmdb and never make it serve a wrong value.

A real database directory (SSTables in several levels, a MANIFEST with many edits, a WAL
segment holding unflushed writes, OPTIONS, CONTRACT, CURRENT) is built once. Each case copies
it, damages one file (flip bytes, truncate, zero a range: SQLite's rule that a malformed file
never crashes the reader), then a worker subprocess opens the copy and reads everything (a
forward scan, a reverse scan and a get of every key). Every case runs on two variants of
the database: ``fresh`` (as built, its last writes only in the WAL) and ``reopened`` (opened
and closed once: the WAL replayed into a new table, the WAL empty, a new MANIFEST whose last
record installs that table). Allowed outcomes:

- ``CorruptionError`` whose message names the damaged file (``ContractError`` for CONTRACT);
- the exact right answer (damage in bytes nothing reads);
- for WAL damage: the state after a prefix of the WAL's writes (a torn tail is what a
  crash leaves; it is dropped under the default ``wal_recovery``);

never a segfault, hang, other exception type, or a value the model does not have, and an
open that fails deletes no table. The worker
is one long-lived subprocess fed case after case; if it dies, the case it was running is the
culprit and a new worker takes over.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import zlib

import pytest

LONG = bool(os.environ.get("LSMDB_LONG"))
CASES_PER_KIND = 250 if LONG else 40
_SHM = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
WORKER_TIMEOUT = 60


# ---------------------------------------------------------------------------- worker side


def _worker() -> None:
    """Read one directory per stdin line, answer one JSON line per directory."""
    import lsmdb
    from lsmdb.errors import ContractError, CorruptionError, StorageIOError

    for line in sys.stdin:
        path = line.strip()
        out: dict
        sst_dir = os.path.join(path, "sst")
        tables = set(os.listdir(sst_dir))
        phase = "open"
        try:
            db = lsmdb.open(path, inline_background=True)
            phase = "read"
            try:
                scan = dict(db.items())
                rscan = dict(db.items(reverse=True))
                keys = json.loads(open(os.path.join(os.path.dirname(path), "keys.json")).read())
                gets = {k: db.get(bytes.fromhex(k)) for k in keys}
                consistent = scan == rscan and all(
                    (v is None and bytes.fromhex(k) not in scan)
                    or scan.get(bytes.fromhex(k)) == v for k, v in gets.items())
                out = {"status": "ok", "consistent": consistent,
                       "items": {k.hex(): v.hex() for k, v in scan.items()}}
            finally:
                db.close()
        except CorruptionError as exc:
            out = {"status": "CorruptionError", "msg": str(exc)}
        except ContractError as exc:
            out = {"status": "ContractError", "msg": str(exc)}
        except StorageIOError as exc:
            out = {"status": "StorageIOError", "msg": str(exc)}
        except Exception as exc:  # the parent fails the case: not a documented error
            out = {"status": "unexpected", "msg": f"{type(exc).__name__}: {exc}"}
        out["phase"] = phase
        out["deleted"] = sorted(tables - set(os.listdir(sst_dir)))
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


class Worker:
    def __init__(self):
        self.proc = None

    def _start(self):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, cwd=os.path.dirname(os.path.abspath(__file__)))

    def run(self, path: str) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        self.proc.stdin.write(path + "\n")
        self.proc.stdin.flush()
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        if not sel.select(WORKER_TIMEOUT):
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            return {"status": "hang"}
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            self.proc = None
            return {"status": "died", "msg": f"worker exit code {code}"}
        return json.loads(line)

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(10)


# ---------------------------------------------------------------------------- the database


def _build(root: str, variant: str) -> dict:
    """Build the pristine DB; returns the models (flushed state + WAL writes in order).
    ``reopened``: opened and closed once more, so the WAL writes are in a table."""
    import lsmdb
    from lsmdb.testing.presets import small_options

    path = os.path.join(root, "db")
    rng = random.Random(99)
    model: dict[bytes, bytes] = {}
    keys = [b"key%05d" % i for i in range(1500)]
    opts = small_options(memtable_bytes=96 << 10)
    with lsmdb.open(path, opts, inline_background=True) as db:
        for i in range(5000):
            k = rng.choice(keys)
            if rng.random() < 0.9:
                v = b"v%d-" % i + bytes(rng.randrange(256) for _ in range(rng.randrange(60)))
                db.put(k, v)
                model[k] = v
            else:
                db.delete(k)
                model.pop(k, None)
            if i == 3000:
                db.compact_range(None, None)
        db.flush()
        base = dict(model)
        wal_ops = []
        for i in range(450):  # ~45 KiB of WAL: two log blocks, never flushed
            k = rng.choice(keys)
            v = b"w%d-" % i + b"q" * 80
            db.put(k, v)
            wal_ops.append((k, v))
        levels = [len(files) for files in db._versions.current.levels]
    assert sum(1 for n in levels if n) >= 2, levels
    if variant == "reopened":
        with lsmdb.open(path, inline_background=True):
            pass
        assert not any(os.path.getsize(os.path.join(path, "wal", n))
                       for n in os.listdir(os.path.join(path, "wal")))
        base, wal_ops = _final({"base": base, "wal_ops": wal_ops}), []
    with open(os.path.join(root, "keys.json"), "w") as f:
        json.dump([k.hex() for k in keys], f)
    return {"path": path, "base": base, "wal_ops": wal_ops, "levels": levels}


@pytest.fixture(scope="module", params=["fresh", "reopened"])
def pristine(request):
    root = tempfile.mkdtemp(prefix="lsmdb-corrupt-", dir=_SHM)
    info = _build(root, request.param)
    worker = Worker()
    info["worker"] = worker
    info["root"] = root
    check = os.path.join(root, "check", "db")  # opening replays and rewrites: use a copy
    shutil.copytree(info["path"], check)
    shutil.copy(os.path.join(root, "keys.json"), os.path.dirname(check))
    result = worker.run(check)
    assert result["status"] == "ok" and result["consistent"], result
    assert _decode(result) == _final(info)
    yield info
    worker.close()
    shutil.rmtree(root, ignore_errors=True)


def _final(info, wal_prefix: int | None = None) -> dict:
    model = dict(info["base"])
    for k, v in info["wal_ops"][:wal_prefix]:
        model[k] = v
    return model


def _decode(result) -> dict:
    return {bytes.fromhex(k): bytes.fromhex(v) for k, v in result["items"].items()}


def _files(path: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"sst": [], "wal": [], "manifest": [], "current": [],
                                 "options": [], "contract": []}
    for name in sorted(os.listdir(os.path.join(path, "sst"))):
        out["sst"].append(os.path.join("sst", name))
    for name in sorted(os.listdir(os.path.join(path, "wal"))):
        out["wal"].append(os.path.join("wal", name))
    for name in sorted(os.listdir(path)):
        if name.startswith("MANIFEST-"):
            out["manifest"].append(name)
        elif name == "CURRENT":
            out["current"].append(name)
        elif name.startswith("OPTIONS-"):
            out["options"].append(name)
        elif name == "CONTRACT":
            out["contract"].append(name)
    return out


# ---------------------------------------------------------------------------- damage


def damage(data: bytes, how: str, rng: random.Random, region: str) -> bytes:
    """Return damaged bytes. region: "any", "head" (first 90 %) or "tail" (last 64 bytes)."""
    n = len(data)
    if n == 0:
        return b"garbage"
    if region == "tail":
        lo, hi = max(0, n - 64), n
    elif region == "head":
        lo, hi = 0, max(1, n * 9 // 10)
    else:
        lo, hi = 0, n
    buf = bytearray(data)
    if how == "flip":
        for _ in range(rng.choice((1, 1, 2, 8))):
            i = rng.randrange(lo, hi)
            buf[i] ^= 1 << rng.randrange(8)
    elif how == "zero":
        i = rng.randrange(lo, hi)
        j = min(n, i + rng.choice((1, 4, 16, 200, 5000)))
        buf[i:j] = bytes(j - i)
    elif how == "truncate":
        del buf[rng.randrange(lo, hi):]
    elif how == "garbage":
        i = rng.randrange(lo, hi)
        j = min(n, i + rng.randrange(1, 64))
        buf[i:j] = bytes(rng.randrange(256) for _ in range(j - i))
    if bytes(buf) == data:  # e.g. zeroing zeros: force a change
        buf[lo] ^= 0xFF
    return bytes(buf)


def _check(info, kind: str, rel: str, result: dict, case: str, tally) -> str:
    status = result["status"]
    assert status not in ("died", "hang", "unexpected"), f"{case}: {result}"
    if result["phase"] == "open" and status != "ok":
        assert not result["deleted"], f"{case}: a failed open deleted tables: {result}"
    if status == "ok":
        assert result["consistent"], f"{case}: scans and gets disagree"
        got = _decode(result)
        if kind == "wal":
            for j in range(len(info["wal_ops"]), -1, -1):
                if got == _final(info, j):
                    return "ok-prefix" if j < len(info["wal_ops"]) else "ok"
            raise AssertionError(f"{case}: state is not any WAL prefix")
        if got != _final(info):
            wrong = sorted(k for k in set(got) | set(_final(info))
                           if got.get(k) != _final(info).get(k))
            raise AssertionError(f"{case}: WRONG ANSWER, {len(wrong)} keys differ "
                                 f"(e.g. {wrong[:3]})")
        return "ok"
    if kind == "contract":
        assert status == "ContractError", f"{case}: {result}"
        return status
    assert status == "CorruptionError", f"{case}: {result}"
    name = os.path.basename(rel)
    if kind == "current":
        assert "CURRENT" in result["msg"] or "MANIFEST" in result["msg"], f"{case}: {result}"
    else:
        assert name in result["msg"], f"{case}: message does not name {name}: {result}"
    return status


KINDS = ("sst", "manifest", "current", "wal", "options", "contract")


@pytest.mark.parametrize("kind", KINDS)
def test_damaged_file_gives_corruption_error_or_right_answer(kind, pristine, tally):
    files = _files(pristine["path"])[kind]
    assert files, kind
    rng = random.Random(zlib.crc32(kind.encode()))
    outcomes: dict[str, int] = {}
    hows = ("flip", "zero", "truncate", "garbage")
    regions = ("any", "head", "tail")
    for i in range(CASES_PER_KIND):
        rel = files[i % len(files)] if kind != "sst" else rng.choice(files)
        how, region = hows[i % len(hows)], regions[(i // len(hows)) % len(regions)]
        case_dir = os.path.join(pristine["root"], f"case-{kind}-{i}")
        path = os.path.join(case_dir, "db")
        shutil.copytree(pristine["path"], path)
        shutil.copy(os.path.join(pristine["root"], "keys.json"), case_dir)
        target = os.path.join(path, rel)
        with open(target, "rb") as f:
            data = f.read()
        with open(target, "wb") as f:
            f.write(damage(data, how, rng, region))
        case = f"{kind} case {i}: {how} {region} of {rel} ({len(data)} bytes)"
        result = pristine["worker"].run(path)
        outcome = _check(pristine, kind, rel, result, case, tally)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        tally[f"corruption cases: {kind} -> {outcome}"] += 1
        shutil.rmtree(case_dir, ignore_errors=True)
    if kind in ("sst", "manifest") or (kind == "wal" and pristine["wal_ops"]):
        assert outcomes.get("CorruptionError"), outcomes  # damage there is detected


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    _worker()


def test_manifest_cut_at_a_record_boundary_is_detected_by_the_sequence_gap(tmp_path):
    """A MANIFEST truncated exactly after a record passes every checksum; the WAL then
    continues from a sequence far past the MANIFEST's last one, which recovery reports
    (the strict WAL modes) instead of opening without the tables of the lost records."""
    import lsmdb
    from lsmdb.errors import CorruptionError
    from lsmdb.testing.presets import small_options

    path = tmp_path / "db"
    with lsmdb.open(path, small_options(), inline_background=True) as db:
        for i in range(3000):
            db.put(b"k%05d" % i, b"v" * 30)
        db.flush()
        for i in range(50):  # left in the WAL
            db.put(b"w%03d" % i, b"x")
    name = (path / "CURRENT").read_text().strip()
    data = (path / name).read_bytes()
    first = 7 + int.from_bytes(data[4:6], "little")  # header: crc32, length, type
    assert first < len(data)
    (path / name).write_bytes(data[:first])
    with pytest.raises(CorruptionError, match="MANIFEST is missing records") as info:
        lsmdb.open(path, small_options(), inline_background=True)
    assert name in str(info.value)
    # The lossy modes accept the loss by design and open.
    lossy = small_options(wal_recovery="point_in_time")
    with lsmdb.open(path, lossy, inline_background=True) as db:
        assert db.get(b"w000") == b"x"
