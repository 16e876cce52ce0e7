/* core: the traceback carries every frame (shown with ATAS_DEBUG=1); RNG streams are pure functions of
 * (seed, a, b); known-answer Philox vector; uniform statistics. */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static atas_status inner(void) { return ATAS_ERR(ATAS_ERR_FORMAT, "bad thing at offset %d", 42); }
static atas_status middle(void) { ATAS_CHECK(inner()); return ATAS_OK; }
static atas_status outer(void) { ATAS_CHECK(middle()); return ATAS_OK; }

int main(void) {
    /* traceback */
    atas_status s = outer();
    T_ASSERT(s == ATAS_ERR_FORMAT, "status %d", s);
    T_ASSERT(strcmp(atas_error_message(), "bad thing at offset 42") == 0, "msg '%s'", atas_error_message());
    /* a user's error prints its message alone ... */
    char buf[4096] = {0};
    unsetenv("ATAS_DEBUG");
    FILE *f = fmemopen(buf, sizeof buf, "w");
    atas_error_print(f);
    fclose(f);
    T_ASSERT(strcmp(buf, "error: bad thing at offset 42\n") == 0, "without ATAS_DEBUG, the message alone:\n%s", buf);
    /* ... and ATAS_DEBUG=1 adds every frame of the traceback */
    setenv("ATAS_DEBUG", "1", 1);
    memset(buf, 0, sizeof buf);
    f = fmemopen(buf, sizeof buf, "w");
    atas_error_print(f);
    fclose(f);
    unsetenv("ATAS_DEBUG");
    T_ASSERT(strstr(buf, "test_core.c") && strstr(buf, "(inner)") && strstr(buf, "(middle)") &&
                 strstr(buf, "(outer)"), "traceback:\n%s", buf);
    atas_error_clear();
    T_ASSERT(atas_error_message()[0] == 0, "cleared");

    /* Philox4x32-10 known-answer test (Random123 kat_vectors: ctr=0, key=0) */
    uint32_t key[2] = {0, 0}, ctr[4] = {0, 0, 0, 0}, out[4];
    atas_philox4x32(key, ctr, out);
    T_ASSERT(out[0] == 0x6627e8d5u && out[1] == 0xe169c58du && out[2] == 0xbc57ac4cu &&
                 out[3] == 0x9b00dbd8u, "philox kat %08x %08x %08x %08x", out[0], out[1], out[2], out[3]);
    uint32_t key2[2] = {0xa4093822u, 0x299f31d0u};
    uint32_t ctr2[4] = {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u};
    atas_philox4x32(key2, ctr2, out);
    T_ASSERT(out[0] == 0xd16cfe09u && out[1] == 0x94fdccebu && out[2] == 0x5001e420u &&
                 out[3] == 0x24126ea1u, "philox kat2 %08x %08x %08x %08x", out[0], out[1], out[2], out[3]);

    /* streams: same (seed,a,b) -> same numbers; different -> different */
    atas_rng r1 = atas_rng_stream(7, 3, 11), r2 = atas_rng_stream(7, 3, 11);
    atas_rng r3 = atas_rng_stream(7, 11, 3), r4 = atas_rng_stream(8, 3, 11);
    int same12 = 1, same13 = 1, same14 = 1;
    for (int i = 0; i < 64; i++) {
        uint32_t a = atas_rng_u32(&r1), b = atas_rng_u32(&r2), c = atas_rng_u32(&r3), d = atas_rng_u32(&r4);
        same12 &= a == b; same13 &= a == c; same14 &= a == d;
    }
    T_ASSERT(same12 && !same13 && !same14, "stream identity %d %d %d", same12, same13, same14);

    /* uniform mean/var, below() range and rough uniformity */
    atas_rng r = atas_rng_stream(1, 2, 3);
    double sum = 0, sum2 = 0;
    int n = 200000, hist[10] = {0};
    for (int i = 0; i < n; i++) {
        float u = atas_rng_uniform(&r);
        T_ASSERT(u >= 0 && u < 1, "u=%f", u);
        sum += u; sum2 += (double)u * u;
        uint32_t k = atas_rng_below(&r, 10);
        T_ASSERT(k < 10, "k=%u", k);
        hist[k]++;
    }
    double mean = sum / n, var = sum2 / n - mean * mean;
    T_ASSERT(fabs(mean - 0.5) < 0.005 && fabs(var - 1.0 / 12) < 0.003, "mean %f var %f", mean, var);
    for (int k = 0; k < 10; k++) T_ASSERT(abs(hist[k] - n / 10) < n / 100, "hist[%d]=%d", k, hist[k]);

    /* tracked allocation */
    size_t before = atas_host_bytes_now();
    void *p;
    T_OK(atas_host_alloc(&p, 1 << 20, "test"));
    T_ASSERT(((uintptr_t)p & 63) == 0, "aligned");
    T_ASSERT(atas_host_bytes_now() == before + (1 << 20), "counted");
    atas_host_free(p);
    T_ASSERT(atas_host_bytes_now() == before, "freed");
    return t_finish("test_core");
}
