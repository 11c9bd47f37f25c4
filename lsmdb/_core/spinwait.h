/* spinwait.h: waiting for another thread's store by polling instead of sleeping.
 *
 * Used by the group commit of synced single writes (writefront.pyx, "Waiting without
 * sleeping"): a writer that sleeps on a condition variable is woken by a futex call, and on a
 * virtual machine whose idle vCPUs halt (no guest halt polling) each such wake-up costs the
 * waker and the woken several microseconds; a poll that yields the CPU between looks costs
 * neither. The loads and stores here are the C11 atomics of GCC and Clang: the fields they
 * read are written by other threads outside any lock the reader holds.
 */
#ifndef LSMDB_SPINWAIT_H
#define LSMDB_SPINWAIT_H

#include <sched.h>
#include <stdint.h>

/* A hint to the CPU that this is a busy-wait loop (x86 PAUSE, Arm YIELD). */
static inline void lsm_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield");
#endif
}

static inline uint64_t lsm_load_u64(const uint64_t *p) {
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
static inline void lsm_store_u64(uint64_t *p, uint64_t v) {
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}
static inline int64_t lsm_load_i64(const int64_t *p) {
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}
static inline void lsm_store_i64(int64_t *p, int64_t v) {
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}
static inline int lsm_load_int(const int *p) {
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
static inline void lsm_store_int(int *p, int v) {
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}
/* 1 and *p set to desired if *p was expected, else 0 (*p unchanged). */
static inline int lsm_cas_int(int *p, int expected, int desired) {
    return __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE);
}

#endif
