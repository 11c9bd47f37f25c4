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
from libc.stdint cimport uint8_t, uint64_t

from lsmdb._core.ikey cimport TYPE_DELETE, TYPE_PUT
from lsmdb._core.memtable cimport Memtable
from lsmdb._core.readpath cimport ReadView
from lsmdb._core.walappend cimport WalTail

from lsmdb import killpoint as _killpoint
from lsmdb._core.dbread import as_bytes
from lsmdb.errors import ClosedError, InvalidArgumentError


cdef extern from "Python.h":
    dict PyObject_GenericGetDict(object obj, void *context)


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

    def __init__(self):
        self.closed = True

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
                "memtable_limit": self.memtable_limit, "max_key": self.max_key,
                "max_value": self.max_value, "sv": self.sv}

    cdef inline bint ready(self) noexcept:
        """Whether a write may take the direct path now (read under the mutex to act on)."""
        return (not self.closed and not self.closing and not self.read_only and not self.failed
                and self.never_syncs and self.no_write_stall and self.tail is not None
                and self.tail.fd >= 0 and self.mem is not None and not self.writers
                and self.mem.c_used_bytes() < self.memtable_limit)

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
                # not in the memtable must not be followed by others: stop writes until
                # resume(), as the general path does.
                self.mirror("_bg_error", exc)  # as db._bg_error = exc would (FrontField)
                attrs["_bg_error"] = exc
                attrs["_wal_failed"] = True
                raise
            # Publish: the write is visible as soon as the sequence moves.
            seq_obj = seq
            self.last_seq = seq
            attrs["_last_seq"] = seq_obj
            sv = self.sv  # same memtables and Version: only the sequence moves
            sv = (sv[0], sv[1], sv[2], seq_obj, sv[4])
            self.sv = sv  # as db._sv = sv would (FrontField)
            attrs["_sv"] = sv
            return 1  # statistics: folded in from the tail (DB._fold_direct_writes)
        finally:
            self.release()


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


cdef inline bint _direct_wanted(object sync) noexcept:
    return (sync is None or sync is False) and _killpoint._hook is None


def put(self, key, value, *, sync=None):
    """Set ``key`` to ``value`` (both bytes-like). ``sync=True`` returns only after the WAL
    record is fsynced; ``None`` follows ``Options.wal_sync``."""
    cdef WriteFront f = self._front
    if _direct_wanted(sync) and not f.closed and not f.read_only:
        if type(key) is not bytes:
            key = as_bytes(key, "key")
        if PyBytes_GET_SIZE(key) <= f.max_key:
            if type(value) is not bytes:
                value = as_bytes(value, "value")
            if (PyBytes_GET_SIZE(value) <= f.max_value
                    and f.write_one(self, TYPE_PUT, key, value)):
                return
    self._write_one_general(TYPE_PUT, key, value, sync)


def delete(self, key, *, sync=None):
    """Delete ``key`` (a no-op when absent); ``sync`` as for :meth:`put`."""
    cdef WriteFront f = self._front
    if _direct_wanted(sync) and not f.closed and not f.read_only:
        if type(key) is not bytes:
            key = as_bytes(key, "key")
        if PyBytes_GET_SIZE(key) <= f.max_key and f.write_one(self, TYPE_DELETE, key, b""):
            return
    self._write_one_general(TYPE_DELETE, key, b"", sync)
