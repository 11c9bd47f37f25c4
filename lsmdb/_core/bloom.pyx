"""Bloom filters for SSTables: MurmurHash3 x64-128, a standard and a blocked layout.

Layout of a serialized filter (never change; see docs/format/bloom.md)::

    filter  := bits[nbytes] num_probes:u8 format_tag:u8        (nbytes >= 1)
             | <empty>                                          ("no filter": always true)

    key -> (h1, h2) = murmur3_x64_128(key, seed=0x6C534D44)     (the two 64-bit halves)

    format_tag = 1, standard (Kirsch-Mitzenmacher double hashing over all m = 8 * nbytes bits):
      probe i (0 <= i < num_probes): bit ((h1 + i * h2) mod 2**64) mod m
    format_tag = 2, blocked (every probe in one 64-byte line; nbytes = 64 * nlines):
      line = ((h1 >> 32) * nlines) >> 32                        (fastrange32, nlines < 2**32)
      h = h2 mod 2**32; probe i: bit (h >> 23) of the line, then h = h * 0x9E3779B9 mod 2**32
    bit b of a byte array lives in byte b >> 3, mask 1 << (b & 7)

Why two: a standard filter's k probes land on k different cache lines (~7 misses per
lookup at 10 bits/key when the filters outgrow the CPU cache); the blocked one reads one line
for a slightly higher false-positive rate at the same memory (0.96% against 0.82% at 10
bits/key). Writers default to blocked (``Options.bloom.format``); readers read both.

Sizing: standard m = max(64, ceil(n * bits_per_key)) bits rounded up to whole bytes, with
num_probes = clamp(round(bits_per_key * ln 2), 1, 30); blocked m = ceil(n * bits_per_key)
rounded up to whole 512-bit lines (at least one), with num_probes from RocksDB's table for its
cache-local filter (fewer probes than the standard optimum: a line holds a Poisson number of
keys, and fewer probes suit its crowded lines). bits_per_key is a float so that Monkey-style
allocations can give each level a fractional budget (e.g. 3.7 bits/key).
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.math cimport ceil, exp, log, pow
from libc.stdint cimport uint8_t, uint32_t, uint64_t, uintptr_t
from libc.stdlib cimport free, realloc
from libc.string cimport memcpy, memset

from lsmdb.errors import CorruptionError, InvalidArgumentError

FORMAT_TAG = BLOOM_FORMAT_MURMUR3_KM
FORMAT_TAG_BLOCKED = BLOOM_FORMAT_BLOCKED
SEED = BLOOM_SEED
MAX_PROBES = BLOOM_MAX_PROBES
LINE_BYTES = BLOOM_LINE_BYTES
FORMATS = {"standard": BLOOM_FORMAT_MURMUR3_KM, "blocked": BLOOM_FORMAT_BLOCKED}


cdef extern from "stdlib.h" nogil:
    int posix_memalign(void **memptr, size_t alignment, size_t size)


cdef int _format_tag(object format) except -1:
    tag = FORMATS.get(format) if isinstance(format, str) else None
    if tag is None:
        raise InvalidArgumentError(
            f"bloom format must be one of {sorted(FORMATS)}, got {format!r}")
    return tag


cdef inline bytes _as_bytes(object o):
    if type(o) is bytes:
        return <bytes>o
    return memoryview(o).tobytes()


def murmur3_x64_128(data, uint32_t seed=0) -> int:
    """The 128-bit MurmurHash3 x64 value h1 | (h2 << 64) (equals mmh3.hash128 unsigned)."""
    cdef uint64_t out[2]
    cdef bytes b = _as_bytes(data)
    lsmdb_murmur3_x64_128(PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b), seed, out)
    return int(out[0]) | (int(out[1]) << 64)


def bloom_hash_pair(key) -> tuple:
    """(h1, h2) of a key under the persisted filter seed."""
    cdef uint64_t out[2]
    cdef bytes b = _as_bytes(key)
    bloom_hash(<const uint8_t *>PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b), out)
    return out[0], out[1]


cdef int _standard_probes(double bits_per_key) noexcept:
    cdef int k = <int>(bits_per_key * 0.6931471805599453 + 0.5)
    return 1 if k < 1 else (BLOOM_MAX_PROBES if k > BLOOM_MAX_PROBES else k)


cdef int _blocked_probes(double bits_per_key) noexcept:
    # RocksDB's choice for its cache-local (FastLocalBloom) filter, by millibits per key.
    cdef long mb = <long>(bits_per_key * 1000.0 + 0.5)
    if mb <= 2080:
        return 1
    if mb <= 3580:
        return 2
    if mb <= 5100:
        return 3
    if mb <= 6640:
        return 4
    if mb <= 8300:
        return 5
    if mb <= 10070:
        return 6
    if mb <= 11720:
        return 7
    if mb <= 14001:
        return 8
    if mb <= 16050:
        return 9
    if mb <= 18300:
        return 10
    if mb <= 22001:
        return 11
    if mb <= 25501:
        return 12
    if mb > 50000:
        return 24
    return <int>((mb - 1) // 2000 - 1)


def num_probes_for(double bits_per_key, format) -> int:
    """Probes per key: standard clamp(round(bits_per_key * ln 2), 1, 30); blocked from
    RocksDB's cache-local table (1 up to 2.08 bits/key, 6 at 10, 24 above 50)."""
    if _format_tag(format) == BLOOM_FORMAT_BLOCKED:
        return _blocked_probes(bits_per_key)
    return _standard_probes(bits_per_key)


cdef uint64_t _filter_bits(uint64_t num_keys, double bits_per_key, int tag) noexcept:
    cdef double m = ceil(<double>num_keys * bits_per_key)
    if tag == BLOOM_FORMAT_BLOCKED:
        if m < 512:
            m = 512
        return ((<uint64_t>m + 511) // 512) * 512
    if m < 64:
        m = 64
    return ((<uint64_t>m + 7) // 8) * 8


def filter_bits_for(Py_ssize_t num_keys, double bits_per_key, format) -> int:
    """Bits m of the filter built for num_keys keys: standard a multiple of 8, at least 64;
    blocked a multiple of 512 (whole lines), at least 512."""
    return _filter_bits(num_keys, bits_per_key, _format_tag(format))


cdef double _standard_fpr(double keys, double bits, int k) noexcept:
    return pow(1.0 - exp(-<double>k * keys / bits), k)


def expected_fpr(double bits_per_key, format) -> float:
    """The false-positive rate of a large filter at ``bits_per_key`` with the probe count its
    writer picks (``theoretical_fpr`` with n keys in n * bits_per_key bits, no rounding);
    1.0 for no filter."""
    cdef int tag = _format_tag(format)
    if bits_per_key <= 0.0:
        return 1.0
    cdef int k = _blocked_probes(bits_per_key) if tag == BLOOM_FORMAT_BLOCKED \
        else _standard_probes(bits_per_key)
    if tag == BLOOM_FORMAT_MURMUR3_KM:
        return _standard_fpr(1.0, bits_per_key, k)
    return _blocked_fpr(512.0 / bits_per_key, k)


cdef double _blocked_fpr(double lam, int k) noexcept:
    # Mean over the Poisson(lam) number of keys in a line of the line's standard FPR.
    cdef double p = exp(-lam)       # P(j keys in the line), j = 0 first
    cdef double total = 0.0, weight = p
    cdef long j = 1
    cdef long last = <long>(lam + 12.0 * lam ** 0.5 + 30.0)
    while j <= last:
        p *= lam / j
        total += p * pow(1.0 - pow(1.0 - 1.0 / 512.0, <double>k * j), k)
        weight += p
        j += 1
    return total / weight


def theoretical_fpr(Py_ssize_t num_keys, uint64_t num_bits, int num_probes,
                    format) -> float:
    """The expected false-positive rate. Standard: (1 - e^(-k n / m))^k. Blocked: the same
    formula per 512-bit line, averaged over the Poisson number of keys a line receives
    (mean 512 n / m); the 32-bit in-line hash's own collisions (~keys per line / 2^32)
    are below anything measurable and left out."""
    cdef int tag = _format_tag(format)
    if num_bits == 0:
        return 1.0
    if num_keys == 0:
        return 0.0
    if tag == BLOOM_FORMAT_MURMUR3_KM:
        return _standard_fpr(num_keys, <double>num_bits, num_probes)
    return _blocked_fpr(512.0 * num_keys / <double>num_bits, num_probes)


cdef class BloomFilterBuilder:
    """Collects key hashes; ``finish()`` sizes the bit array for the keys added."""

    def __cinit__(self, double bits_per_key, format="blocked"):
        if not (bits_per_key >= 0.0) or bits_per_key > 1000.0:
            raise InvalidArgumentError(f"bits_per_key must be in [0, 1000], got {bits_per_key}")
        self.bits_per_key = bits_per_key
        self.format_tag = _format_tag(format)
        self.hashes = NULL
        self.count = 0
        self.cap = 0

    def __dealloc__(self):
        free(self.hashes)

    cdef int c_add(self, const uint8_t *key, size_t n) except -1:
        cdef size_t new_cap
        cdef uint64_t *grown
        if self.bits_per_key == 0.0:
            return 0
        if self.count == self.cap:
            new_cap = self.cap * 2 if self.cap else 1024
            grown = <uint64_t *>realloc(self.hashes, new_cap * 2 * sizeof(uint64_t))
            if grown == NULL:
                raise MemoryError()
            self.hashes = grown
            self.cap = new_cap
        bloom_hash(key, n, self.hashes + 2 * self.count)
        self.count += 1
        return 0

    def add(self, key) -> None:
        cdef bytes b = _as_bytes(key)
        self.c_add(<const uint8_t *>PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b))

    def add_many(self, keys) -> None:
        cdef object key
        cdef bytes b
        for key in keys:
            b = _as_bytes(key)
            self.c_add(<const uint8_t *>PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b))

    def __len__(self) -> int:
        return self.count

    @property
    def num_probes(self) -> int:
        if self.format_tag == BLOOM_FORMAT_BLOCKED:
            return _blocked_probes(self.bits_per_key)
        return _standard_probes(self.bits_per_key)

    @property
    def format(self) -> str:
        return "blocked" if self.format_tag == BLOOM_FORMAT_BLOCKED else "standard"

    cdef bytes c_finish(self):
        if self.bits_per_key == 0.0:
            return b""
        cdef int tag = self.format_tag
        cdef uint64_t nbits = _filter_bits(self.count, self.bits_per_key, tag)
        cdef uint64_t nbytes = nbits // 8
        cdef uint64_t nlines = nbytes // BLOOM_LINE_BYTES
        cdef int k = self.num_probes
        if tag == BLOOM_FORMAT_BLOCKED and nlines > BLOOM_MAX_LINES:
            raise InvalidArgumentError(
                f"a blocked bloom filter holds at most {BLOOM_MAX_LINES} lines; "
                f"{self.count} keys at {self.bits_per_key} bits/key need {nlines}")
        cdef bytes out = PyBytes_FromStringAndSize(NULL, nbytes + BLOOM_TRAILER_BYTES)
        cdef uint8_t *bits = <uint8_t *>PyBytes_AS_STRING(out)
        cdef uint8_t *line
        cdef size_t i
        cdef int j
        cdef uint64_t h1, h2, pos
        cdef uint32_t h, b
        with nogil:  # only C memory: the hash array and the fresh, unshared bytes object
            memset(bits, 0, nbytes)
            if tag == BLOOM_FORMAT_BLOCKED:
                for i in range(self.count):
                    line = <uint8_t *>blocked_line(bits, nlines, self.hashes[2 * i])
                    h = <uint32_t>self.hashes[2 * i + 1]
                    for j in range(k):
                        b = h >> 23
                        line[b >> 3] |= <uint8_t>(1 << (b & 7))
                        h = h * <uint32_t>0x9E3779B9
            else:
                for i in range(self.count):
                    h1 = self.hashes[2 * i]
                    h2 = self.hashes[2 * i + 1]
                    for j in range(k):
                        pos = h1 % nbits
                        bits[pos >> 3] |= <uint8_t>(1 << (pos & 7))
                        h1 += h2
            bits[nbytes] = <uint8_t>k
            bits[nbytes + 1] = <uint8_t>tag
        return out

    def finish(self) -> bytes:
        """The serialized filter (b"" when bits_per_key is 0). The builder stays usable."""
        return self.c_finish()


cdef class BloomFilter:
    """A parsed filter over ``data`` (zero-copy: the buffer is pinned, not copied)."""

    def __cinit__(self, data, file=None, offset=None):
        self.file = file
        self.offset = offset
        self.aligned = NULL
        self._view = memoryview(data).cast("B") if not isinstance(data, bytes) else data
        cdef Py_ssize_t n = self._view.shape[0]
        cdef int tag
        if n == 0:
            self.no_filter = True
            self.nbits = 0
            self.k = 0
            self.bits = NULL
            return
        if n < 1 + BLOOM_TRAILER_BYTES:
            raise CorruptionError(f"bloom filter of {n} bytes is shorter than its trailer",
                                  file, offset)
        tag = self._view[n - 1]
        if tag != BLOOM_FORMAT_MURMUR3_KM and tag != BLOOM_FORMAT_BLOCKED:
            raise CorruptionError(f"unknown bloom filter format tag {tag}", file,
                                  None if offset is None else offset + n - 1)
        self.format_tag = tag
        self.k = self._view[n - 2]
        if self.k < 1 or self.k > BLOOM_MAX_PROBES:
            raise CorruptionError(f"bloom filter has invalid probe count {self.k}", file,
                                  None if offset is None else offset + n - 2)
        cdef Py_ssize_t nbytes = n - BLOOM_TRAILER_BYTES
        self.no_filter = False
        self.bits = &self._view[0]
        self.nbits = <uint64_t>nbytes * 8
        self.nlines = 0
        if tag == BLOOM_FORMAT_BLOCKED:
            if nbytes % BLOOM_LINE_BYTES or <uint64_t>(nbytes // BLOOM_LINE_BYTES) > BLOOM_MAX_LINES:
                raise CorruptionError(
                    f"blocked bloom filter of {nbytes} bytes is not a whole number of "
                    f"{BLOOM_LINE_BYTES}-byte lines", file, offset)
            self.nlines = nbytes // BLOOM_LINE_BYTES
            if (<uintptr_t>self.bits) % BLOOM_LINE_BYTES:
                # One probe reads one line only if the line is one cache line: copy the bits
                # (mapped at the block's file offset) to 64-byte aligned memory.
                if posix_memalign(&self.aligned, BLOOM_LINE_BYTES, nbytes) != 0:
                    self.aligned = NULL
                    raise MemoryError()
                memcpy(self.aligned, self.bits, nbytes)
                self.bits = <const uint8_t *>self.aligned

    def __dealloc__(self):
        free(self.aligned)

    cdef bint c_may_contain(self, const uint8_t *key, size_t n) noexcept nogil:
        cdef uint64_t h[2]
        if self.no_filter:
            return True
        bloom_hash(key, n, h)
        return self.c_may_contain_hash(h[0], h[1])

    cdef bint c_may_contain_hash(self, uint64_t h1, uint64_t h2) noexcept nogil:
        if self.no_filter:
            return True
        if self.nlines:
            return blocked_probe(self.bits, self.nlines, self.k, h1, h2)
        return bloom_probe(self.bits, self.nbits, self.k, h1, h2)

    def may_contain(self, key) -> bool:
        cdef bytes b = _as_bytes(key)
        return self.c_may_contain(<const uint8_t *>PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b))

    def may_contain_many(self, keys) -> list:
        cdef list out = []
        cdef object key
        cdef bytes b
        for key in keys:
            b = _as_bytes(key)
            out.append(self.c_may_contain(<const uint8_t *>PyBytes_AS_STRING(b),
                                          PyBytes_GET_SIZE(b)))
        return out

    @property
    def num_probes(self) -> int:
        return self.k

    @property
    def num_bits(self) -> int:
        return self.nbits

    @property
    def format(self) -> str | None:
        """"standard" or "blocked" (None for the "no filter" encoding)."""
        if self.no_filter:
            return None
        return "blocked" if self.format_tag == BLOOM_FORMAT_BLOCKED else "standard"

    @property
    def is_empty(self) -> bool:
        """True for the "no filter" encoding (every key may be present)."""
        return self.no_filter

    def __len__(self) -> int:
        return self._view.shape[0]
