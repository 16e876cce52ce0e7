/* The sampler: which corpus images make up each group of each step. A pure
 * function of (seed, epoch, step, group), so any world size sees the same order. */
#include "atas/loader.h"

#define ATAS_STREAM_PERM 0x5045524Dull /* "PERM": keeps these draws apart from other streams */

atas_status atas_sampler_permutation(uint32_t *perm, int64_t N, uint64_t seed, uint64_t epoch) {
    ATAS_REQUIRE(N > 0 && N <= (int64_t)UINT32_MAX, "sampler: corpus size %lld out of range", (long long)N);
    atas_rng r = atas_rng_stream(seed ^ (ATAS_STREAM_PERM << 24), epoch, 0);
    for (int64_t i = 0; i < N; i++) perm[i] = (uint32_t)i;
    for (int64_t i = N - 1; i > 0; i--) { /* Fisher-Yates */
        uint32_t j = atas_rng_below(&r, (uint32_t)(i + 1));
        uint32_t t = perm[i]; perm[i] = perm[j]; perm[j] = t;
    }
    return ATAS_OK;
}

int64_t atas_sampler_steps_per_epoch(int64_t N, int groups, int group_images) {
    int64_t per = (int64_t)groups * group_images;
    return per > 0 ? N / per : 0;
}

atas_status atas_sampler_rank_slice(const uint32_t *perm, int64_t N, int64_t step_in_epoch,
                                    int groups, int group_images, int rank, int world,
                                    int64_t *image_index, int64_t *group_index) {
    ATAS_REQUIRE(world > 0 && groups % world == 0, "sampler: %d groups do not split over %d ranks",
            groups, world);
    int64_t spe = atas_sampler_steps_per_epoch(N, groups, group_images);
    ATAS_REQUIRE(step_in_epoch >= 0 && step_in_epoch < spe, "sampler: step %lld outside the epoch (%lld steps)",
            (long long)step_in_epoch, (long long)spe);
    int per_rank = groups / world;
    for (int k = 0; k < per_rank; k++) {
        int64_t j = (int64_t)rank * per_rank + k;
        group_index[k] = j;
        int64_t base = step_in_epoch * groups * group_images + j * group_images;
        for (int i = 0; i < group_images; i++)
            image_index[(int64_t)k * group_images + i] = perm[base + i];
    }
    return ATAS_OK;
}
