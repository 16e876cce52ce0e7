/* atas_comm_check_same_device (the parameter-agreement check on backend memory, run
 * by the trainer every dist.check_every steps): on the cpu-staged backend (device code
 * paths, host ops), 3 ranks holding the same parameters agree; one element changed on
 * rank 2 is found on every rank, naming rank 2; the comparison downloads 8 bytes,
 * not the parameters. Run under mpiexec -n 3. */
#include <string.h>

#include "atas/comm.h"
#include "test_util.h"

int main(int argc, char **argv) {
    atas_comm c;
    T_OK(atas_comm_init(&c, &argc, &argv, 60));
    T_ASSERT(c.world == 3, "run with 3 ranks (%d)", c.world);
    const atas_backend *be;
    T_OK(atas_backend_get("cpu-staged", &be));
    const size_t n = 300001; /* several chunks of the sum, and a ragged tail */
    float *h = NULL, *d = NULL;
    T_OK(atas_host_alloc((void **)&h, n * sizeof(float), "params"));
    atas_rng r = atas_rng_stream(7, 1, 0);
    for (size_t i = 0; i < n; i++) h[i] = atas_rng_normal(&r);
    T_OK(be->alloc(be, (void **)&d, n * sizeof(float), "params"));
    T_OK(be->upload(be, d, h, n * sizeof(float)));
    unsigned long long d2h0 = 0, d2h1 = 0;
    atas_backend_transfer_bytes(NULL, &d2h0);
    T_OK(atas_comm_check_same_device(&c, be, d, n, "the test parameters"));
    atas_backend_transfer_bytes(NULL, &d2h1);
    T_ASSERT(d2h1 - d2h0 == sizeof(double), "the check downloaded %llu bytes", d2h1 - d2h0);
    /* one element, one ulp, on rank 2 */
    if (c.rank == 2) {
        h[12345] = nextafterf(h[12345], 10.0f);
        T_OK(be->upload(be, d, h, n * sizeof(float)));
    }
    c.step = 17;
    atas_status s = atas_comm_check_same_device(&c, be, d, n, "the test parameters");
    T_ASSERT(s == ATAS_ERR_MPI, "a changed element on rank 2 was not found (status %d)", (int)s);
    T_ASSERT(strstr(atas_error_message(), "step 17: the test parameters differs between ranks: rank(s) 2 disagree"),
             "message: %s", atas_error_message());
    atas_error_clear();
    be->free(be, d);
    atas_host_free(h);
    atas_comm_finalize(&c);
    return t_finish("test_agree_device");
}
