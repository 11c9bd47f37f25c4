/* CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320): the same function as zlib.crc32,
 * so zlib is its test oracle. Slicing-by-8 tables are built once at import time.
 * Why not zlib's C symbol: it keeps the build free of a zlib.h dependency. */
#ifndef LSMDB_CRC32_IMPL_H
#define LSMDB_CRC32_IMPL_H
#include <stdint.h>
#include <stddef.h>
#include <string.h>

static uint32_t lsmdb_crc_table[8][256];

static void lsmdb_crc32_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : (c >> 1);
        lsmdb_crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = lsmdb_crc_table[0][i];
        for (int t = 1; t < 8; t++) {
            c = lsmdb_crc_table[0][c & 0xFF] ^ (c >> 8);
            lsmdb_crc_table[t][i] = c;
        }
    }
}

/* The table loop on a raw (not pre-/post-inverted) CRC register. */
static inline uint32_t lsmdb_crc32_raw(uint32_t crc, const uint8_t *p, size_t n) {
    while (n && ((uintptr_t)p & 7)) { crc = lsmdb_crc_table[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8); n--; }
    while (n >= 8) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4); memcpy(&hi, p + 4, 4);
        lo ^= crc;
        crc = lsmdb_crc_table[7][lo & 0xFF] ^ lsmdb_crc_table[6][(lo >> 8) & 0xFF] ^
              lsmdb_crc_table[5][(lo >> 16) & 0xFF] ^ lsmdb_crc_table[4][lo >> 24] ^
              lsmdb_crc_table[3][hi & 0xFF] ^ lsmdb_crc_table[2][(hi >> 8) & 0xFF] ^
              lsmdb_crc_table[1][(hi >> 16) & 0xFF] ^ lsmdb_crc_table[0][hi >> 24];
        p += 8; n -= 8;
    }
    while (n--) crc = lsmdb_crc_table[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* Carry-less multiplication folding (Intel, "Fast CRC Computation for Generic Polynomials
 * Using PCLMULQDQ", 2009; the constants of Linux's crc32-pclmul for the reflected zlib
 * polynomial): 4x128-bit folds per 64 bytes, then a Barrett reduction. About 4x the table
 * loop on block-sized inputs; every block read and written is checksummed. Used when the CPU
 * has PCLMULQDQ and SSE4.1 (checked once), on n >= 64 bytes; n % 16 tail bytes go through
 * the table. Raw register in and out, like lsmdb_crc32_raw. */
#include <immintrin.h>
#include <cpuid.h>

__attribute__((target("pclmul,sse4.1")))
static uint32_t lsmdb_crc32_clmul(uint32_t crc, const uint8_t *p, size_t n) {
    const __m128i k1k2 = _mm_set_epi64x(0x1c6e41596LL, 0x154442bd4LL);   /* hi R2, lo R1 */
    const __m128i k3k4 = _mm_set_epi64x(0x0ccaa009eLL, 0x1751997d0LL);   /* hi R4, lo R3 */
    const __m128i k5 = _mm_set_epi64x(0, 0x163cd6124LL);
    const __m128i poly = _mm_set_epi64x(0x1F7011641LL, 0x1DB710641LL);   /* hi u', lo P' */
    const __m128i mask32 = _mm_set_epi32(0, 0, 0, -1);
    __m128i x1 = _mm_loadu_si128((const __m128i *)p);
    __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 16));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 32));
    __m128i x4 = _mm_loadu_si128((const __m128i *)(p + 48));
    __m128i t;
    x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)crc));
    p += 64; n -= 64;
#define LSMDB_FOLD(x, k, data) \
    (t = _mm_clmulepi64_si128((x), (k), 0x11), \
     _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128((x), (k), 0x00), t), (data)))
    while (n >= 64) {
        x1 = LSMDB_FOLD(x1, k1k2, _mm_loadu_si128((const __m128i *)p));
        x2 = LSMDB_FOLD(x2, k1k2, _mm_loadu_si128((const __m128i *)(p + 16)));
        x3 = LSMDB_FOLD(x3, k1k2, _mm_loadu_si128((const __m128i *)(p + 32)));
        x4 = LSMDB_FOLD(x4, k1k2, _mm_loadu_si128((const __m128i *)(p + 48)));
        p += 64; n -= 64;
    }
    x1 = LSMDB_FOLD(x1, k3k4, x2);
    x1 = LSMDB_FOLD(x1, k3k4, x3);
    x1 = LSMDB_FOLD(x1, k3k4, x4);
    while (n >= 16) {
        x1 = LSMDB_FOLD(x1, k3k4, _mm_loadu_si128((const __m128i *)p));
        p += 16; n -= 16;
    }
#undef LSMDB_FOLD
    /* 128 -> 64 bits: R4 * low half, plus the high half. */
    x1 = _mm_xor_si128(_mm_clmulepi64_si128(k3k4, x1, 0x01), _mm_srli_si128(x1, 8));
    /* 64 -> 32 bits */
    t = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), k5, 0x00);
    x1 = _mm_xor_si128(_mm_srli_si128(x1, 4), t);
    /* Barrett reduction */
    t = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), poly, 0x10);
    t = _mm_clmulepi64_si128(_mm_and_si128(t, mask32), poly, 0x00);
    x1 = _mm_xor_si128(x1, t);
    crc = (uint32_t)_mm_extract_epi32(x1, 1);
    return n ? lsmdb_crc32_raw(crc, p, n) : crc;
}

static int lsmdb_crc32_has_clmul = -1;

static inline int lsmdb_crc32_clmul_ok(void) {
    if (lsmdb_crc32_has_clmul < 0) {
        unsigned int a, b, c, d;
        lsmdb_crc32_has_clmul = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_PCLMUL) &&
                                (c & bit_SSE4_1);
    }
    return lsmdb_crc32_has_clmul;
}
#define LSMDB_CRC32_CLMUL 1
#endif

/* crc: the running value returned by a previous call (0 to start). */
static inline uint32_t lsmdb_crc32_update(uint32_t crc, const uint8_t *p, size_t n) {
    crc = ~crc;
#ifdef LSMDB_CRC32_CLMUL
    if (n >= 64 && lsmdb_crc32_clmul_ok())
        return ~lsmdb_crc32_clmul(crc, p, n);
#endif
    return ~lsmdb_crc32_raw(crc, p, n);
}
#endif
