/* Philox4x32-10 (Salmon et al., SC'11): counter-based, so any (seed, step, sample)
 * stream can be produced anywhere without sharing generator state. */
#include "atas/core.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t *hi) {
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    return (uint32_t)p;
}

void atas_philox4x32(const uint32_t key[2], const uint32_t ctr[4], uint32_t out[4]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        uint32_t hi0, hi1;
        uint32_t lo0 = mulhilo(PHILOX_M0, c0, &hi0);
        uint32_t lo1 = mulhilo(PHILOX_M1, c2, &hi1);
        uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

atas_rng atas_rng_stream(uint64_t seed, uint64_t a, uint64_t b) {
    atas_rng r;
    r.key[0] = (uint32_t)seed;
    r.key[1] = (uint32_t)(seed >> 32);
    /* ctr[0..1] is the running counter; ctr[2..3] name the stream */
    r.ctr[0] = 0;
    r.ctr[1] = 0;
    r.ctr[2] = (uint32_t)(a ^ (b << 20) ^ (b >> 44) * 0x9E3779B9u);
    r.ctr[3] = (uint32_t)((a >> 32) ^ (b * 0x85EBCA6Bu) ^ (b >> 32));
    /* fold the full 64-bit a, b into the key too so distinct (a, b) never alias */
    r.key[0] ^= (uint32_t)(b * 0xC2B2AE35u);
    r.key[1] ^= (uint32_t)((a * 0x27D4EB2Fu) >> 7);
    r.nbuf = 0;
    return r;
}

uint32_t atas_rng_u32(atas_rng *r) {
    if (r->nbuf == 0) {
        atas_philox4x32(r->key, r->ctr, r->buf);
        if (++r->ctr[0] == 0) r->ctr[1]++;
        r->nbuf = 4;
    }
    return r->buf[--r->nbuf];
}

float atas_rng_uniform(atas_rng *r) { return (float)(atas_rng_u32(r) >> 8) * (1.0f / 16777216.0f); }

float atas_rng_normal(atas_rng *r) {
    float u1 = ((float)(atas_rng_u32(r) >> 8) + 0.5f) * (1.0f / 16777216.0f);
    float u2 = atas_rng_uniform(r);
    return sqrtf(-2.0f * logf(u1)) * cosf(6.28318530718f * u2);
}

uint32_t atas_rng_below(atas_rng *r, uint32_t n) {
    if (n <= 1) return 0;
    uint32_t lim = (uint32_t)(-n) % n; /* reject the short tail: unbiased */
    for (;;) {
        uint32_t x = atas_rng_u32(r);
        uint64_t m = (uint64_t)x * n;
        if ((uint32_t)m >= lim) return (uint32_t)(m >> 32);
    }
}
