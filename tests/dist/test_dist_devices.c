/* Ranks on one GPU and the NCCL bootstrap, without a GPU (mpirun -n 3):
 * atas_comm_check_devices on a stand-in backend whose device_id says which
 * "GPU" a rank holds - distinct devices pass; two ranks on one device are refused
 * on every rank with one message naming host, ranks and bus id, unless
 * ATAS_SHARE_GPU=1 (and never for NCCL); the cpu backend is never refused; and
 * the NCCL bootstrap on the cpu backend fails on every rank without a hang. */
#include <stdlib.h>
#include <string.h>

#include "atas/comm.h"
#include "test_util.h"

static int g_rank;
static int g_same; /* 1: ranks 0 and 2 report the same device */
static void fake_device_id(const atas_backend *be, char *out, size_t bytes) {
    (void)be;
    const int dev = g_same && g_rank == 2 ? 0 : g_rank;
    snprintf(out, bytes, "0000:%02x:00.0", 0x10 + dev);
}

static void expect(atas_status st, atas_status want, const char *needle, const char *what) {
    T_ASSERT(st == want, "%s: status %s, expected %s (%s)", what, atas_status_str(st), atas_status_str(want),
             atas_error_message());
    if (needle) T_ASSERT(strstr(atas_error_message(), needle), "%s: message lacks '%s': %s", what, needle,
                         atas_error_message());
    atas_error_clear();
}

int main(int argc, char **argv) {
    atas_comm c;
    T_OK(atas_comm_init(&c, &argc, &argv, 30));
    g_rank = c.rank;
    if (c.world != 3) {
        if (c.rank == 0) fprintf(stderr, "test_dist_devices: run with 3 ranks\n");
        atas_comm_finalize(&c);
        return 2;
    }
    T_ASSERT(atas_backend_local_rank() == c.local_rank && atas_backend_local_size() == c.local_size,
             "comm init did not hand the local rank/size to the backend layer");
    atas_backend fake = *atas_backend_cpu();
    fake.name = "fake-gpu";
    fake.device_id = fake_device_id;
    unsetenv("ATAS_SHARE_GPU");

    /* one device per rank */
    g_same = 0;
    expect(atas_comm_check_devices(&c, &fake, 0), ATAS_OK, NULL, "distinct devices");
    expect(atas_comm_check_devices(&c, &fake, 1), ATAS_OK, NULL, "distinct devices, nccl");
    /* ranks 0 and 2 on one device */
    g_same = 1;
    expect(atas_comm_check_devices(&c, &fake, 0), ATAS_ERR_UNSUPPORTED,
           "ranks 0 and 2 on host", "shared device");
    expect(atas_comm_check_devices(&c, &fake, 0), ATAS_ERR_UNSUPPORTED,
           "share the GPU at bus id 0000:10:00.0", "shared device names the bus id");
    expect(atas_comm_check_devices(&c, &fake, 0), ATAS_ERR_UNSUPPORTED, "ATAS_SHARE_GPU=1", "names the opt-in");
    setenv("ATAS_SHARE_GPU", "0", 1);
    expect(atas_comm_check_devices(&c, &fake, 0), ATAS_ERR_UNSUPPORTED, "each rank needs its own GPU",
           "ATAS_SHARE_GPU=0 is no opt-in");
    setenv("ATAS_SHARE_GPU", "1", 1);
    expect(atas_comm_check_devices(&c, &fake, 0), ATAS_OK, NULL, "sharing allowed");
    expect(atas_comm_check_devices(&c, &fake, 1), ATAS_ERR_UNSUPPORTED, "NCCL needs one GPU per rank",
           "nccl never shares");
    /* the NCCL bootstrap refuses before any NCCL call */
    expect(atas_comm_coll_init(&c, &fake), ATAS_ERR_UNSUPPORTED, "NCCL needs one GPU per rank",
           "bootstrap on a shared device");
    unsetenv("ATAS_SHARE_GPU");

    /* the cpu backend: nothing to share; its NCCL bootstrap fails on every rank, no hang */
    expect(atas_comm_check_devices(&c, atas_backend_cpu(), 0), ATAS_OK, NULL, "cpu");
    g_same = 0;
    const atas_status st = atas_comm_coll_init(&c, atas_backend_cpu());
    T_ASSERT(st != ATAS_OK, "NCCL bootstrap on the cpu backend succeeded");
    if (c.rank == 0)
        T_ASSERT(strstr(atas_error_message(), "dist.backend = \"nccl\" needs the cuda backend") &&
                     !atas_error_is_secondary(), "rank 0: %s (its own failure)", atas_error_message());
    else
        T_ASSERT(strstr(atas_error_message(), "rank 0 could not make the NCCL id") && atas_error_is_secondary(),
                 "rank %d: %s (an echo of rank 0's failure: marked secondary for atas_exit)", c.rank,
                 atas_error_message());
    atas_error_clear();

    int fails = t_failures;
    atas_comm_allreduce_max_i32(&c, &fails, 1);
    if (c.rank == 0) printf("test_dist_devices: %s\n", fails ? "FAILED" : "ok");
    atas_comm_finalize(&c);
    return fails ? 1 : 0;
}
