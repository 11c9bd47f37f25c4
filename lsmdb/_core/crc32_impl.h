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

/* crc: the running value returned by a previous call (0 to start). */
static inline uint32_t lsmdb_crc32_update(uint32_t crc, const uint8_t *p, size_t n) {
    crc = ~crc;
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
