# cython: language_level=3
"""The storage engine's staging loops in C: an insert's keys (lsmdb/engine/dml.py
``insert_rows``), a commit's write batch (lsmdb/engine/engine.py ``_commit``) and the deleted
keys the conflict tracker keeps of it (lsmdb/engine/commit.py).

For each new row it stages, into the statement's ``puts`` dict, the heap key -> encoded row
and every B-tree index entry, and checks each uniqueness slot with one read. Written in
Python this loop's bytecode (key tuples, key concatenation, tuple id packing, dict stores)
cost more than the key encoding it calls; here it is C around one call of the key codec per
index and row. The layouts are those of lsmdb/storage_keys.py and lsmdb/indexes/btree.py:

    heap key      0x10 u64 table_id u64 tuple_id            -> encoded row
    non-unique    prefix encode_key(key columns) u64 tuple_id -> include columns (or b"")
    unique        prefix encode_key(key columns)             -> u64 tuple_id + include columns
                  (a key holding a NULL under NULLS DISTINCT keeps the tuple id suffix and is
                  no uniqueness slot)

An index plan (``BTreeIndex.insert_plan``) is the tuple
``(prefix, key_specs, flags, key_positions, unique, slot_always, include_specs,
include_positions)``; ``include_positions`` is empty without include columns.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from libc.stdint cimport uint8_t, uint64_t

from lsmdb._core.batch cimport WriteBatch
from lsmdb._core.ikey cimport TYPE_DELETE, TYPE_PUT


cdef inline bytes _be64(uint64_t v):
    cdef bytes out = PyBytes_FromStringAndSize(NULL, 8)
    cdef uint8_t *p = <uint8_t *>PyBytes_AS_STRING(out)
    cdef int i
    for i in range(8):
        p[7 - i] = <uint8_t>(v >> (8 * i))
    return out


cdef inline bytes _heap_key(uint64_t table_id, uint64_t tid):
    cdef bytes out = PyBytes_FromStringAndSize(NULL, 17)
    cdef uint8_t *p = <uint8_t *>PyBytes_AS_STRING(out)
    cdef int i
    p[0] = 0x10
    for i in range(8):
        p[8 - i] = <uint8_t>(table_id >> (8 * i))
        p[16 - i] = <uint8_t>(tid >> (8 * i))
    return out


cdef inline tuple _pick(tuple row, tuple positions):
    cdef Py_ssize_t i, n = len(positions)
    cdef tuple out = PyTuple_New(n)
    for i in range(n):
        v = row[<Py_ssize_t>positions[i]]
        Py_INCREF(v)
        PyTuple_SET_ITEM(out, i, v)
    return out


def stage_inserts(uint64_t table_id, list tids, list rows, list datas, tuple plans,
                  dict puts, get, Py_ssize_t max_key, encode_key, encode_row):
    """Stage rows ``rows[i]`` (stored form, tuples) encoded as ``datas[i]`` under tuple ids
    ``tids[i]``. Returns ``(heap_keys, None)``, or stops at the first index key that is too
    long or whose uniqueness slot is taken (staged already, or ``get(key)`` finds an entry:
    a new tuple id is in no stored entry, so the entry is another row's) and returns
    ``(heap_keys so far, (reason, plan index, key, tuple id))`` with reason "too_long" or
    "taken"; ``puts`` then holds a partial stage the caller discards."""
    cdef Py_ssize_t i, j, n = len(rows), nplans = len(plans)
    cdef list heap_keys = []
    cdef tuple plan, row, values
    cdef bytes hk, tb, key, value, inc
    cdef uint64_t tid
    cdef bint slot
    if len(tids) != n or len(datas) != n:
        raise ValueError("tids, rows and datas must have the same length")
    for i in range(n):
        tid = tids[i]
        row = rows[i]
        hk = _heap_key(table_id, tid)
        heap_keys.append(hk)
        puts[hk] = datas[i]
        if nplans == 0:
            continue
        tb = _be64(tid)
        for j in range(nplans):
            plan = plans[j]
            values = _pick(row, <tuple>plan[3])
            key = <bytes>plan[0] + <bytes>encode_key(plan[1], values, plan[2])
            if plan[7]:
                inc = encode_row(plan[6], _pick(row, <tuple>plan[7]))
            else:
                inc = b""
            slot = False
            if plan[4]:
                value = tb + inc
                if plan[5] or None not in values:
                    slot = True
                else:
                    key = key + tb
            else:
                key = key + tb
                value = inc
            if len(key) > max_key:
                return heap_keys, ("too_long", j, key, tid)
            if slot and (key in puts or get(key) is not None):
                return heap_keys, ("taken", j, key, tid)
            puts[key] = value
    return heap_keys, None


def batch_overlay(WriteBatch batch not None, dict overlay):
    """Append a transaction's overlay to ``batch`` in the overlay's order: PUT key -> value,
    DELETE where the value is None (what ``batch.put`` / ``batch.delete`` per key would
    append; keys and values are bytes)."""
    cdef bytes kb, vb
    for k, v in overlay.items():
        if type(k) is not bytes or (v is not None and type(v) is not bytes):
            raise TypeError(f"overlay keys and values are bytes, got {type(k).__name__} -> "
                            f"{type(v).__name__}")
        kb = <bytes>k
        if v is None:
            batch.c_add(TYPE_DELETE, <const uint8_t *>PyBytes_AS_STRING(kb),
                        PyBytes_GET_SIZE(kb), NULL, 0)
        else:
            vb = <bytes>v
            batch.c_add(TYPE_PUT, <const uint8_t *>PyBytes_AS_STRING(kb), PyBytes_GET_SIZE(kb),
                        <const uint8_t *>PyBytes_AS_STRING(vb), PyBytes_GET_SIZE(vb))


def deleted_keys(dict overlay):
    """The keys of ``overlay`` whose value is None (deleted), as a frozenset."""
    cdef list out = []
    for k, v in overlay.items():
        if v is None:
            out.append(k)
    return frozenset(out)
