"""Range tombstones, fragmented for per-key lookups (layout and rules in rangedel.pxd).

A tombstone ``(start, end, seqno)`` deletes every version of the user keys in
``[start, end)`` with a smaller seqno, for readers whose snapshot includes ``seqno``.
Overlapping tombstones are cut at every start/end point into non-overlapping fragments,
each carrying the sorted (descending) seqnos of the tombstones spanning it, so a lookup is
one binary search over fragments and one over that fragment's seqnos.
"""

import bisect
import heapq

from libc.stdint cimport uint8_t, uint64_t
from libc.stdlib cimport free, malloc

from lsmdb._core.ikey cimport compare_user, max_seqno

from lsmdb.errors import InvalidArgumentError

MAX_SEQNO = (1 << 56) - 1


cdef class FragmentedRangeTombstones:
    """Non-overlapping fragments of ``tombstones`` (an iterable of (start, end, seqno)).

    Empty or inverted ranges (start >= end) are ignored.
    """

    def __cinit__(self):
        self._frags = NULL
        self._seqs = NULL
        self._n = 0
        self._nseqs = 0

    def __dealloc__(self):
        free(self._frags)
        free(self._seqs)

    def __init__(self, tombstones=()):
        cdef list ts = []
        for item in tombstones:
            start, end, seqno = item
            start = bytes(start)
            end = bytes(end)
            seqno = int(seqno)
            if seqno < 0 or seqno > MAX_SEQNO:
                raise InvalidArgumentError(f"range tombstone seqno {seqno} out of range")
            if start < end:
                ts.append((start, end, seqno))
        ts.sort()
        points = sorted({t[0] for t in ts} | {t[1] for t in ts})
        frags = []
        active = []                       # heap of (end, seqno)
        cdef Py_ssize_t i, nxt = 0, nts = len(ts)
        for i in range(len(points) - 1):
            lo = points[i]
            while nxt < nts and ts[nxt][0] <= lo:
                heapq.heappush(active, (ts[nxt][1], ts[nxt][2]))
                nxt += 1
            while active and active[0][0] <= lo:
                heapq.heappop(active)
            if active:
                frags.append((lo, points[i + 1], sorted({a[1] for a in active}, reverse=True)))
        self._build(frags)

    cdef int _build(self, list frags) except -1:
        cdef Py_ssize_t nseqs = sum(len(f[2]) for f in frags)
        cdef Py_ssize_t i = 0, off = 0, si = 0
        cdef list parts = []
        free(self._frags)
        free(self._seqs)
        self._n = 0
        self._frags = <Fragment *>malloc(max(1, len(frags)) * sizeof(Fragment))
        self._seqs = <uint64_t *>malloc(max(1, nseqs) * sizeof(uint64_t))
        if self._frags == NULL or self._seqs == NULL:
            raise MemoryError()
        for start, end, seqs in frags:
            self._frags[i].start_off = off
            self._frags[i].start_len = len(start)
            off += len(start)
            self._frags[i].end_off = off
            self._frags[i].end_len = len(end)
            off += len(end)
            parts.append(start)
            parts.append(end)
            self._frags[i].seq_begin = si
            for s in seqs:
                self._seqs[si] = s
                si += 1
            self._frags[i].seq_end = si
            i += 1
        self._n = len(frags)
        self._nseqs = nseqs
        self._keys = b"".join(parts)
        self._kp = <const uint8_t *>(<char *>self._keys)
        return 0

    cdef uint64_t c_max_covering(self, const uint8_t *key, size_t n,
                                 uint64_t snapshot) noexcept nogil:
        cdef Py_ssize_t lo = 0, hi = self._n, mid
        cdef Fragment *f
        # Last fragment whose start <= key.
        while lo < hi:
            mid = (lo + hi) >> 1
            f = &self._frags[mid]
            if compare_user(self._kp + f.start_off, f.start_len, key, n) <= 0:
                lo = mid + 1
            else:
                hi = mid
        if lo == 0:
            return 0
        f = &self._frags[lo - 1]
        if compare_user(key, n, self._kp + f.end_off, f.end_len) >= 0:
            return 0
        # First seqno <= snapshot in the descending list.
        lo = f.seq_begin
        hi = f.seq_end
        while lo < hi:
            mid = (lo + hi) >> 1
            if self._seqs[mid] > snapshot:
                lo = mid + 1
            else:
                hi = mid
        return self._seqs[lo] if lo < f.seq_end else 0

    def max_covering_seqno(self, user_key, uint64_t snapshot_seqno=MAX_SEQNO) -> int:
        """Largest seqno <= snapshot_seqno of a tombstone covering user_key; 0 if none."""
        cdef const uint8_t[::1] v = memoryview(user_key).cast("B")
        if v.shape[0] == 0:
            return self.c_max_covering(<const uint8_t *>b"", 0, snapshot_seqno)
        return self.c_max_covering(&v[0], v.shape[0], snapshot_seqno)

    def covers(self, user_key, uint64_t entry_seqno,
               uint64_t snapshot_seqno=MAX_SEQNO) -> bool:
        """Whether a tombstone visible at snapshot_seqno deletes this version of user_key."""
        return self.max_covering_seqno(user_key, snapshot_seqno) > entry_seqno

    def fragments(self) -> list:
        """[(start, end, [seqnos descending])] in key order."""
        cdef Py_ssize_t i
        cdef Fragment *f
        out = []
        for i in range(self._n):
            f = &self._frags[i]
            out.append((self._keys[f.start_off:f.start_off + f.start_len],
                        self._keys[f.end_off:f.end_off + f.end_len],
                        [self._seqs[j] for j in range(f.seq_begin, f.seq_end)]))
        return out

    def tombstones(self) -> list:
        """Each fragment's (start, end, seqno), contiguous pieces of one seqno coalesced."""
        by_seq = {}
        for start, end, seqs in self.fragments():
            for s in seqs:
                by_seq.setdefault(s, []).append((start, end))
        return _coalesce(by_seq)

    @property
    def empty(self) -> bool:
        return self._n == 0

    def __len__(self) -> int:
        return self._n

    def __bool__(self) -> bool:
        return self._n != 0

    def __repr__(self) -> str:
        return f"FragmentedRangeTombstones({self._n} fragments, {self._nseqs} seqnos)"


cdef list _coalesce(dict by_seq):
    out = []
    for seq, ranges in by_seq.items():
        ranges.sort()
        cur_s, cur_e = ranges[0]
        for s, e in ranges[1:]:
            if s == cur_e:
                cur_e = e
            else:
                out.append((cur_s, cur_e, seq))
                cur_s, cur_e = s, e
        out.append((cur_s, cur_e, seq))
    out.sort(key=lambda t: (t[0], -t[2], t[1]))
    return out


def compaction_tombstones_to_keep(tombstones, snapshots, bint bottommost) -> list:
    """The range tombstones a compaction writes to its output, as (start, end, seqno).

    Within one snapshot stripe only the newest tombstone over a key range matters (every
    reader that sees an older one sees the newer one too), so older ones are dropped. At
    the bottommost level a tombstone in the earliest stripe (no snapshot older than it) is
    dropped too: the CompactionIterator has already dropped everything it covers. The
    caller guarantees the compaction's inputs hold every older entry in these ranges.
    ``tombstones`` is a FragmentedRangeTombstones or an iterable of (start, end, seqno);
    ``snapshots`` are the live snapshot seqnos.
    """
    cdef FragmentedRangeTombstones frt = (
        tombstones if isinstance(tombstones, FragmentedRangeTombstones)
        else FragmentedRangeTombstones(tombstones))
    snaps = sorted(set(snapshots))
    by_seq = {}
    for start, end, seqs in frt.fragments():
        seen_stripes = set()
        for s in seqs:                     # descending: the first per stripe is the newest
            stripe = bisect.bisect_left(snaps, s)
            if stripe in seen_stripes or (bottommost and stripe == 0):
                continue
            seen_stripes.add(stripe)
            by_seq.setdefault(s, []).append((start, end))
    return _coalesce(by_seq)
