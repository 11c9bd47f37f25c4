/* CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320): the same function as zlib.crc32,
 * so zlib is its test oracle. Slicing-by-8 tables are built once at import time.
 * Why not zlib's C symbol: it keeps the build free of a zlib.h dependency.
 *
 * On x86-64 with PCLMULQDQ (checked at run time), runs of 64+ bytes are folded 64 bytes at a
 * time with carry-less multiplication (Gopal et al., "Fast CRC Computation for Generic
 * Polynomials Using PCLMULQDQ", Intel 2009; the reflected-domain constants of its appendix,
 * as in Chromium's zlib crc32_simd.c): ~10x the table loop, same result. The on-disk
 * checksum is unchanged (not CRC-32C: the SSE4.2 crc32 instruction computes another
 * polynomial). */
#ifndef LSMDB_CRC32_IMPL_H
#define LSMDB_CRC32_IMPL_H
#include <stdint.h>
#include <stddef.h>
#include <string.h>

static uint32_t lsmdb_crc_table[8][256];

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define LSMDB_CRC32_CLMUL 1
static int lsmdb_crc32_use_clmul = 0;

/* len >= 64 and a multiple of 16; crc is the running value in its inverted (internal) form,
 * and so is the result. */
__attribute__((target("pclmul,sse4.1")))
static uint32_t lsmdb_crc32_fold(const uint8_t *buf, size_t len, uint32_t crc) {
    static const uint64_t k1k2[2] __attribute__((aligned(16))) = {0x0154442bd4, 0x01c6e41596};
    static const uint64_t k3k4[2] __attribute__((aligned(16))) = {0x01751997d0, 0x00ccaa009e};
    static const uint64_t k5k0[2] __attribute__((aligned(16))) = {0x0163cd6124, 0x0000000000};
    static const uint64_t poly[2] __attribute__((aligned(16))) = {0x01db710641, 0x01f7011641};
    __m128i x0, x1, x2, x3, x4, x5, x6, x7, x8, y5, y6, y7, y8;

    x1 = _mm_loadu_si128((const __m128i *)(buf + 0x00));
    x2 = _mm_loadu_si128((const __m128i *)(buf + 0x10));
    x3 = _mm_loadu_si128((const __m128i *)(buf + 0x20));
    x4 = _mm_loadu_si128((const __m128i *)(buf + 0x30));
    x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)crc));
    x0 = _mm_load_si128((const __m128i *)k1k2);
    buf += 64;
    len -= 64;
    while (len >= 64) {                   /* four 128-bit lanes folded in parallel */
        x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
        x6 = _mm_clmulepi64_si128(x2, x0, 0x00);
        x7 = _mm_clmulepi64_si128(x3, x0, 0x00);
        x8 = _mm_clmulepi64_si128(x4, x0, 0x00);
        x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
        x2 = _mm_clmulepi64_si128(x2, x0, 0x11);
        x3 = _mm_clmulepi64_si128(x3, x0, 0x11);
        x4 = _mm_clmulepi64_si128(x4, x0, 0x11);
        y5 = _mm_loadu_si128((const __m128i *)(buf + 0x00));
        y6 = _mm_loadu_si128((const __m128i *)(buf + 0x10));
        y7 = _mm_loadu_si128((const __m128i *)(buf + 0x20));
        y8 = _mm_loadu_si128((const __m128i *)(buf + 0x30));
        x1 = _mm_xor_si128(_mm_xor_si128(x1, x5), y5);
        x2 = _mm_xor_si128(_mm_xor_si128(x2, x6), y6);
        x3 = _mm_xor_si128(_mm_xor_si128(x3, x7), y7);
        x4 = _mm_xor_si128(_mm_xor_si128(x4, x8), y8);
        buf += 64;
        len -= 64;
    }
    x0 = _mm_load_si128((const __m128i *)k3k4);   /* the four lanes into one */
    x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
    x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
    x1 = _mm_xor_si128(_mm_xor_si128(x1, x2), x5);
    x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
    x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
    x1 = _mm_xor_si128(_mm_xor_si128(x1, x3), x5);
    x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
    x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
    x1 = _mm_xor_si128(_mm_xor_si128(x1, x4), x5);
    while (len >= 16) {                   /* the remaining 16-byte blocks */
        x2 = _mm_loadu_si128((const __m128i *)buf);
        x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
        x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
        x1 = _mm_xor_si128(_mm_xor_si128(x1, x2), x5);
        buf += 16;
        len -= 16;
    }
    x2 = _mm_clmulepi64_si128(x1, x0, 0x10);      /* 128 -> 64 bits */
    x3 = _mm_setr_epi32(~0, 0, ~0, 0);
    x1 = _mm_srli_si128(x1, 8);
    x1 = _mm_xor_si128(x1, x2);
    x0 = _mm_loadl_epi64((const __m128i *)k5k0);
    x2 = _mm_srli_si128(x1, 4);
    x1 = _mm_and_si128(x1, x3);
    x1 = _mm_clmulepi64_si128(x1, x0, 0x00);
    x1 = _mm_xor_si128(x1, x2);
    x0 = _mm_load_si128((const __m128i *)poly);   /* Barrett reduction to 32 bits */
    x2 = _mm_and_si128(x1, x3);
    x2 = _mm_clmulepi64_si128(x2, x0, 0x10);
    x2 = _mm_and_si128(x2, x3);
    x2 = _mm_clmulepi64_si128(x2, x0, 0x00);
    x1 = _mm_xor_si128(x1, x2);
    return (uint32_t)_mm_extract_epi32(x1, 1);
}
#endif

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
#ifdef LSMDB_CRC32_CLMUL
    __builtin_cpu_init();
    lsmdb_crc32_use_clmul = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
#endif
}

/* crc: the running value returned by a previous call (0 to start). */
static inline uint32_t lsmdb_crc32_update(uint32_t crc, const uint8_t *p, size_t n) {
    crc = ~crc;
#ifdef LSMDB_CRC32_CLMUL
    if (n >= 64 && lsmdb_crc32_use_clmul) {
        size_t folded = n & ~(size_t)15;
        crc = lsmdb_crc32_fold(p, folded, crc);
        p += folded;
        n -= folded;
    }
#endif
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
    return ~crc;
}
#endif
