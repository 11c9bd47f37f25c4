"""DB.get and DB.get_at compiled: the point-read entry points of lsmdb.lsm.db.DB.

They are class attributes of DB and bind as its methods (Cython functions bind like Python
ones), so ``db.get(k)`` runs no Python frame: that frame and its attribute loads were about a
third of a get that a bloom filter answers, and a tenth of one that reads a cached block.
They read two fields of the DB: ``_closed`` and the superversion tuple ``_sv`` (sv[3] the
last visible sequence, sv[4] the ReadView), and call its ``_snapshot_seqno`` for a snapshot.
The ReadView's lookup is called directly in C.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdint cimport uint8_t

from lsmdb._core.readpath cimport ReadView

from lsmdb.errors import ClosedError


cpdef bytes as_bytes(object obj, str name):
    """Any buffer as bytes; TypeError naming the argument ``name`` otherwise (str included).
    The one coercion of keys and values: DB's Python methods use it too."""
    if isinstance(obj, bytes):
        return obj
    if not isinstance(obj, str):
        try:
            return bytes(memoryview(obj))
        except TypeError:
            pass
    raise TypeError(f"{name} must be bytes-like, not {type(obj).__name__}")


def get(self, key, default=None, *, snapshot=None):
    """The value of ``key`` as bytes, or ``default`` when absent; read at ``snapshot``
    (a :class:`Snapshot` of this DB) when given, else at the latest write."""
    cdef tuple sv
    if self._closed:
        raise ClosedError("database is closed")
    if type(key) is not bytes:
        key = as_bytes(key, "key")
    sv = self._sv
    if snapshot is None:
        return (<ReadView>sv[4])._get(<const uint8_t *>PyBytes_AS_STRING(key),
                                      PyBytes_GET_SIZE(key), sv[3], default, None)
    return (<ReadView>sv[4])._get(<const uint8_t *>PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key),
                                  self._snapshot_seqno(snapshot), default, None)


def get_at(self, key, seqno=None, default=None):
    """``get`` for callers that hold their own read points (the storage engine's key
    space): ``key`` must be bytes and ``seqno`` a sequence number the caller keeps
    pinned by a live :class:`Snapshot` (None: the latest write). No other checks."""
    cdef tuple sv
    if self._closed or type(key) is not bytes:
        return self.get(key, default)  # the checked path raises the right error
    sv = self._sv
    return (<ReadView>sv[4])._get(<const uint8_t *>PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key),
                                  sv[3] if seqno is None else seqno, default, None)
