"""The stress driver and its expected-state oracle (lsmdb.testing.stress / .oracle).

The driver must verify every read exactly, replay exactly in deterministic mode, survive
power cuts with injected I/O errors, and — so that a green run means something — report a
wrong answer with the seed and the command reproducing it.
"""

from __future__ import annotations

import os
import threading

import pytest

import lsmdb
from lsmdb.cli import main as cli_main
from lsmdb.lsm.db import DB
from lsmdb.lsm.table_writer import is_sentinel
from lsmdb.testing.oracle import (
    ExpectedLog,
    PrefixMismatch,
    find_prefix,
    load_state,
    parse_log,
    read_db_state,
    save_state,
    verify_recovered,
)
from lsmdb.testing.stress import (
    OP_MIX,
    StressConfig,
    StressFailure,
    reproduce_command,
    run_stress,
    writer_of,
)

SHM = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


@pytest.fixture
def work(tmp_path_factory):
    import shutil
    import tempfile

    path = tempfile.mkdtemp(prefix="lsmdb-stress-test-", dir=SHM)
    yield path
    shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------------------- the oracle


def put(k, v):
    return ("put", k, v)


def test_find_prefix_accepts_exactly_the_prefixes():
    entries = [(put(b"a", b"1"), True), (put(b"b", b"2"), True), (("delete", b"a"), True),
               (put(b"c", b"3"), True)]
    assert find_prefix({}, entries, 0) == 0
    assert find_prefix({b"a": b"1", b"b": b"2"}, entries, 0) == 2
    assert find_prefix({b"b": b"2", b"c": b"3"}, entries, 4) == 4
    with pytest.raises(PrefixMismatch, match="durable"):  # a durable write lost
        find_prefix({b"a": b"1", b"b": b"2"}, entries, 3)
    with pytest.raises(PrefixMismatch):  # a hole: op 1 missing, op 3 present
        find_prefix({b"c": b"3"}, entries, 0)
    with pytest.raises(PrefixMismatch):  # a value never written
        find_prefix({b"a": b"9"}, entries, 0)


def test_find_prefix_pending_refused_and_base():
    base = {b"x": b"0"}
    entries = [(put(b"a", b"1"), True), (put(b"b", b"2"), False), (put(b"c", b"3"), None),
               (("range", b"a", b"c"), True)]
    # The maybe-applied write may be in or out; the refused one never.
    assert find_prefix({b"x": b"0"}, entries, 4, base=base) == 2
    assert find_prefix({b"x": b"0", b"a": b"1"}, entries, 1, base=base) == 1
    with pytest.raises(PrefixMismatch):
        find_prefix({b"x": b"0", b"c": b"3"}, entries, 4, base=base)
    assert find_prefix({b"x": b"0", b"a": b"1", b"b": b"2"}, entries, 1, base=base) == 2


def test_parse_log_durability_barriers(tmp_path):
    path = str(tmp_path / "log")
    log = ExpectedLog(path)
    log.intent("t00", 0, put(b"t00.00001", b"v"), False)
    log.ack("t00", 0)
    log.intent("t01", 0, put(b"t01.00001", b"v"), False)
    log.ack("t01", 0)
    log.intent("t01", 1, ("delete", b"t01.00001"), True)  # synced: covers both acks above
    log.intent("t00", 1, put(b"t00.00002", b"v"), False)  # in flight across the sync
    log.ack("t01", 1)
    log.ack("t00", 1)
    log.intent("t00", 2, put(b"t00.00003", b"v"), False)
    bid = log.barrier_start()
    log.barrier_done(bid)  # flush: covers t00's two acks
    log.intent("t00", 3, put(b"t00.00004", b"v"), False)
    log.failed("t00", 3)
    log.intent("t01", 2, ("batch", (put(b"t01.00002", b"w"), ("range", b"t01.0", b"t01.1"))),
               False)
    log.refused("t01", 2)
    log.close()
    with open(path, "a") as f:
        f.write("A t00 2")  # a line without its end (a torn write): ignored
    with open(path) as f:
        hist = parse_log(f.readlines())
    assert hist["t01"].status == [True, True, None]
    assert hist["t01"].barrier_durable == 2
    assert hist["t01"].ops[2] == ("batch", (put(b"t01.00002", b"w"), ("range", b"t01.0",
                                                                       b"t01.1")))
    assert hist["t00"].status == [True, True, False, False]
    assert hist["t00"].barrier_durable == 2
    assert hist["t00"].durable(all_acked=True) == 4
    with pytest.raises(ValueError, match="malformed"):
        parse_log(["A t00 0\n", "I t00 0 0 P 61 62\n"])  # an ack before its intent
    with pytest.raises(ValueError, match="no end"):
        parse_log(["I t00 0 0 P 61 62", "A t00 0\n"])


def test_verify_recovered_names_the_writer(tmp_path):
    lines = [f"I t00 0 0 P {b't00.00001'.hex()} {b'v1'.hex()}\n", "A t00 0\n",
             f"I s 0 0 P {b's.00001'.hex()} {b'v2'.hex()}\n", "A s 0\n"]
    hist = parse_log(lines)
    good = {b"t00.00001": b"v1", b"s.00001": b"v2"}
    res = verify_recovered(good, {}, hist, writer_of, all_acked_durable=True)
    assert res.acked == 2 and res.prefixes == {"s": 1, "t00": 1}
    with pytest.raises(PrefixMismatch, match="writer s"):
        verify_recovered({b"t00.00001": b"v1"}, {}, hist, writer_of, all_acked_durable=True)
    with pytest.raises(AssertionError, match="no writer"):
        verify_recovered({**good, b"zz": b"?"}, {}, hist, writer_of, all_acked_durable=True)
    state = str(tmp_path / "state")
    save_state(state, good)
    assert load_state(state) == good


# ---------------------------------------------------------------------------- the driver


def test_multithreaded_run_checks_every_kind_of_op(work):
    config = StressConfig(threads=4, ops_per_thread=700, seed=11, reopens=1)
    report = run_stress(os.path.join(work, "db"), config)
    assert set(report.ops) == {name for name, _ in OP_MIX}
    assert sum(report.ops.values()) == 4 * 700
    assert report.acked_writes > 1000 and report.reads_verified > 1000
    with lsmdb.open(os.path.join(work, "db"), config.options()) as db:
        state = read_db_state(db)
    assert state and all(writer_of(k) is not None for k in state)
    assert {writer_of(k) for k in state} == {"t00", "t01", "t02", "t03", "s"}


def test_deterministic_mode_replays_exactly(work):
    config = StressConfig(threads=1, ops_per_thread=1500, seed=5, inline=True)
    a = run_stress(os.path.join(work, "a"), config)
    b = run_stress(os.path.join(work, "b"), config)
    assert (a.op_digest, a.state_digest) == (b.op_digest, b.state_digest)
    assert a.ops == b.ops
    other = run_stress(os.path.join(work, "c"), StressConfig(threads=1, ops_per_thread=1500,
                                                              seed=6, inline=True))
    assert other.op_digest != a.op_digest


def test_a_wrong_read_is_reported_with_seed_and_command(work, monkeypatch):
    real_get = DB.get
    calls = {"n": 0}

    def forgetful_get(self, key, default=None, **kw):
        calls["n"] += 1
        value = real_get(self, key, default, **kw)
        return None if calls["n"] % 40 == 0 and value is not None else value

    monkeypatch.setattr(DB, "get", forgetful_get)
    config = StressConfig(threads=2, ops_per_thread=600, seed=99)
    with pytest.raises(StressFailure) as info:
        run_stress(os.path.join(work, "db"), config)
    text = str(info.value)
    assert "seed 99" in text and reproduce_command(config) in text
    assert "--threads 2 --seed 99" in text


def test_a_wrong_read_in_the_end_of_phase_check_is_reported_with_seed_and_command(
        work, monkeypatch):
    """The check after the workers (scan, reverse scan, get of every key) finds the wrong
    read here, whatever the scheduling: get lies only on the driver's thread. It used to
    escape as the oracle's bare AssertionError, so the test above failed whenever the
    workers' own reads happened not to hit a forgotten key (CPU load)."""
    real_get = DB.get
    driver = threading.get_ident()

    def forgetful_on_driver(self, key, default=None, **kw):
        value = real_get(self, key, default, **kw)
        return None if threading.get_ident() == driver else value

    monkeypatch.setattr(DB, "get", forgetful_on_driver)
    config = StressConfig(threads=2, ops_per_thread=200, seed=98, reopens=1)
    with pytest.raises(StressFailure) as info:
        run_stress(os.path.join(work, "db"), config)
    text = str(info.value)
    assert "database check at the end of a phase" in text and "disagrees with the scan" in text
    assert "seed 98" in text and reproduce_command(config) in text


def test_power_cuts_with_injected_faults(work):
    """Background threads, sync=never: every cycle the recovered DB is a prefix of each
    writer's history holding every synced/flushed write."""
    config = StressConfig(threads=3, ops_per_thread=250, seed=3, faults_one_in=150, cycles=6)
    report = run_stress(os.path.join(work, "db"), config)
    assert report.cycles == 6
    assert report.faults_injected + report.errors_reported["StorageIOError"] > 0
    assert report.acked_writes > 100


def test_fault_mode_is_deterministic_inline(work):
    config = StressConfig(threads=1, ops_per_thread=250, seed=8, faults_one_in=120,
                          cycles=5, inline=True, wal_sync="always")
    a = run_stress(os.path.join(work, "a"), config)
    b = run_stress(os.path.join(work, "b"), config)
    assert a.cycles == 5 and a.lost_allowed == 0  # wal_sync="always": nothing acked lost
    assert (a.op_digest, a.state_digest, a.faults_injected) == \
        (b.op_digest, b.state_digest, b.faults_injected)


def test_cli_stress_runs_and_prints_digests(work, capsys):
    code = cli_main(["stress", "--threads", "2", "--ops", "300", "--seed", "4", "--dir",
                     work, "--inline"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "seed 4" in out and "op digest" in out and "reads verified" in out
    assert os.path.isdir(os.path.join(work, "db"))
    assert cli_main(["stress", "--threads", "0"]) == 64
    assert cli_main(["stress", "--faults", "often"]) == 64


def test_cli_stress_failure_exit_code(work, monkeypatch, capsys):
    monkeypatch.setattr(DB, "get", lambda self, key, default=None, **kw: b"wrong")
    code = cli_main(["stress", "--threads", "1", "--ops", "200", "--seed", "1", "--dir", work])
    err = capsys.readouterr().err
    assert code == 2
    assert "FAILED" in err and "reproduce with: lsmdb stress" in err


# ---------------------------------------------------------------------------- bugs it found


def _assert_no_overlap_within_a_run(db) -> None:
    version = db._versions.current
    for level in range(1, version.num_levels):
        for run in version.runs(level):
            files = sorted(run, key=lambda f: f.smallest_user_key)
            for a, b in zip(files, files[1:], strict=False):
                # Equal boundaries are fine only when a ends in a range-tombstone sentinel
                # (an exclusive upper bound).
                assert a.largest_user_key < b.smallest_user_key or (
                    a.largest_user_key == b.smallest_user_key and is_sentinel(a.largest)), \
                    f"L{level}: files {a.number} and {b.number} overlap"


def test_concurrent_compact_range_calls_do_not_duplicate_files(work):
    """Two compact_range() calls at once compacted the same inputs and installed
    overlapping outputs in one level (then: 'keys must be added in strictly increasing
    order' in the next compaction, and wrong reads). Found by the 4-thread stress run."""
    import threading

    from lsmdb.testing.presets import small_options

    db = lsmdb.open(os.path.join(work, "db"), small_options())
    model = {}
    errors = []

    def worker(t: int) -> None:
        try:
            for round_ in range(6):
                for i in range(120):
                    k, v = b"k%04d" % ((i * 7 + t) % 400), b"v%d.%d.%d" % (t, round_, i)
                    db.put(k, v)
                    model[k] = v  # each key is written by one (t, i) pair per round
                db.compact_range(None, None)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    try:
        assert not errors, errors[0]
        assert not any(t.is_alive() for t in threads)
        _assert_no_overlap_within_a_run(db)
        state = read_db_state(db)
        assert set(state) == set(model)
    finally:
        db.close()


def test_inline_background_with_several_threads_does_not_livelock(work):
    """With inline_background=True a thread waiting for room spun on the mutex while the
    thread running the flush inline needed it: a livelock (found by the stress driver)."""
    import threading

    config = StressConfig(threads=4, ops_per_thread=600, seed=2, inline=True)
    reports = []
    runner = threading.Thread(target=lambda: reports.append(
        run_stress(os.path.join(work, "db"), config)), daemon=True)
    runner.start()
    runner.join(120)
    assert not runner.is_alive(), "livelock: the run did not finish in 120 s"
    assert reports and sum(reports[0].ops.values()) == 2400
