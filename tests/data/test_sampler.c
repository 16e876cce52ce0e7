/* Sampler: permutation property, reproducibility, drop-last, and the same global
 * order of samples for W = 1, 2, 4 ranks. */
#include <stdlib.h>
#include <string.h>

#include "atas/loader.h"
#include "test_util.h"

static void check_n(int64_t N, int G, int n, uint64_t seed) {
    uint32_t *p = malloc(sizeof(uint32_t) * N), *q = malloc(sizeof(uint32_t) * N);
    T_OK(atas_sampler_permutation(p, N, seed, 3));
    T_OK(atas_sampler_permutation(q, N, seed, 3));
    T_ASSERT(memcmp(p, q, sizeof(uint32_t) * N) == 0, "same (seed, epoch) must give the same order");
    char *seen = calloc(N, 1);
    for (int64_t i = 0; i < N; i++) {
        T_ASSERT(p[i] < N && !seen[p[i]], "N=%lld: entry %lld = %u repeats or is out of range",
                 (long long)N, (long long)i, p[i]);
        if (p[i] < N) seen[p[i]] = 1;
    }
    T_OK(atas_sampler_permutation(q, N, seed, 4));
    int64_t same = 0;
    for (int64_t i = 0; i < N; i++) same += p[i] == q[i];
    T_ASSERT(N < 20 || same < N / 4, "epochs 3 and 4 agree on %lld of %lld positions", (long long)same, (long long)N);
    int64_t spe = atas_sampler_steps_per_epoch(N, G, n);
    T_ASSERT(spe == N / (G * n), "steps per epoch %lld", (long long)spe);
    /* reference: W = 1 */
    int64_t *ref = malloc(sizeof(int64_t) * G * n), *got = malloc(sizeof(int64_t) * G * n);
    int64_t gi[64];
    memset(seen, 0, N);
    for (int64_t s = 0; s < spe; s++) {
        T_OK(atas_sampler_rank_slice(p, N, s, G, n, 0, 1, ref, gi));
        for (int i = 0; i < G * n; i++) {
            T_ASSERT(!seen[ref[i]], "image %lld served twice in one epoch", (long long)ref[i]);
            seen[ref[i]] = 1;
            T_ASSERT(ref[i] == p[s * G * n + i], "W=1 order is the permutation order");
        }
        for (int W = 2; W <= 4; W *= 2) {
            if (G % W) continue;
            for (int r = 0; r < W; r++) {
                T_OK(atas_sampler_rank_slice(p, N, s, G, n, r, W, got + (int64_t)r * (G / W) * n, gi + r * (G / W)));
                for (int k = 0; k < G / W; k++) T_ASSERT(gi[r * (G / W) + k] == r * (G / W) + k, "group index");
            }
            T_ASSERT(memcmp(ref, got, sizeof(int64_t) * G * n) == 0, "W=%d: global order differs at step %lld",
                     W, (long long)s);
        }
    }
    /* bad requests */
    T_ASSERT(atas_sampler_rank_slice(p, N, 0, G, n, 0, 3, got, gi) != ATAS_OK || G % 3 == 0,
             "G %% W != 0 must fail");
    T_ASSERT(atas_sampler_rank_slice(p, N, spe, G, n, 0, 1, got, gi) != ATAS_OK, "step past the epoch must fail");
    atas_error_clear();
    free(p); free(q); free(seen); free(ref); free(got);
}

int main(void) {
    check_n(1000, 4, 5, 7);
    check_n(37, 4, 2, 1);   /* drop-last: 37 / 8 = 4 steps, 5 images unused */
    check_n(4096, 8, 16, 123);
    T_ASSERT(atas_sampler_steps_per_epoch(7, 4, 2) == 0, "fewer images than a batch: 0 steps");
    return t_finish("test_sampler");
}
