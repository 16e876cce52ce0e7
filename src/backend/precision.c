/* The precision of the GEMMs and attention (include/backend/atas/backend.h,
 * docs/backend.md "Precision"): names, and the rounding of fp32 values to bf16
 * and tf32 that the CPU backend's emulation applies to every GEMM input. The
 * rounding works on the bits (the same arithmetic as a hardware
 * round-to-nearest-even conversion), so it is exact and independent of the FPU's
 * rounding mode and of flush-to-zero. */
#include <string.h>

#include "atas/backend.h"

static const char *const g_names[ATAS_PREC_COUNT] = {"fp32", "tf32", "bf16"};

const char *atas_precision_name(atas_precision p) {
    return (int)p >= 0 && (int)p < ATAS_PREC_COUNT ? g_names[p] : NULL;
}

atas_status atas_precision_parse(const char *s, atas_precision *out) {
    for (int p = 0; s && p < ATAS_PREC_COUNT; p++)
        if (strcmp(s, g_names[p]) == 0) {
            *out = (atas_precision)p;
            return ATAS_OK;
        }
    return ATAS_ERR(ATAS_ERR_INVALID, "unknown precision \"%s\" (expected \"fp32\", \"tf32\" or \"bf16\")",
                    s ? s : "(null)");
}

/* keep the top 32 - drop bits, rounding to nearest with ties to even: adding
 * half an ulp minus one, plus the kept part's lowest bit, carries into the kept
 * bits exactly when the dropped part is above half, or half and the kept part odd.
 * A carry out of the mantissa bumps the exponent (the next binade, or Inf from
 * the largest finite values: what a conversion does on overflow). NaN would
 * carry into Inf or lose its payload, so it becomes a quiet NaN of its sign. */
static inline float round_bits(float x, int drop) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        u = (u | 0x00400000u) & ~((1u << drop) - 1u);
    } else {
        const uint32_t half = (1u << (drop - 1)) - 1u;
        u += half + ((u >> drop) & 1u);
        u &= ~((1u << drop) - 1u);
    }
    memcpy(&x, &u, sizeof x);
    return x;
}

float atas_round_bf16(float x) { return round_bits(x, 16); } /* 7 mantissa bits kept */
float atas_round_tf32(float x) { return round_bits(x, 13); } /* 10 mantissa bits kept */

void atas_round_precision(float *dst, const float *src, size_t n, atas_precision p) {
    if (p == ATAS_PREC_BF16) {
#pragma omp parallel for schedule(static) if (n > ((size_t)1 << 16))
        for (size_t i = 0; i < n; i++) dst[i] = round_bits(src[i], 16);
    } else if (p == ATAS_PREC_TF32) {
#pragma omp parallel for schedule(static) if (n > ((size_t)1 << 16))
        for (size_t i = 0; i < n; i++) dst[i] = round_bits(src[i], 13);
    } else if (dst != src) {
        memcpy(dst, src, n * sizeof(float));
    }
}

atas_bf16 atas_bf16_from_float(float x) {
    const float r = round_bits(x, 16);
    uint32_t u;
    memcpy(&u, &r, sizeof u);
    return (atas_bf16)(u >> 16);
}

float atas_bf16_to_float(atas_bf16 h) {
    const uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}
