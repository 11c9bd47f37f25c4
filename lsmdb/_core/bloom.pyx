"""Bloom filters for SSTables: MurmurHash3 x64-128 + Kirsch-Mitzenmacher double hashing.

Layout of a serialized filter (never change; see docs/format/bloom.md)::

    filter  := bits[nbytes] num_probes:u8 format_tag:u8        (nbytes >= 1)
             | <empty>                                          ("no filter": always true)

    key -> (h1, h2) = murmur3_x64_128(key, seed=0x6C534D44)     (the two 64-bit halves)
    probe i (0 <= i < num_probes): bit ((h1 + i * h2) mod 2**64) mod (8 * nbytes)
    bit b lives in byte b >> 3, mask 1 << (b & 7)
    format_tag = 1 (murmur3 x64-128, double hashing)

Sizing: m = max(64, ceil(n * bits_per_key)) bits rounded up to whole bytes, with
num_probes = clamp(round(bits_per_key * ln 2), 1, 30). bits_per_key is a float so that
Monkey-style allocations can give each level a fractional budget (e.g. 3.7 bits/key).
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.math cimport ceil, exp, log, pow
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, realloc
from libc.string cimport memset

from lsmdb.errors import CorruptionError, InvalidArgumentError

FORMAT_TAG = BLOOM_FORMAT_MURMUR3_KM
SEED = BLOOM_SEED
MAX_PROBES = BLOOM_MAX_PROBES


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


def num_probes_for(double bits_per_key) -> int:
    """k = clamp(round(bits_per_key * ln 2), 1, 30)."""
    cdef int k = <int>(bits_per_key * 0.6931471805599453 + 0.5)
    return 1 if k < 1 else (BLOOM_MAX_PROBES if k > BLOOM_MAX_PROBES else k)


def filter_bits_for(Py_ssize_t num_keys, double bits_per_key) -> int:
    """Bits m of the filter built for num_keys keys (a multiple of 8, at least 64)."""
    cdef double m = ceil(<double>num_keys * bits_per_key)
    if m < 64:
        m = 64
    return ((<uint64_t>m + 7) // 8) * 8


def theoretical_fpr(Py_ssize_t num_keys, uint64_t num_bits, int num_probes) -> float:
    """(1 - e^(-k n / m))^k, the classic false-positive estimate."""
    if num_bits == 0:
        return 1.0
    return pow(1.0 - exp(-<double>num_probes * num_keys / <double>num_bits), num_probes)


cdef class BloomFilterBuilder:
    """Collects key hashes; ``finish()`` sizes the bit array for the keys added."""

    def __cinit__(self, double bits_per_key):
        if not (bits_per_key >= 0.0) or bits_per_key > 1000.0:
            raise InvalidArgumentError(f"bits_per_key must be in [0, 1000], got {bits_per_key}")
        self.bits_per_key = bits_per_key
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
        return num_probes_for(self.bits_per_key)

    cdef bytes c_finish(self):
        if self.bits_per_key == 0.0:
            return b""
        cdef uint64_t nbits = filter_bits_for(self.count, self.bits_per_key)
        cdef uint64_t nbytes = nbits // 8
        cdef int k = num_probes_for(self.bits_per_key)
        cdef bytes out = PyBytes_FromStringAndSize(NULL, nbytes + BLOOM_TRAILER_BYTES)
        cdef uint8_t *bits = <uint8_t *>PyBytes_AS_STRING(out)
        cdef size_t i
        cdef int j
        cdef uint64_t h1, h2, pos
        with nogil:  # only C memory: the hash array and the fresh, unshared bytes object
            memset(bits, 0, nbytes)
            for i in range(self.count):
                h1 = self.hashes[2 * i]
                h2 = self.hashes[2 * i + 1]
                for j in range(k):
                    pos = h1 % nbits
                    bits[pos >> 3] |= <uint8_t>(1 << (pos & 7))
                    h1 += h2
            bits[nbytes] = <uint8_t>k
            bits[nbytes + 1] = BLOOM_FORMAT_MURMUR3_KM
        return out

    def finish(self) -> bytes:
        """The serialized filter (b"" when bits_per_key is 0). The builder stays usable."""
        return self.c_finish()


cdef class BloomFilter:
    """A parsed filter over ``data`` (zero-copy: the buffer is pinned, not copied)."""

    def __cinit__(self, data, file=None, offset=None):
        self.file = file
        self.offset = offset
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
        if tag != BLOOM_FORMAT_MURMUR3_KM:
            raise CorruptionError(f"unknown bloom filter format tag {tag}", file,
                                  None if offset is None else offset + n - 1)
        self.k = self._view[n - 2]
        if self.k < 1 or self.k > BLOOM_MAX_PROBES:
            raise CorruptionError(f"bloom filter has invalid probe count {self.k}", file,
                                  None if offset is None else offset + n - 2)
        self.no_filter = False
        self.bits = &self._view[0]
        self.nbits = <uint64_t>(n - BLOOM_TRAILER_BYTES) * 8

    cdef bint c_may_contain(self, const uint8_t *key, size_t n) noexcept nogil:
        cdef uint64_t h[2]
        if self.no_filter:
            return True
        bloom_hash(key, n, h)
        return bloom_probe(self.bits, self.nbits, self.k, h[0], h[1])

    cdef bint c_may_contain_hash(self, uint64_t h1, uint64_t h2) noexcept nogil:
        if self.no_filter:
            return True
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
    def is_empty(self) -> bool:
        """True for the "no filter" encoding (every key may be present)."""
        return self.no_filter

    def __len__(self) -> int:
        return self._view.shape[0]
