"""The engine crash loop: bank transfers in a child process, kill -9, reopen, verify, repeat.

:mod:`lsmdb.testing.crashloop` for the relational :class:`lsmdb.StorageEngine`. Each trial
starts ``python -m lsmdb.testing.engine_crash --child`` on the same data directory; the child
runs several threads of random money transfers between ``accounts`` and dies:

- **SIGKILL** from the parent at a random moment (uniform in ``[0, interval]`` seconds after
  the engine is open);
- **kill point**: the child kills itself at the n-th visit of one LSM kill point
  (:mod:`lsmdb.testing.killpoints`: WAL append/sync, SSTable write, MANIFEST install...);
  a child that never reaches it is SIGKILLed by the parent after ``interval`` seconds;
- **power loss** (``power_loss`` odds per trial): the data directory is written through a
  :class:`~lsmdb.testing.faultenv.FaultInjectionEnv`; at a random moment, in the middle of
  whatever the threads do, the child makes every further I/O fail, calls ``env.crash()``
  (unsynced WAL bytes and directory entries vanish; half the time the last unsynced write
  survives torn) and SIGKILLs itself. This is the only way an acknowledged commit may be lost, and only when
  the commit policy is not ``ALWAYS``.

Schema (created, with the initial accounts, in one transaction by the first child)::

    accounts(id BIGINT PK, owner TEXT, balance BIGINT)     index by_balance(balance),
                                                           unique index by_owner(owner)
    transfers(id BIGINT PK, src BIGINT, dst BIGINT, amount BIGINT, seen BIGINT)
                                                           index by_src(src),
                                                           index by_dst(dst DESC, amount)
    account_locks(id BIGINT PK, holder BIGINT)

A transfer writes the ``account_locks`` rows of both accounts first (a blind write, the
SELECT FOR UPDATE of an engine without one: a READ COMMITTED transaction reads the balances
in a later statement, and any transfer committed after the lock write conflicts with it at
commit, first committer wins), then reads both balances, moves a random amount and inserts
its ``transfers`` row. Transactions are SNAPSHOT, READ COMMITTED or SERIALIZABLE, carry one or two
transfers, and some are rolled back, some roll back a savepoint holding an extra transfer,
some keep a released savepoint. About one in ten is a *refund* of a committed transfer (of
this child or an earlier one): it deletes the ``transfers`` row (three index entries) and
moves the money back; some refunds are rolled back, some roll back in a savepoint. A
SerializationError rolls the transaction back; the worker retries with new transfer ids. An auditor thread reads all the while: a SNAPSHOT
transaction must see the same accounts through the heap and through ``by_balance``, summing
to the initial total, and so must one READ COMMITTED scan; otherwise the child exits with
code 4 and the parent reports it. A maintenance thread calls ``engine.checkpoint()`` now and
then (and ``vacuum_table`` with ``vacuum=True``), so kills land inside those too.

The child reports on stdout (a pipe the parent drains; a pipe write is atomic and survives
the child's death), one line per event, always *after* the event::

    ready                     engine open
    C setup / A setup         the setup transaction is about to commit / committed
    c <id,id>                 about to commit these transfers
    a <id,id> <ack_seq>       commit returned (acknowledged); ack_seq counts acks
    x <id,id>                 the transaction failed (SerializationError): rolled back
    r <id,id>                 rolled back on purpose
    s <id>                    a savepoint holding this transfer was rolled back
    K / V                     a checkpoint / vacuum_table is starting
    D <id> / d <id> <ack_seq> about to commit / committed a refund deleting transfer <id>
    Y <id>                    that refund failed (SerializationError): rolled back
    p                         power loss now (followed by the child's SIGKILL)

Each transfer row stores ``seen``: the number of acknowledged commits when its transaction
began; those commits were published before its snapshot, so they precede it in commit order.

After every death the parent reopens the directory and checks (:func:`verify`):

1. the setup is there if it was acknowledged; the ``accounts`` row count never changes;
2. the sum of balances is the initial total, and each balance equals its initial value
   replayed with every surviving ``transfers`` row (so no commit is half there);
3. every index (primary keys included) holds exactly the entries its table's rows imply:
   the raw index keys in the key space are compared with ``index.entry(row, tuple_id)`` of
   every heap row, and a public ordered scan of ``by_balance`` returns every account in
   balance order;
4. every transfer verified after an earlier trial is still there unless a refund of it was
   announced; every new one was announced (``c``) and is not one that failed, was rolled
   back or sat in a rolled-back savepoint; no row an acknowledged refund deleted is there;
5. the recovered table statistics count the rows there are, and the recovery report counts
   the child's surviving transactions (the previous check's close was a checkpoint);
6. every acknowledged commit is there, except after a power loss under a policy other than
   ``ALWAYS``, where what survives must be a prefix of the commit order: a surviving
   transfer with ``seen = w`` implies that the first ``w`` acknowledged commits survived;
   under ``every(n)`` at most n - 1 acknowledged transactions may be lost.

A process crash (SIGKILL, kill point) keeps every acknowledged commit under every policy:
the engine hands each commit batch to the OS (``os.write``) before acknowledging it, and
the page cache outlives the process. The verified state is the next trial's baseline; it is
kept in ``<dir>/verified.json`` (with the number of children run, which numbers the next
child's transfer ids), so a rerun on the same directory resumes. A failure raises
:class:`EngineCrashFailure` with the trial, seeds, the command that reruns the loop and the
directory (kept; ``child.stdout`` holds the dead child's events, ``child.stderr`` its errors).

Modules: :mod:`~.options` (constants, the engine options of a trial), :mod:`~.workload` (the
child: schema and transfer threads), :mod:`~.checker` (:class:`ChildRecord`, :func:`verify`),
:mod:`~.loop` (the parent: :func:`run_engine_crash_loop`), :mod:`~.cli` (:func:`main`, run by
``__main__``).
"""

from __future__ import annotations

from lsmdb.testing.engine_crash.checker import ChildRecord, EngineCrashFailure, verify
from lsmdb.testing.engine_crash.cli import main
from lsmdb.testing.engine_crash.loop import (
    EngineCrashConfig,
    EngineCrashReport,
    run_engine_crash_loop,
)
from lsmdb.testing.engine_crash.options import parse_policy
from lsmdb.testing.engine_crash.workload import create_schema

__all__ = ["EngineCrashConfig", "EngineCrashReport", "EngineCrashFailure", "ChildRecord",
           "run_engine_crash_loop", "verify", "create_schema", "parse_policy", "main"]
