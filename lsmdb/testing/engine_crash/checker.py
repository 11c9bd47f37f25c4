"""What a dead child said (:class:`ChildRecord`) and the checks after its recovery
(:func:`verify`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from lsmdb.testing.engine_crash.options import INITIAL_BALANCE


@dataclass
class ChildRecord:
    """What one child said before it died (parsed from its stdout)."""

    setup_announced: bool = False
    setup_acked: bool = False
    announced: set[int] = field(default_factory=set)
    transactions: list[tuple[int, ...]] = field(default_factory=list)  # per "c" line
    acked: dict[int, int] = field(default_factory=dict)  # transfer id -> ack seq
    failed: set[int] = field(default_factory=set)  # serialization failures
    rolled_back: set[int] = field(default_factory=set)  # whole transaction rolled back
    savepoint_rolled_back: set[int] = field(default_factory=set)
    power_loss: bool = False
    ready: bool = False
    checkpoints: int = 0  # checkpoint() calls started
    # refunded transfer id -> "announced" (D) | "acked" (d) | "failed" (Y), the last word
    refunds: dict[int, str] = field(default_factory=dict)
    refund_acks: dict[int, int] = field(default_factory=dict)  # transfer id -> ack seq

    @classmethod
    def parse(cls, lines: list[str]) -> ChildRecord:
        rec = cls()
        for line in lines:
            parts = line.split()
            if not parts:
                continue
            kind = parts[0]
            if kind == "ready":
                rec.ready = True
            elif kind == "p":
                rec.power_loss = True
            elif kind == "K":
                rec.checkpoints += 1
            elif kind in ("D", "d", "Y") and len(parts) >= 2:
                tid = int(parts[1])
                rec.refunds[tid] = {"D": "announced", "d": "acked", "Y": "failed"}[kind]
                if kind == "d":
                    rec.refund_acks[tid] = int(parts[2])
            elif kind == "C":
                rec.setup_announced = True
            elif kind == "A":
                rec.setup_acked = True
            elif kind in ("c", "a", "x", "r", "s") and len(parts) >= 2:
                ids = [int(i) for i in parts[1].split(",")]
                if kind == "c":
                    rec.announced.update(ids)
                    rec.transactions.append(tuple(ids))
                elif kind == "a":
                    for i in ids:
                        rec.acked[i] = int(parts[2])
                elif kind == "x":
                    rec.failed.update(ids)
                elif kind == "r":
                    rec.rolled_back.update(ids)
                else:
                    rec.savepoint_rolled_back.update(ids)
        return rec


@dataclass
class TrialResult:
    present: set[int] | None  # transfer ids after recovery; None: no tables yet
    acked_verified: int = 0
    in_doubt_survived: int = 0
    lost_unsynced: int = 0
    rows_checked: int = 0
    index_entries_checked: int = 0
    refunds_verified: int = 0  # acknowledged refunds whose transfer row is gone


class EngineCrashFailure(AssertionError):
    """Recovery broke an invariant: money created or lost, an index out of step with its
    table, an acknowledged commit lost, or a rolled-back write visible."""


# ---------------------------------------------------------------------------- verification


def _check_indexes(engine, problems: list[str]) -> tuple[int, int]:
    """Compare every index's raw entries with the entries its table's heap rows imply."""
    backend = engine._backend  # the harness reads the key space under the engine directly
    catalog = engine._catalog_latest
    rows_seen = entries_seen = 0
    for info in catalog.tables.values():
        with engine.transaction() as tx:
            rows = [(r.tuple_id, r.row) for r in tx.scan(info.table_id)]
        heap_tids = [int.from_bytes(k[9:17], "big") for k, _ in backend.scan(info.prefix, info.end)]
        if sorted(heap_tids) != sorted(t for t, _ in rows):
            problems.append(f"table {info.name}: the heap holds tuple ids the engine does not "
                            f"show (or the reverse): {len(heap_tids)} keys, {len(rows)} rows")
        rows_seen += len(rows)
        for ix in info.indexes:
            want = sorted(ix.entry(row, tid) for tid, row in rows)
            got = list(backend.scan(ix.prefix, ix.end))
            entries_seen += len(got)
            if got != want:
                extra = sorted(set(got) - set(want))[:3]
                missing = sorted(set(want) - set(got))[:3]
                problems.append(f"index {ix.name} of {info.name}: {len(got)} entries, its table "
                                f"implies {len(want)}; stray {extra!r}; missing {missing!r}")
    return rows_seen, entries_seen


def verify(engine, record: ChildRecord, baseline: set[int] | None, accounts: int,
           acked_durable: bool, max_lost: int | None = None) -> TrialResult:
    """Check a reopened engine against what the dead child said (see the module doc).
    ``baseline``: transfer ids verified after the previous trial (None: no setup yet).
    ``acked_durable``: every acknowledged commit must be there; otherwise a prefix of the
    commit order, missing at most ``max_lost`` acknowledged transactions (None: no bound).
    Raises AssertionError listing every violation."""
    problems: list[str] = []
    names = {t.name for t in engine.tables()}
    if "accounts" not in names:
        if record.setup_acked or baseline is not None:
            raise AssertionError("the acknowledged setup transaction (tables, indexes, "
                                 "accounts) is missing after recovery")
        if names:
            raise AssertionError(f"half a setup transaction survived: tables {sorted(names)}")
        return TrialResult(present=None)
    if baseline is None and not record.setup_announced:
        raise AssertionError("tables exist that no child ever committed")
    if names != {"accounts", "transfers", "account_locks"}:
        problems.append(f"tables after recovery: {sorted(names)}")
    with engine.transaction() as tx:
        balances = {r.row[0]: r.row[2] for r in tx.scan("accounts")}
        transfers = {r.row[0]: r.row for r in tx.scan("transfers")}
        by_balance = [(r.row[2], r.row[0]) for r in tx.scan_index("by_balance")]
        locks = tx.count("account_locks")
    if sorted(balances) != list(range(accounts)) or locks != accounts:
        problems.append(f"accounts {sorted(balances)[:5]}... ({len(balances)} rows, "
                        f"{locks} lock rows); expected ids 0..{accounts - 1}")
    total = sum(balances.values())
    if total != accounts * INITIAL_BALANCE:
        problems.append(f"sum of balances {total} != {accounts * INITIAL_BALANCE}")
    replay = dict.fromkeys(range(accounts), INITIAL_BALANCE)
    for _, src, dst, amount, _seen in transfers.values():
        replay[src] -= amount
        replay[dst] += amount
    wrong = [(a, balances.get(a), replay[a]) for a in replay if balances.get(a) != replay[a]]
    if wrong:
        problems.append(f"{len(wrong)} balances differ from the replay of the transfers log "
                        f"(account, balance, replayed): {wrong[:5]}")
    if by_balance != sorted((b, a) for a, b in balances.items()):
        problems.append("an ordered scan of by_balance does not return every account in "
                        "balance order")
    rows_seen, entries_seen = _check_indexes(engine, problems)
    stats_rows = engine.metrics().total_row_count
    if stats_rows != rows_seen:
        problems.append(f"recovered table statistics count {stats_rows} rows, the tables hold "
                        f"{rows_seen}")

    present = set(transfers)
    old = baseline or set()
    # A refund deletes its transfer row: announced, it may have; acknowledged, it did.
    maybe_gone = {i for i, st in record.refunds.items() if st != "failed"}
    gone = {i for i, st in record.refunds.items() if st == "acked"}
    lost_old = old - present - maybe_gone
    if lost_old:
        problems.append(f"{len(lost_old)} transfers verified after an earlier trial are gone: "
                        f"{sorted(lost_old)[:5]}")
    new = present - old
    # A transfer the child refunded was visible to it: it must be one verified before or one
    # the child committed itself. (One that appeared behind the loop's back and that the
    # child then refunded has no row left for `new` to show, so only this catches it.)
    unannounced = (new - record.announced) | (set(record.refunds) - old - record.announced)
    for what, ids in (("never announced for commit", unannounced),
                      ("failed with SerializationError", new & record.failed),
                      ("rolled back", new & record.rolled_back),
                      ("in a rolled-back savepoint", new & record.savepoint_rolled_back)):
        if ids:
            problems.append(f"{len(ids)} transfers {what} are visible: {sorted(ids)[:5]}")
    lost = sorted(set(record.acked) - present - maybe_gone)
    undeleted = sorted(gone & present)  # acknowledged refunds whose row is still there
    if (lost or undeleted) and acked_durable:
        if lost:
            problems.append(f"{len(lost)} acknowledged transfers lost: {lost[:5]}")
        if undeleted:
            problems.append(f"{len(undeleted)} transfers deleted by acknowledged refunds are "
                            f"visible: {undeleted[:5]}")
    elif lost or undeleted:
        lost_txns = len({record.acked[i] for i in lost} | {record.refund_acks[i]
                                                           for i in undeleted})
        if max_lost is not None and lost_txns > max_lost:
            problems.append(f"{lost_txns} acknowledged transactions lost, the commit policy "
                            f"allows at most {max_lost} unsynced")
        # Prefix property: a survivor that began after ack #w implies acks 1..w survived
        # (an acknowledged transfer is there unless a refund was announced for it; an
        # acknowledged refund's row is gone).
        missing = {seq for i, seq in record.acked.items()
                   if i not in present and i not in maybe_gone}
        missing |= {seq for i, seq in record.refund_acks.items() if i in present}
        for tid in new:
            w = transfers[tid][4]
            gap = sorted(seq for seq in missing if seq <= w)
            if gap:
                problems.append(f"not a prefix of the commit order: transfer {tid} survived, "
                                f"it began after {w} acknowledged commits, yet "
                                f"{len(gap)} of those are lost (ack numbers {gap[:5]})")
                break
    rr = engine.recovery_report
    if rr.records_replayed and baseline is not None:
        # Without a checkpoint of the child's, the last one was the previous check's close:
        # every transaction committed since is one of this child's and counts once. A
        # transfer refunded later, or a refund of a transfer of this child, leaves no trace
        # to tell whether it committed: those widen the bounds.
        certain = possible = 0
        for ids in record.transactions:
            if ids[0] in present:
                certain += 1
            elif ids[0] in maybe_gone:
                possible += 1
        for i in maybe_gone - present:
            if i in old:
                certain += 1
            else:
                possible += 1
        if rr.recovered_transactions > certain + possible or (
                not record.checkpoints and rr.recovered_transactions < certain):
            problems.append(f"recovery report: {rr.recovered_transactions} recovered "
                            f"transactions, between {certain} and {certain + possible} of "
                            f"the child's commits survived")
    if problems:
        raise AssertionError("; ".join(problems))
    acked_present = sum(1 for i in record.acked if i in present)
    return TrialResult(present=present, acked_verified=acked_present,
                       in_doubt_survived=len(new) - acked_present,
                       lost_unsynced=len(lost) + len(undeleted), rows_checked=rows_seen,
                       refunds_verified=len(gone - present),
                       index_entries_checked=entries_seen)
