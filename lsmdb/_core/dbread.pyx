"""DB.get and DB.get_at as class attributes of lsmdb.lsm.db.DB, and ``as_bytes``.

The reads themselves are ``WriteFront.get`` / ``get_at`` (lsmdb/_core/writefront.pyx): the
DB class's ``FrontMethod`` descriptors hand out the bound methods of the instance's front, so
``db.get(k)`` runs no Python frame and reads the DB's state as C fields. These functions
(what ``DB.get`` on the class, ``DB.get(db, k)`` and the documentation see) call the DB's
front.
"""


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
    return self._front.get(key, default, snapshot=snapshot)


def get_at(self, key, seqno=None, default=None):
    """``get`` for callers that hold their own read points (the storage engine's key
    space): ``key`` must be bytes and ``seqno`` a sequence number the caller keeps
    pinned by a live :class:`Snapshot` (None: the latest write). No other checks."""
    return self._front.get_at(key, seqno, default)
