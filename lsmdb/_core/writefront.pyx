"""DB.put and DB.delete compiled: the single-write front of lsmdb.lsm.db.DB (issue 15),
and the point reads bound to it (``WriteFront.get`` / ``get_at``, see "Reads" below).

``put`` and ``delete`` are class attributes of DB and bind as its methods, like dbread.get.
In the common case (an open, writable DB under a never-syncing WAL policy; ``sync`` None or
False; no other writer queued; no write stall; room in the memtable; no background error; no
kill point armed; a plain WAL file) a put is one C call: the argument checks, the DB mutex,
the WAL append and memtable insert (``WalTail.c_append_op``) and the publish of the new
sequence number, with no Python frame. Anything else takes the DB's general path
(``DB._write_one_general``), which raises the documented errors and queues for group commit.

**State as C fields.** The DB attributes this path reads live in the DB's ``__dict__`` as
always, and are mirrored into the C fields of its :class:`WriteFront` by :class:`FrontField`
descriptors on the DB class: a data descriptor with ``__set__`` but no ``__get__``, so every
assignment ``db._bg_error = ...`` also updates the mirror while a read of the attribute is
the plain ``__dict__`` lookup it was. The mirror cannot go stale: the only writers of those
attributes are these assignments and the publish below, which writes both.

**Concurrency: the same guarantees as the Python path it replaces.** The DB mutex is held
from the state checks to the publish, exactly as ``with db._mutex:`` did, so a put is
serialised with the writer queue, memtable switches, the background threads' publishes,
snapshots and close. The publish stores ``_last_seq`` and the superversion ``_sv`` (the
same memtables and Version, the new sequence) under the mutex; readers, which take no
lock, see the write once ``_sv`` is replaced, as before.

**Synced writes** (``sync=True``, or ``sync=None`` under ``wal_sync="always"``;
``write_one_synced``): the group commit of single puts and deletes, in C, with the waits
outside the GIL. Under the DB mutex a writer appends its record to the WAL (not yet to the
memtable) and joins the pending list; the first pending writer to find no group being led
leads one: it waits for the writers of the last group to append again (at most an fsync's
time and 1 ms, as the general path's ``_gather_sync_writers`` does for a fifth of it), fsyncs without any
lock, then under the mutex inserts every write the fsync covered into the memtable, in
order, and publishes the last one's sequence; the others sleep on a condition variable and
return once their ticket is finished. So a write is visible only once durable, as on the
general path. While writes are pending, the DB's ``_sync_sentinel`` is queued as a writer:
every other writer, barrier (memtable switch, flush, resume) and close waits behind it, no
sequence number is handed out elsewhere, and the segment cannot be retired under an fsync;
a new synced write joins only while nothing else is queued. An fsync or insert failure
fails every pending write and stops writes (``resume()``), as on the general path. An
interrupt (Ctrl-C) in a wait for the mutex is raised once the write is finished.

**Waiting without sleeping** (``spinwait.h``). On a machine whose fsync is fast the group's
cycle is the fsync and the writers' turns at the GIL: 4 writer threads, one fsync of ~82 µs,
and a cycle measured at 131 µs (timestamps in this code, medians of 700 groups): 8 µs for
the leader's ``pthread_cond_broadcast`` to wake the other three, 10 µs until the first of
them held the GIL once the leader let it go, 8 µs for an append's signal to wake the
gathering leader, 7 µs until the leader ran again after the last append. Each is the futex
wake-up of a thread whose CPU went idle, which on this virtual machine (idle vCPUs halt:
guest_halt_poll_ns is 0) is a round trip through the hypervisor. So a writer about to wait
for a short time polls instead (a few ``pause`` instructions, then ``sched_yield`` between
looks): followers poll for their group to finish, the leader polls for the gather, and the
condition variables are signalled only when someone sleeps on them. And the writers take
the GIL in turn through a flag of their own (``gil_turn``): one that comes back from a wait
polls until the writer holding the GIL has let it go (entering its next wait) instead of
blocking in the GIL's own condition variable, from which the next wake-up would again cost
the round trip. Measured the same way: the cycle 94 µs (fsync 82), of which 13 µs for the
4 writers' turns; 3000 synced puts, 4 threads 34-38k/s against 28.5-29.6k sleeping, 8
threads 61k against 46k, 16 threads 82k against 54k (1 thread 11.3-11.6k either way). With
the records written rather than copied into the mapping (walmap.pyx, ``c_pwrite``: a shorter
fsync), db_bench's fillsync with 4 threads is 3.5-3.9x its 1-thread rate (41.8-46.2k against
11.6-11.9k). The price is CPU: 41-49 µs of process time per write with 4 threads against
24-28 (both cores busy while the fsync runs).

The poll is bounded: only while the average fsync takes at most ``POLL_FSYNC_MAX_NS`` (on a
slower disk a wake-up's cost is small beside it, and writers sleep at once), only when the
last group held at least ``POLL_MIN_GROUP`` writes (with one follower its wake-up overlaps the
leader's own return: 2 threads polling gained 7% for 2.4x the CPU), and for at most twice the
average fsync. A turn is waited for at most ``TURN_WAIT_NS`` (the writer holding it may have
gone on with other Python code); a wait that runs out stops turn taking for
``TURN_PAUSE_NS``, so a stale turn costs at most 0.5% of a writer's time. RocksDB's writers do
the same for the same reason (``enable_write_thread_adaptive_yield``: they yield up to
``write_thread_max_yield_usec``, 100 µs, before they block).

**Reads.** ``db.get`` and ``db.get_at`` are the WriteFront's methods: the DB class holds a
:class:`FrontMethod` for each, whose ``__get__`` hands out the method of the instance's front,
so a get reads the two fields it needs, ``closed`` and the superversion ``sv`` (mirrored from
``_closed`` and ``_sv``), as C fields of its own ``self``: two ``db.<name>`` lookups (type
lookup, descriptor check, then the instance dict) cost ~440 of the ~3,300 instructions of a
get served by a cached block (callgrind, 1M-key db_bench store), and even two plain dict
lookups ~230. A read at a
snapshot asks the DB (through a weak reference: the front must not keep its DB alive) to
check the snapshot. On the class, ``DB.get`` / ``DB.get_at`` are the functions of
lsmdb/_core/dbread.pyx (documentation, ``DB.get(db, key)``), which call these; replacing the
class attribute (a test's monkeypatch) replaces the method for every DB, as for any method.

**Interrupts.** An interrupt (Ctrl-C) is raised only between Python-level steps and nothing
here is one: a put is applied and published whole, or (an interrupt before the call) not at
all. A signal that arrives during the call is raised by the interpreter after it returns.
"""

import weakref

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.errno cimport errno
from libc.stdint cimport int64_t, uint8_t, uint64_t
from libc.string cimport strerror

from lsmdb._core.ikey cimport TYPE_DELETE, TYPE_PUT
from lsmdb._core.memtable cimport Memtable
from lsmdb._core.readpath cimport ReadView
from lsmdb._core.walappend cimport WalTail

from lsmdb import killpoint as _killpoint
from lsmdb._core.dbread import as_bytes
from lsmdb.errors import ClosedError, InvalidArgumentError, StorageIOError


cdef extern from "Python.h":
    dict PyObject_GenericGetDict(object obj, void *context)

cdef extern from "<pthread.h>" nogil:
    ctypedef struct pthread_mutex_t:
        pass
    ctypedef struct pthread_cond_t:
        pass
    int pthread_mutex_init(pthread_mutex_t *m, void *attr)
    int pthread_mutex_destroy(pthread_mutex_t *m)
    int pthread_mutex_lock(pthread_mutex_t *m)
    int pthread_mutex_unlock(pthread_mutex_t *m)
    int pthread_cond_init(pthread_cond_t *c, void *attr)
    int pthread_cond_destroy(pthread_cond_t *c)
    int pthread_cond_broadcast(pthread_cond_t *c)
    int pthread_cond_signal(pthread_cond_t *c)
    int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const timespec *t)

cdef extern from "<time.h>" nogil:
    cdef struct timespec:
        long tv_sec
        long tv_nsec
    int clock_gettime(int clk, timespec *t)
    int CLOCK_REALTIME
    int CLOCK_MONOTONIC

cdef extern from "<unistd.h>" nogil:
    int fdatasync(int fd)

cdef extern from "spinwait.h" nogil:
    void lsm_cpu_relax()
    int sched_yield()
    uint64_t lsm_load_u64(const uint64_t *p)
    void lsm_store_u64(uint64_t *p, uint64_t v)
    int64_t lsm_load_i64(const int64_t *p)
    void lsm_store_i64(int64_t *p, int64_t v)
    int lsm_load_int(const int *p)
    void lsm_store_int(int *p, int v)
    int lsm_cas_int(int *p, int expected, int desired)

cdef enum:
    # A synced group's leader waits at most this long for the writers of the last group to
    # append again (and at most an fsync's time: see _lead).
    GATHER_MAX_NS = 1000000
    # Sleeps of a synced writer are cut into slices this long, to recheck (a lost wake-up
    # costs one slice, not a hang).
    WAIT_SLICE_NS = 2000000
    # Polling instead of sleeping ("Waiting without sleeping"): a synced writer polls only
    # while the average fsync takes at most POLL_FSYNC_MAX_NS and the last group held at
    # least POLL_MIN_GROUP writes, for at most twice that average and at least POLL_MIN_NS;
    # the first POLL_PAUSES looks are a CPU pause apart, the next a sched_yield apart.
    POLL_FSYNC_MAX_NS = 200000
    POLL_MIN_GROUP = 3
    POLL_MIN_NS = 50000
    POLL_PAUSES = 50
    # A writer back from a wait waits at most TURN_WAIT_NS for the GIL turn; when that runs
    # out (the holder went on with other work) turns are not waited for TURN_PAUSE_NS.
    TURN_WAIT_NS = 50000
    TURN_PAUSE_NS = 10000000


cdef inline int64_t _now_ns(int clk) noexcept nogil:
    cdef timespec t
    clock_gettime(clk, &t)
    return <int64_t>t.tv_sec * 1000000000 + t.tv_nsec


cdef inline void _timed_wait(pthread_cond_t *c, pthread_mutex_t *m, int64_t ns) noexcept nogil:
    cdef timespec t
    cdef int64_t at = _now_ns(CLOCK_REALTIME) + ns
    t.tv_sec = at // 1000000000
    t.tv_nsec = at % 1000000000
    pthread_cond_timedwait(c, m, &t)


cdef inline bint _poll_step(int *looks, int64_t end) noexcept nogil:
    """One step of a poll: a CPU pause for the first POLL_PAUSES looks, then a
    sched_yield. False once ``end`` (CLOCK_MONOTONIC ns) has passed."""
    if looks[0] < POLL_PAUSES:
        looks[0] += 1
        lsm_cpu_relax()
        return True
    sched_yield()
    return _now_ns(CLOCK_MONOTONIC) < end


cdef class WriteFront:
    """The DB state a single put reads, as C fields (mirrored by :class:`FrontField`)."""

    cdef object acquire             # the DB mutex's acquire and release
    cdef object release
    cdef object writers             # the writer queue (a deque): must be empty
    cdef WalTail tail               # the active WAL segment's tail; None: general path
    cdef Memtable mem               # the active memtable
    cdef uint64_t last_seq
    cdef Py_ssize_t max_key
    cdef Py_ssize_t max_value
    cdef size_t memtable_limit
    cdef bint closed
    cdef bint closing
    cdef bint read_only
    cdef bint failed                # a background error is set
    cdef bint never_syncs           # the WAL policy never fsyncs a write by default
    cdef bint no_write_stall        # the stall test of the current Version and debt
    cdef tuple sv                   # the superversion (DB._sv): what get reads
    cdef object db_ref              # weak reference to the DB (reads at a snapshot)
    # -- synced single writes (write_one_synced; see "Synced writes" above) ---------------
    cdef bint always_syncs          # the WAL policy fsyncs a write that says nothing
    cdef object sentinel            # the DB's queue entry while synced writes are pending
    cdef list pending               # [(ticket, seq, vtype, key, value, record, payload)]
    cdef uint64_t next_ticket       # tickets number the synced writes, never reused
    # Under smutex: the group commit of the synced writes.
    cdef pthread_mutex_t smutex
    cdef pthread_cond_t scond       # a group finished (its writers wake)
    cdef pthread_cond_t gcond       # a write was appended (a gathering leader wakes)
    cdef int sleepers               # writers asleep on scond (signalled only if any)
    cdef bint gather_sleeping       # the leader is asleep on gcond (signalled only then)
    # Written under smutex, also read by polls outside it (spinwait.h's atomics):
    cdef int syncing                # a writer leads a group (gathers, fsyncs, applies)
    cdef uint64_t appended_ticket   # the last ticket appended to the WAL
    cdef uint64_t done_ticket       # every ticket <= this is finished (applied or failed)
    cdef uint64_t last_group        # writes the last fsync covered
    cdef int64_t sync_ns            # moving average of an fsync's time
    # The GIL turn ("Waiting without sleeping"), no lock: 1 while a synced writer back from
    # a wait holds the GIL; turns are not waited for before turn_pause_until.
    cdef int gil_turn
    cdef int64_t turn_pause_until
    # The poll's limits: POLL_FSYNC_MAX_NS and POLL_MIN_GROUP (set_poll_limits: tests).
    cdef int64_t poll_fsync_max_ns
    cdef uint64_t poll_min_group
    # Statistics of this path since take_synced_counts: writes, their batches' bytes, their
    # WAL records' bytes, fsyncs (each fsync one write group).
    cdef long long synced_writes
    cdef long long synced_payload_bytes
    cdef long long synced_record_bytes
    cdef long long synced_groups
    cdef dict failures              # ticket -> the error its writer raises

    def __cinit__(self):
        pthread_mutex_init(&self.smutex, NULL)
        pthread_cond_init(&self.scond, NULL)
        pthread_cond_init(&self.gcond, NULL)

    def __dealloc__(self):
        pthread_cond_destroy(&self.scond)
        pthread_cond_destroy(&self.gcond)
        pthread_mutex_destroy(&self.smutex)

    def __init__(self):
        self.closed = True
        self.pending = []
        self.failures = {}
        self.poll_fsync_max_ns = POLL_FSYNC_MAX_NS
        self.poll_min_group = POLL_MIN_GROUP

    def bind(self, db) -> None:
        """Serve ``db``'s point reads: keep a weak reference to it for reads at a snapshot."""
        self.db_ref = weakref.ref(db)

    def get(self, key, default=None, *, snapshot=None):
        """The value of ``key`` as bytes, or ``default`` when absent; read at ``snapshot``
        (a :class:`Snapshot` of this DB) when given, else at the latest write."""
        cdef tuple sv
        if self.closed:
            raise ClosedError("database is closed")
        if type(key) is not bytes:
            key = as_bytes(key, "key")
        sv = self.sv
        return (<ReadView>sv[4])._get(
            <const uint8_t *>PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key),
            sv[3] if snapshot is None else self._db()._snapshot_seqno(snapshot), default, None)

    def get_at(self, key, seqno=None, default=None):
        """``get`` for callers that hold their own read points (the storage engine's key
        space): ``key`` must be bytes and ``seqno`` a sequence number the caller keeps
        pinned by a live :class:`Snapshot` (None: the latest write). No other checks."""
        cdef tuple sv
        if self.closed or type(key) is not bytes:
            return self.get(key, default)  # the checked path raises the right error
        sv = self.sv
        return (<ReadView>sv[4])._get(<const uint8_t *>PyBytes_AS_STRING(key),
                                      PyBytes_GET_SIZE(key),
                                      sv[3] if seqno is None else seqno, default, None)

    cdef object _db(self):
        db = None if self.db_ref is None else self.db_ref()
        if db is None:
            raise ClosedError("database is closed")
        return db

    cdef int mirror(self, str name, object value) except -1:
        """Take the new value of the DB attribute ``name`` into the C fields."""
        if name == "_sv":
            self.sv = value
        elif name == "_last_seq":
            self.last_seq = value
        elif name == "_bg_error":
            self.failed = value is not None
        elif name == "_closing":
            self.closing = value
        elif name == "_closed":
            self.closed = value
        elif name == "read_only":
            self.read_only = value
        elif name == "_no_write_stall":
            self.no_write_stall = value
        elif name == "_wal":
            # A WAL writer on a plain file hands out its tail; any other takes the general path.
            tail = getattr(value, "tail", None)
            self.tail = tail if isinstance(tail, WalTail) and value.direct else None
        elif name == "_mem":
            self.mem = None if value is None else value.mem
        elif name == "_writers":
            self.writers = value
        elif name == "_mutex":
            self.acquire = value.acquire
            self.release = value.release
        elif name == "_commit_schedule":
            self.never_syncs = value.never_syncs
            self.always_syncs = value.syncs_by_default
        elif name == "_sync_sentinel":
            self.sentinel = value
        elif name == "_memtable_limit":
            self.memtable_limit = value
        elif name == "_max_key":
            self.max_key = value
        elif name == "_max_value":
            self.max_value = value
        else:
            raise InvalidArgumentError(f"{name!r} is not a write-front field")
        return 0

    @property
    def state(self) -> dict:
        """The mirrored fields, for tests: each must equal what the DB attributes say."""
        return {"last_seq": self.last_seq, "failed": self.failed, "closing": self.closing,
                "closed": self.closed, "read_only": self.read_only,
                "no_write_stall": self.no_write_stall, "tail": self.tail, "mem": self.mem,
                "writers": self.writers, "never_syncs": self.never_syncs,
                "always_syncs": self.always_syncs, "sync_sentinel": self.sentinel,
                "memtable_limit": self.memtable_limit, "max_key": self.max_key,
                "max_value": self.max_value, "sv": self.sv}

    def group_commit_state(self) -> dict:
        """The synced group commit's adaptive figures, for tests and experiments: the
        average fsync (ns), the last group's writes, how long a writer would poll now (ns,
        0: it sleeps at once), the poll's limits, whether a synced writer holds the GIL
        turn and whether turn taking is paused."""
        pthread_mutex_lock(&self.smutex)
        out = {"sync_ns": self.sync_ns, "last_group": self.last_group,
               "poll_ns": self._poll_ns(), "poll_fsync_max_ns": self.poll_fsync_max_ns,
               "poll_min_group": self.poll_min_group, "gil_turn": lsm_load_int(&self.gil_turn),
               "turn_paused": _now_ns(CLOCK_MONOTONIC) < lsm_load_i64(&self.turn_pause_until)}
        pthread_mutex_unlock(&self.smutex)
        return out

    def set_poll_limits(self, int64_t fsync_max_ns, uint64_t min_group) -> None:
        """Poll only while the average fsync takes at most ``fsync_max_ns`` and the last
        group held at least ``min_group`` writes (defaults POLL_FSYNC_MAX_NS and
        POLL_MIN_GROUP): for tests of both ways of waiting on any machine."""
        pthread_mutex_lock(&self.smutex)
        self.poll_fsync_max_ns = fsync_max_ns
        self.poll_min_group = min_group
        pthread_mutex_unlock(&self.smutex)

    cdef inline bint writable(self) noexcept:
        """What both compiled write paths need (read under the mutex to act on): an open,
        writable DB with no background error and no stall, a plain WAL file, room in the
        active memtable."""
        return (not self.closed and not self.closing and not self.read_only and not self.failed
                and self.no_write_stall and self.tail is not None and self.tail.fd >= 0
                and self.mem is not None and self.mem.c_used_bytes() < self.memtable_limit)

    cdef inline bint ready(self) noexcept:
        """Whether a write may take the direct path now (read under the mutex to act on):
        a never-syncing WAL policy and no writer queued."""
        return self.never_syncs and not self.writers and self.writable()

    cdef int stop_writes(self, dict attrs, object exc) except -1:
        """A WAL append or fsync failed, or a record logged is not in the memtable: stop
        writes until resume(), as the general path does (``attrs``: the DB's __dict__)."""
        self.mirror("_bg_error", exc)  # as db._bg_error = exc would (FrontField)
        attrs["_bg_error"] = exc
        attrs["_wal_failed"] = True
        return 0

    cdef int publish_seq(self, dict attrs, uint64_t seq) except -1:
        """Publish ``seq`` (mutex held): the writes up to it are visible as soon as the
        sequence moves; the superversion keeps its memtables and Version."""
        seq_obj = seq
        self.last_seq = seq
        attrs["_last_seq"] = seq_obj
        sv = self.sv
        sv = (sv[0], sv[1], sv[2], seq_obj, sv[4])
        self.sv = sv  # as db._sv = sv would (FrontField)
        attrs["_sv"] = sv
        return 0

    cdef int write_one(self, object db, int vtype, bytes key, bytes value) except -1:
        """Apply one put or delete to ``db`` (this front's DB) on the direct path: 1, or 0
        when it must take the general path (nothing applied). Raises what the WAL append
        raises; an I/O failure or a record logged but not in the memtable stops writes, as
        on the general path."""
        cdef uint64_t seq
        cdef dict attrs
        if not self.ready():  # read without the mutex: only to skip taking it in vain
            return 0
        self.acquire()
        try:
            if not self.ready():
                return 0
            seq = self.last_seq + 1
            # The DB's __dict__, fetched per call: a front holding it would make a reference
            # cycle (dict -> front -> dict), and a dropped DB would free its memtables only
            # at the next garbage collection instead of at once.
            attrs = PyObject_GenericGetDict(db, NULL)
            try:
                self.tail.c_append_op(seq, vtype, key, value, self.mem)
            except (InvalidArgumentError, ClosedError):
                raise  # refused before any byte was written: only this call's error
            except Exception as exc:
                # A failed write(2) leaves the segment's tail unknown, and a record logged but
                # not in the memtable must not be followed by others.
                self.stop_writes(attrs, exc)
                raise
            self.publish_seq(attrs, seq)
            return 1  # statistics: folded in from the tail (DB._fold_direct_writes)
        finally:
            self.release()


    # -- synced single writes -------------------------------------------------------------

    def take_synced_counts(self) -> tuple:
        """(writes, user bytes, WAL bytes, fsyncs) of the synced path since the last call;
        the counts restart from zero (mutex held: DB._fold_direct_writes)."""
        out = (self.synced_writes, self.synced_payload_bytes, self.synced_record_bytes,
               self.synced_groups)
        self.synced_writes = self.synced_payload_bytes = self.synced_record_bytes = 0
        self.synced_groups = 0
        return out

    cdef inline bint ready_synced(self) except -1:
        """Whether a synced put/delete may take write_one_synced now (read under the mutex to
        act on): the direct path's conditions but any WAL policy, and no writer queued but
        this path's own sentinel (a queued writer or barrier goes first)."""
        cdef Py_ssize_t n
        if self.sentinel is None or self.writers is None or not self.writable():
            return False
        n = len(self.writers)
        return n == 0 or (n == 1 and self.writers[0] is self.sentinel)

    cdef object _lock(self):
        """Take the DB mutex whatever strikes meanwhile. An interrupt (Ctrl-C) raised by the
        wait is returned, for the caller to raise once its write is finished."""
        deferred = None
        while True:
            try:
                self.acquire()
                return deferred
            except BaseException as exc:
                if deferred is None:
                    deferred = exc

    cdef int write_one_synced(self, object db, int vtype, bytes key, bytes value) except -1:
        """Apply one put or delete that must be fsynced (``sync=True``, or ``sync=None``
        under wal_sync="always"): 1 once it is durable, applied and published; 0 when it
        must take the general path (nothing applied). Raises what the append raises, or the
        group's fsync error (writes are then stopped, as on the general path)."""
        cdef uint64_t ticket, seq
        cdef Py_ssize_t rlen, plen = 0
        if not self.ready_synced():  # read without the mutex: only to skip taking it in vain
            return 0
        self.acquire()  # an interrupt here: nothing applied
        try:
            if not self.ready_synced():
                return 0
            if self.pending:  # (no wraparound in this build: [-1] would not index from the end)
                seq = (<tuple>self.pending[len(self.pending) - 1])[1] + 1
            else:
                seq = self.last_seq + 1
            try:
                # pwrite(2), not a copy into the mapping: the fsync that follows is shorter
                # (walmap.pyx).
                rlen = self.tail.c_append_record(seq, vtype, key, value, &plen, True)
            except (InvalidArgumentError, ClosedError):
                raise  # refused before any byte was written
            except Exception as exc:
                # The WAL's tail is unknown: stop writes (the writes pending before this one
                # are durable once fsynced and are applied, see _apply).
                self.stop_writes(PyObject_GenericGetDict(db, NULL), exc)
                raise
            self.next_ticket += 1
            ticket = self.next_ticket
            if not self.pending:
                # Queued writers and barriers (memtable switch, flush, close) wait behind it
                # until every pending synced write is applied.
                self.writers.append(self.sentinel)
            self.pending.append((ticket, seq, vtype, key, value, rlen, plen))
            pthread_mutex_lock(&self.smutex)  # with the GIL: see _await
            lsm_store_u64(&self.appended_ticket, ticket)
            if self.gather_sleeping:
                pthread_cond_signal(&self.gcond)  # a gathering leader counts it
            pthread_mutex_unlock(&self.smutex)
        finally:
            self.release()
        interrupt = self._await(db, ticket)
        error = self.failures.pop(ticket, None) if self.failures else None
        if error is not None:
            raise error
        if interrupt is not None:
            raise interrupt
        return 1

    cdef object _await(self, object db, uint64_t ticket):
        """Until ``ticket`` is finished: lead a group when none is led, else wait (poll,
        then sleep). Returns a deferred interrupt or None."""
        cdef int state
        cdef int64_t poll_ns
        deferred = None
        while True:
            # smutex is taken with the GIL held, never the reverse (no holder of smutex waits
            # for the GIL: a sleeper lets smutex go before it takes the GIL back), and the
            # GIL is let go only to wait: a release and retake of the GIL hands it to the
            # next thread in line, and would cost a turn per write.
            pthread_mutex_lock(&self.smutex)
            if self.done_ticket >= ticket:
                state = 0
            elif not self.syncing:
                lsm_store_int(&self.syncing, 1)
                state = 1
            else:
                poll_ns = self._poll_ns()
                with nogil:
                    self._give_turn()
                    pthread_mutex_unlock(&self.smutex)
                    if not self._poll_finished(ticket, poll_ns):
                        pthread_mutex_lock(&self.smutex)
                        if self.done_ticket < ticket and self.syncing:
                            self.sleepers += 1
                            _timed_wait(&self.scond, &self.smutex, WAIT_SLICE_NS)
                            self.sleepers -= 1
                        pthread_mutex_unlock(&self.smutex)  # before the GIL is taken back
                    self._take_turn()
                continue
            pthread_mutex_unlock(&self.smutex)
            if state == 0:
                return deferred
            if state == 1:
                interrupt = self._lead(db)
                if deferred is None:
                    deferred = interrupt

    cdef int64_t _poll_ns(self) noexcept nogil:
        """How long a synced writer polls before it sleeps (smutex held): 0 when fsyncs are
        slow enough for a wake-up's cost not to matter, or the groups too small for the
        wake-ups to queue up behind each other."""
        if self.sync_ns > self.poll_fsync_max_ns or self.last_group < self.poll_min_group:
            return 0
        return max(2 * self.sync_ns, <int64_t>POLL_MIN_NS)

    cdef bint _poll_finished(self, uint64_t ticket, int64_t poll_ns) noexcept nogil:
        """Poll (no lock) until ``ticket`` is finished or no group is led: True, or False
        once ``poll_ns`` has passed."""
        cdef int looks = 0
        cdef int64_t end = _now_ns(CLOCK_MONOTONIC) + poll_ns
        while lsm_load_u64(&self.done_ticket) < ticket and lsm_load_int(&self.syncing):
            if not _poll_step(&looks, end):
                return False
        return True

    cdef bint _poll_gathered(self, uint64_t want, int64_t end) noexcept nogil:
        """Poll (no lock) until ``want`` writes are pending: True, or False at ``end``."""
        cdef int looks = 0
        while lsm_load_u64(&self.appended_ticket) - lsm_load_u64(&self.done_ticket) < want:
            if not _poll_step(&looks, end):
                return False
        return True

    cdef inline void _give_turn(self) noexcept nogil:
        """A synced writer lets the GIL go (to wait): the next one may take it."""
        lsm_store_int(&self.gil_turn, 0)

    cdef void _take_turn(self) noexcept nogil:
        """Before a synced writer takes the GIL back: poll until no other synced writer
        holds the GIL (``gil_turn``), and claim it, so that the GIL is free when asked for
        instead of being waited for asleep. Waits at most TURN_WAIT_NS: the holder may have
        gone on with other work; then the turn is taken anyway and turns are not waited for
        during TURN_PAUSE_NS. Only an order of taking: the GIL itself keeps the exclusion."""
        cdef int looks = 0
        cdef int64_t end = 0
        while not lsm_cas_int(&self.gil_turn, 0, 1):
            if end == 0 and looks == POLL_PAUSES:  # the clock once the pauses are over
                end = _now_ns(CLOCK_MONOTONIC)
                if end < lsm_load_i64(&self.turn_pause_until):
                    break
                end += TURN_WAIT_NS
            if not _poll_step(&looks, end):
                lsm_store_i64(&self.turn_pause_until, _now_ns(CLOCK_MONOTONIC) + TURN_PAUSE_NS)
                break
        lsm_store_int(&self.gil_turn, 1)

    cdef object _lead(self, object db):
        """One group (``syncing`` set by the caller, cleared here whatever happens): wait for
        the last group's writers to append again, fsync, then insert and publish every
        write the fsync covered. Returns a deferred interrupt or None."""
        cdef uint64_t want, target = 0, finished = 0, applied = 0
        cdef int64_t deadline, poll_end, left, t0 = 0, took = 0
        cdef int rc = 0, err = 0, fd = -1
        deferred = None
        try:
            # Gather (group commit): the writers of the last group come back one by one
            # after it; wait until as many writes are pending as it held, at most one
            # fsync's time and 1 ms (4 writer threads, 3000 synced puts: half an fsync's
            # time 26-30k puts/s at 3.9 writes per fsync, a quarter 28k at 3.7, a whole
            # one 29k at 4.0). A single writer never waits (it is its whole group). Polled,
            # then asleep on gcond (see "Waiting without sleeping").
            with nogil:
                self._give_turn()
                pthread_mutex_lock(&self.smutex)
                want = self.last_group
                t0 = _now_ns(CLOCK_MONOTONIC)
                deadline = t0 + min(self.sync_ns, <int64_t>GATHER_MAX_NS)
                poll_end = min(deadline, t0 + self._poll_ns())
                pthread_mutex_unlock(&self.smutex)
                if not self._poll_gathered(want, poll_end) and poll_end < deadline:
                    pthread_mutex_lock(&self.smutex)
                    self.gather_sleeping = True
                    while self.appended_ticket - self.done_ticket < want:
                        left = deadline - _now_ns(CLOCK_MONOTONIC)
                        if left <= 0:
                            break
                        _timed_wait(&self.gcond, &self.smutex, left)
                    self.gather_sleeping = False
                    pthread_mutex_unlock(&self.smutex)
                self._take_turn()
            deferred = self._lock()
            try:
                if self.pending:
                    target = (<tuple>self.pending[len(self.pending) - 1])[0]
                    fd = self.tail.fd
            finally:
                self.release()
            if target:
                # No switch or close can retire this segment meanwhile: the sentinel holds the
                # writer queue until the pending writes are applied.
                with nogil:
                    self._give_turn()
                    t0 = _now_ns(CLOCK_MONOTONIC)
                    rc = fdatasync(fd)
                    if rc != 0:
                        err = errno
                    took = _now_ns(CLOCK_MONOTONIC) - t0
                    self._take_turn()
                interrupt = self._lock()
                deferred = deferred or interrupt
                try:
                    error = None
                    if rc != 0:
                        error = StorageIOError(
                            f"fsync failed ({strerror(err).decode(errors='replace')})",
                            getattr(self.tail.file, "path", None), err)
                    finished, applied, interrupt = self._apply(db, target, error)
                    deferred = deferred or interrupt
                finally:
                    self.release()
        finally:
            pthread_mutex_lock(&self.smutex)  # with the GIL: see _await
            if finished > self.done_ticket:
                lsm_store_u64(&self.done_ticket, finished)
            if applied:
                self.last_group = applied
                self.sync_ns = took if self.sync_ns == 0 else (4 * self.sync_ns + took) // 5
            lsm_store_int(&self.syncing, 0)
            if self.sleepers:
                pthread_cond_broadcast(&self.scond)
            pthread_mutex_unlock(&self.smutex)
        return deferred

    cdef tuple _apply(self, object db, uint64_t target, object error):
        """Mutex held, after the group's fsync: insert and publish the pending writes with
        tickets up to ``target``, in order. If the fsync failed or an insert fails, every
        pending write not applied fails (in ``failures``) and writes stop. Returns (last
        ticket finished, writes applied, deferred interrupt)."""
        cdef Py_ssize_t n = 0, nbytes = 0, payload = 0
        cdef uint64_t last = 0, seq = 0
        cdef tuple e
        cdef dict attrs = PyObject_GenericGetDict(db, NULL)
        deferred = None
        # A background error set meanwhile does not stop these: their records are durable,
        # and a failed append (the only WAL error that can strike meanwhile) comes after them.
        if error is None:
            try:
                for e in self.pending:
                    if <uint64_t>e[0] > target:
                        break
                    self.mem.c_add(<uint64_t>e[1], <int>e[2],
                                   <const uint8_t *>PyBytes_AS_STRING(e[3]),
                                   PyBytes_GET_SIZE(e[3]),
                                   <const uint8_t *>PyBytes_AS_STRING(e[4]),
                                   PyBytes_GET_SIZE(e[4]))
                    n += 1
                    nbytes += <Py_ssize_t>e[5]
                    payload += <Py_ssize_t>e[6]
                    last = e[0]
                    seq = e[1]
            except Exception as exc:  # MemoryError: logged, not in the memtable
                error = exc
        if n:
            self.publish_seq(attrs, seq)
            del self.pending[:n]
        if error is not None:
            if not self.failed:
                self.stop_writes(attrs, error)
            for e in self.pending:
                self.failures[e[0]] = error
                last = e[0]
            self.pending = []
        self.tail.unsynced_records = len(self.pending)
        if not self.pending:
            if self.sentinel in self.writers:
                self.writers.remove(self.sentinel)
            cv = attrs["_cv"]
            while cv._waiters:  # Python code: an interrupt may strike; a lost wake-up hangs
                try:
                    cv.notify_all()
                except BaseException as exc:
                    deferred = deferred or exc
        if n:
            # Statistics in C counters, folded in with the direct path's (DB.stats).
            self.synced_writes += n
            self.synced_payload_bytes += payload
            self.synced_record_bytes += nbytes
            self.synced_groups += 1
        return last, n, deferred


cdef class FrontMethod:
    """A DB method served by the DB's front: ``db.<name>`` is the bound method ``<name>`` of
    ``db._front``; on the class it is ``function`` (for documentation and explicit calls)."""

    cdef readonly object function
    cdef readonly str name

    def __init__(self, function, str name not None):
        self.function = function
        self.name = name

    def __get__(self, obj, objtype):
        if obj is None:
            return self.function
        return getattr(PyObject_GenericGetDict(obj, NULL)["_front"], self.name)


cdef class FrontField:
    """A DB attribute mirrored into the DB's WriteFront (``_front``): ``__set__`` stores the
    value in the instance ``__dict__`` and in the front; there is no ``__get__``, so reads
    are plain ``__dict__`` lookups. Implemented in C: an assignment runs no Python frame, so
    no interrupt can strike between the two stores."""

    cdef readonly str name

    def __init__(self, str name not None):
        self.name = name

    def __set__(self, obj, value):
        # The mirror first: a value it refuses leaves the attribute as it was, and storing
        # into the dict may free the old value, whose finaliser may run Python code (and so
        # let another thread in) only once both hold the new one.
        cdef dict attrs = obj.__dict__
        front = attrs.get("_front")
        if front is not None:
            (<WriteFront>front).mirror(self.name, value)
        attrs[self.name] = value


cdef inline int _path(WriteFront f, object sync) noexcept:
    """Which compiled path a single write may try: 1 the direct one (no fsync), 2 the
    synced one (write_one_synced), 0 none (the general path: a closed or read-only DB, an
    armed kill point, a sync argument that is not a bool or None, which it rejects)."""
    if f.closed or f.read_only or _killpoint._hook is not None:
        return 0
    if sync is True or (sync is None and f.always_syncs):
        return 2
    if sync is None or sync is False:
        return 1
    return 0


def put(self, key, value, *, sync=None):
    """Set ``key`` to ``value`` (both bytes-like). ``sync=True`` returns only after the WAL
    record is fsynced; ``None`` follows ``Options.wal_sync``."""
    cdef WriteFront f = self._front
    cdef int how = _path(f, sync)
    if how:
        if type(key) is not bytes:
            key = as_bytes(key, "key")
        if PyBytes_GET_SIZE(key) <= f.max_key:
            if type(value) is not bytes:
                value = as_bytes(value, "value")
            if PyBytes_GET_SIZE(value) <= f.max_value:
                if how == 1:
                    if f.write_one(self, TYPE_PUT, key, value):
                        return
                elif f.write_one_synced(self, TYPE_PUT, key, value):
                    return
    self._write_one_general(TYPE_PUT, key, value, sync)


def delete(self, key, *, sync=None):
    """Delete ``key`` (a no-op when absent); ``sync`` as for :meth:`put`."""
    cdef WriteFront f = self._front
    cdef int how = _path(f, sync)
    if how:
        if type(key) is not bytes:
            key = as_bytes(key, "key")
        if PyBytes_GET_SIZE(key) <= f.max_key:
            if how == 1:
                if f.write_one(self, TYPE_DELETE, key, b""):
                    return
            elif f.write_one_synced(self, TYPE_DELETE, key, b""):
                return
    self._write_one_general(TYPE_DELETE, key, b"", sync)
