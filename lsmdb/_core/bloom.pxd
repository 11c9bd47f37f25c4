# Bloom filters over MurmurHash3 x64-128, two frozen layouts (documented in bloom.pyx and
# docs/format/bloom.md):
#   bits[m / 8] | num_probes (u8, 1..30) | format tag (u8)
#   tag 1 (standard): Kirsch-Mitzenmacher double hashing over the whole bit array
#   tag 2 (blocked):  every probe of a key inside one 64-byte line (one cache miss)
# An empty serialization means "no filter" (bits_per_key 0): every key may be present.
from libc.stdint cimport uint8_t, uint32_t, uint64_t


cdef extern from "murmur3.h":
    void lsmdb_murmur3_x64_128(const void *key, size_t n, uint32_t seed,
                               uint64_t *out) noexcept nogil


cdef enum:
    BLOOM_SEED = 0x6C534D44           # hash seed of every persisted filter: never change
    BLOOM_FORMAT_MURMUR3_KM = 1       # format tag of the standard layout: never change
    BLOOM_FORMAT_BLOCKED = 2          # format tag of the blocked layout: never change
    BLOOM_LINE_BYTES = 64             # blocked layout: bytes per line (512 bits)
    BLOOM_MAX_LINES = 0xFFFFFFFF      # blocked layout: the line index is a 32-bit fastrange
    BLOOM_TRAILER_BYTES = 2
    BLOOM_MAX_PROBES = 30


# Both halves of the 128-bit hash of a key: out[0] = h1, out[1] = h2.
cdef inline void bloom_hash(const uint8_t *key, size_t n, uint64_t *out) noexcept nogil:
    lsmdb_murmur3_x64_128(key, n, BLOOM_SEED, out)


# Probe k bit positions (h1 + i*h2) mod nbits, i = 0..k-1 (nbits > 0).
cdef inline bint bloom_probe(const uint8_t *bits, uint64_t nbits, int k,
                             uint64_t h1, uint64_t h2) noexcept nogil:
    cdef uint64_t pos
    cdef int i
    for i in range(k):
        pos = h1 % nbits
        if not (bits[pos >> 3] & (1 << (pos & 7))):
            return False
        h1 += h2
    return True


# Blocked layout: the line is fastrange32(h1 >> 32, nlines); probe i tests bit
# (h >> 23) of that line's 512, h = low 32 bits of h2, multiplied by 0x9E3779B9 (the 32-bit
# golden ratio) after each probe: RocksDB's FastLocalBloom probing over our hash pair.
cdef inline const uint8_t *blocked_line(const uint8_t *bits, uint64_t nlines,
                                        uint64_t h1) noexcept nogil:
    return bits + (((h1 >> 32) * nlines) >> 32) * BLOOM_LINE_BYTES


cdef inline bint blocked_probe(const uint8_t *bits, uint64_t nlines, int k,
                               uint64_t h1, uint64_t h2) noexcept nogil:
    cdef const uint8_t *line = blocked_line(bits, nlines, h1)
    cdef uint32_t h = <uint32_t>h2
    cdef uint32_t b
    cdef int i
    for i in range(k):
        b = h >> 23
        if not (line[b >> 3] & (1 << (b & 7))):
            return False
        h = h * <uint32_t>0x9E3779B9
    return True


cdef class BloomFilter:
    cdef const uint8_t[::1] _view      # pins the buffer that `bits` points into
    cdef const uint8_t *bits
    cdef void *aligned                 # blocked layout: 64-byte aligned copy of the bits, or NULL
    cdef uint64_t nbits
    cdef uint64_t nlines               # blocked layout: nbits / 512; 0 for the standard one
    cdef int k
    cdef readonly int format_tag
    cdef bint no_filter
    cdef readonly object file
    cdef readonly object offset
    cdef bint c_may_contain(self, const uint8_t *key, size_t n) noexcept nogil
    cdef bint c_may_contain_hash(self, uint64_t h1, uint64_t h2) noexcept nogil


cdef class BloomFilterBuilder:
    cdef uint64_t *hashes              # pairs (h1, h2) of every added key
    cdef size_t count
    cdef size_t cap
    cdef readonly double bits_per_key
    cdef readonly int format_tag
    cdef int c_add(self, const uint8_t *key, size_t n) except -1
    cdef bytes c_finish(self)
