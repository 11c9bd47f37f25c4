# cython: language_level=3
"""The storage engine's per-row scan loops (lsmdb/engine/scan.py), as C iterators.

A table or index scan yields one ``TupleRecord(tuple_id, row)`` per key; written as Python
generators, the bytecode around each row (unpacking the tuple id, building the key of the
row, building the record, resuming the generator) cost more than decoding the row. These
iterators do that work in C and call the row codec's decoder once per row.

Both iterators end with ``finish()``: it adds the rows yielded to ``metrics.rows_read`` (when
given) and runs the callbacks given to ``then`` once, in order
(the scan's bookkeeping: snapshot release, rows-read metric, an autocommit's end), when the
source is exhausted, when the source or a callback raises, on ``close()``, or when the
iterator is dropped unfinished - the moments a generator's ``finally`` would run.

Key layouts (lsmdb/storage_keys.py): heap key ``0x10 u64 table_id u64 tuple_id``; index
entry: the tuple id is the value's first 8 bytes (unique index) or the key's last 8 bytes.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport uint8_t, uint64_t

_tuple_new = tuple.__new__


cdef inline uint64_t _be64(const uint8_t *p) noexcept:
    return ((<uint64_t>p[0] << 56) | (<uint64_t>p[1] << 48) | (<uint64_t>p[2] << 40) |
            (<uint64_t>p[3] << 32) | (<uint64_t>p[4] << 24) | (<uint64_t>p[5] << 16) |
            (<uint64_t>p[6] << 8) | <uint64_t>p[7])


cdef inline void _put_be64(uint8_t *p, uint64_t v) noexcept:
    cdef int i
    for i in range(8):
        p[7 - i] = <uint8_t>(v >> (8 * i))


cdef class _Records:
    cdef object source
    cdef object specs
    cdef object positions
    cdef object record_type
    cdef object decode
    cdef list finishers
    cdef object metrics
    cdef public Py_ssize_t count
    cdef bint done

    cdef _start(self, source, specs, positions, record_type, decode_row, decode_row_columns,
                metrics):
        """The state every record iterator starts with (called by the subclasses' __init__)."""
        self.source = iter(source)
        self.metrics = metrics
        self.specs = specs
        self.positions = positions
        self.record_type = record_type
        self.decode = decode_row if positions is None else decode_row_columns
        self.finishers = []
        self.count = 0
        self.done = False

    def __iter__(self):
        return self

    def then(self, fn):
        """Run ``fn()`` when the iteration ends (see the module doc)."""
        self.finishers.append(fn)
        return self

    cpdef finish(self):
        if self.done:
            return
        self.done = True
        self.source = None
        fns, self.finishers = self.finishers, []
        error = None
        if self.metrics is not None:
            self.metrics.rows_read += self.count
        for fn in fns:
            try:
                fn()
            except BaseException as exc:
                if error is None:
                    error = exc
        if error is not None:
            raise error

    def close(self):
        self.finish()

    cdef inline object _row(self, bytes data):
        if self.positions is None:
            return self.decode(self.specs, data)
        return self.decode(self.specs, data, self.positions)

    def __dealloc__(self):
        if not self.done and (self.finishers or self.metrics is not None):
            try:
                self.finish()
            except BaseException:
                pass


cdef class HeapRecords(_Records):
    """``(heap key, row bytes)`` pairs -> TupleRecord(tuple_id, decoded row)."""

    def __init__(self, source, specs, positions, record_type, decode_row, decode_row_columns,
                 metrics=None):
        self._start(source, specs, positions, record_type, decode_row, decode_row_columns,
                    metrics)

    def __next__(self):
        cdef bytes k
        if self.done:
            raise StopIteration
        try:
            item = next(self.source)
        except BaseException:
            self.finish()
            raise
        k = item[0]
        if PyBytes_GET_SIZE(k) < 17:
            self.finish()
            raise ValueError(f"not a heap key: {k!r}")
        tid = _be64(<const uint8_t *>PyBytes_AS_STRING(k) + 9)
        try:
            row = self._row(item[1])
        except BaseException:
            self.finish()
            raise
        self.count += 1
        return _tuple_new(self.record_type, (tid, row))


cdef class IndexRecords(_Records):
    """Index entries ``(key, value)`` -> the rows they name -> TupleRecord(tuple_id, decoded
    row). The rows are read in batches through ``get_many(heap_keys, snapshot)`` (a list of
    values, None where absent): one call per batch instead of one point read per entry, so
    the key space can visit each of its files and blocks once per batch. A batch starts at 4
    entries and doubles up to 256, so a scan stopped early (a LIMIT) reads few rows ahead.
    An entry whose row is missing is skipped (cannot happen while index and heap commit
    together)."""

    cdef object get_many
    cdef object snapshot
    cdef uint64_t table_id
    cdef bint unique
    cdef list tids
    cdef list values
    cdef Py_ssize_t pos
    cdef Py_ssize_t batch
    cdef bint exhausted

    def __init__(self, source, get_many, snapshot, uint64_t table_id, bint unique, specs,
                 positions, record_type, decode_row, decode_row_columns, metrics=None):
        self._start(source, specs, positions, record_type, decode_row, decode_row_columns,
                    metrics)
        self.get_many = get_many
        self.snapshot = snapshot
        self.table_id = table_id
        self.unique = unique
        self.tids = []
        self.values = []
        self.pos = 0
        self.batch = 4
        self.exhausted = False

    cdef _fill(self):
        """Read the next batch of entries and their rows."""
        cdef bytes k, v, hk
        cdef uint64_t tid
        cdef uint8_t *p
        cdef list keys = []
        cdef list tids = []
        cdef Py_ssize_t n = 0
        source = self.source
        while n < self.batch:
            try:
                item = next(source)
            except StopIteration:
                self.exhausted = True
                break
            k = item[0]
            v = item[1]
            if self.unique:
                if PyBytes_GET_SIZE(v) < 8:
                    raise ValueError(f"not a unique index entry value: {v!r}")
                tid = _be64(<const uint8_t *>PyBytes_AS_STRING(v))
            else:
                if PyBytes_GET_SIZE(k) < 17:
                    raise ValueError(f"not an index entry key: {k!r}")
                tid = _be64(<const uint8_t *>PyBytes_AS_STRING(k) + PyBytes_GET_SIZE(k) - 8)
            hk = PyBytes_FromStringAndSize(NULL, 17)
            p = <uint8_t *>PyBytes_AS_STRING(hk)
            p[0] = 0x10
            _put_be64(p + 1, self.table_id)
            _put_be64(p + 9, tid)
            keys.append(hk)
            tids.append(tid)
            n += 1
        if n:
            values = self.get_many(keys, self.snapshot)
            if len(values) != n:
                raise AssertionError(f"get_many returned {len(values)} values for {n} keys")
            self.values = values
        else:
            self.values = []
        self.tids = tids
        self.pos = 0
        if self.batch < 256:
            self.batch *= 2

    def __next__(self):
        cdef Py_ssize_t i
        if self.done:
            raise StopIteration
        try:
            while True:
                i = self.pos
                if i < len(self.values):
                    self.pos = i + 1
                    data = self.values[i]
                    if data is not None:
                        tid = self.tids[i]
                        break
                    continue
                if self.exhausted:
                    self.finish()
                    raise StopIteration
                self._fill()
            row = self._row(data)
        except BaseException:
            self.finish()
            raise
        self.count += 1
        return _tuple_new(self.record_type, (tid, row))
