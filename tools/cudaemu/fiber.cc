/* cudaemu kernel scheduler: a grid's blocks run one after another on the calling
 * thread; a block's threads are ucontext fibers that switch only where a CUDA
 * thread may wait for others (__syncthreads, warp operations), so any code that
 * is correct under CUDA's rules computes the same here. A barrier nobody can
 * complete (a __syncthreads some threads skip, a warp operation half a warp
 * never reaches) is reported as a deadlock and fails the launch. */
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#if !defined(__x86_64__)
#include <ucontext.h>
#endif

#include <mutex>
#include <vector>

#include "runtime_internal.h"

thread_local uint3 threadIdx, blockIdx;
thread_local dim3 blockDim, gridDim;

namespace {

/* per fiber: room for a warp's wmma tiles (every lane holds whole 16 x 16
 * fragments, flash_attn keeps 16 of them); reserved, touched only as used */
const size_t kStack = 256 << 10;
const size_t kGuard = 4096;

struct barrier {
    int count = 0;
    unsigned gen = 0;
    unsigned mask = 0; /* warp barriers: the lanes named by the first arriver */
};

enum { READY, WAITING, DONE };

/* Context switches. On x86-64 a six-register switch of our own: ucontext's
 * swapcontext makes a sigprocmask system call each time, and a warp operation
 * switches 32 fibers. Elsewhere ucontext. */
#if defined(__x86_64__)
extern "C" void cudaemu_switch(void **save_sp, void *to_sp);
asm(".text\n"
    ".globl cudaemu_switch\n"
    ".hidden cudaemu_switch\n"
    ".type cudaemu_switch,@function\n"
    "cudaemu_switch:\n"
    "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
    "  movq %rsp, (%rdi)\n"
    "  movq %rsi, %rsp\n"
    "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
    "  ret\n"
    ".size cudaemu_switch,.-cudaemu_switch\n");
struct context {
    void *sp = nullptr;
};
#else
struct context {
    ucontext_t uc;
};
#endif

struct fiber {
    context ctx;
    unsigned mma_seq = 0; /* wmma products done by this thread in the block (mma.h's memo) */
    char *stack = nullptr; /* guard page, then kStack bytes */
    int state = READY;
    barrier *wait_on = nullptr;
    unsigned wait_gen = 0;
    uint3 tid;
    int warp = 0, lane = 0;
};

struct block_state {
    int n = 0, nwarps = 0, live = 0;
    std::vector<fiber> f;
    std::vector<unsigned> live_mask; /* per warp: lanes not yet returned */
    std::vector<barrier> warp_bar;
    barrier block_bar;
    std::vector<uint64_t> slot; /* per warp x 32: the exchange of shuffles and ballots */
    std::vector<char> smem;
    bool deadlock = false;
    unsigned long long serial = 0; /* blocks run so far in the process: keys the mma memo */
    std::vector<struct memo_entry> memo; /* per warp x kMemo */
};

/* a warp's lanes do the same wmma products on the same fragments: the first lane
 * to reach its n-th product stores it, the others find it here */
const int kMemo = 16;
struct memo_entry {
    unsigned long long serial = 0;
    unsigned seq = 0;
    std::vector<char> key, val;
};

std::mutex g_launch_lock; /* one kernel at a time in the process (fibers share indices) */
block_state g_blk;
fiber *g_cur = nullptr;
context g_sched;
void (*g_body)(void *);
/* CUDAEMU_SCHEDULE=reverse: warps run last to first */
const bool g_reverse = [] {
    const char *e = getenv("CUDAEMU_SCHEDULE");
    return e && strcmp(e, "reverse") == 0;
}();
void *g_body_ctx;

char *stack_for(fiber &f) {
    if (!f.stack) {
        void *p = mmap(nullptr, kStack + kGuard, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                       -1, 0);
        if (p == MAP_FAILED) {
            fprintf(stderr, "cudaemu: no memory for a fiber stack\n");
            abort();
        }
        mprotect(p, kGuard, PROT_NONE); /* an overflow faults instead of corrupting a neighbour */
        f.stack = (char *)p;
    }
    return f.stack + kGuard;
}

void release(barrier &b) {
    b.count = 0;
    b.gen++;
}

/* after a thread returned: barriers that only waited for it open */
void recheck_barriers(int w) {
    block_state &B = g_blk;
    if (B.block_bar.count > 0 && B.block_bar.count >= B.live) release(B.block_bar);
    barrier &wb = B.warp_bar[w];
    if (wb.count > 0 && wb.count >= __builtin_popcount(wb.mask & B.live_mask[w])) release(wb);
}

void fiber_main();

#if defined(__x86_64__)
void switch_to(context &from, context &to) { cudaemu_switch(&from.sp, to.sp); }
void fiber_entry() {
    fiber_main();
    abort();
}
/* a fresh stack whose first switch "returns" into fiber_entry, aligned as after a call */
void init_context(fiber &f, char *stack, size_t bytes) {
    uintptr_t top = ((uintptr_t)(stack + bytes)) & ~(uintptr_t)15;
    void **sp = (void **)top;
    *--sp = nullptr;                     /* fiber_entry's would-be return address */
    *--sp = (void *)&fiber_entry;        /* popped by ret */
    for (int i = 0; i < 6; i++) *--sp = nullptr; /* rbp rbx r12-r15 */
    f.ctx.sp = sp;
}
#else
void switch_to(context &from, context &to) { swapcontext(&from.uc, &to.uc); }
void init_context(fiber &f, char *stack, size_t bytes) {
    getcontext(&f.ctx.uc);
    f.ctx.uc.uc_stack.ss_sp = stack;
    f.ctx.uc.uc_stack.ss_size = bytes;
    f.ctx.uc.uc_link = nullptr;
    makecontext(&f.ctx.uc, fiber_main, 0);
}
#endif

void fiber_main() {
    g_body(g_body_ctx);
    fiber &f = *g_cur;
    f.state = DONE;
    g_blk.live--;
    g_blk.live_mask[f.warp] &= ~(1u << f.lane);
    recheck_barriers(f.warp);
    switch_to(f.ctx, g_sched); /* never resumed */
}

void wait_at(barrier &b) {
    fiber &f = *g_cur;
    f.state = WAITING;
    f.wait_on = &b;
    f.wait_gen = b.gen;
    switch_to(f.ctx, g_sched);
}

bool runnable(const fiber &f) {
    return f.state == READY || (f.state == WAITING && f.wait_on->gen != f.wait_gen);
}

void resume(fiber &f) {
    g_cur = &f;
    threadIdx = f.tid;
    f.state = READY;
    switch_to(g_sched, f.ctx);
    g_cur = nullptr;
}

const char *where(const fiber &f) { return f.wait_on == &g_blk.block_bar ? "__syncthreads" : "a warp operation"; }

/* one block: every fiber from its start until all returned; false on deadlock */
bool run_block() {
    block_state &B = g_blk;
    for (int i = 0; i < B.n; i++) {
        fiber &f = B.f[i];
        init_context(f, stack_for(f), kStack);
        f.state = READY;
        f.mma_seq = 0;
        f.wait_on = nullptr;
    }
    B.live = B.n;
    for (int w = 0; w < B.nwarps; w++) {
        const int lanes = B.n - 32 * w < 32 ? B.n - 32 * w : 32;
        B.live_mask[w] = lanes == 32 ? 0xffffffffu : ((1u << lanes) - 1);
        B.warp_bar[w] = barrier();
    }
    B.block_bar = barrier();
    B.serial++;
    while (B.live > 0) {
        bool progress = false;
        /* a warp runs until all its lanes wait at __syncthreads (or returned) before
         * the next warp starts: the most adversarial legal order for the warps of a
         * block, so a missing __syncthreads shows as a wrong result (reverse: the
         * last warp first, for the races the other way round) */
        for (int k = 0; k < B.nwarps; k++) {
            const int w = g_reverse ? B.nwarps - 1 - k : k;
            const int i0 = 32 * w, i1 = i0 + 32 < B.n ? i0 + 32 : B.n;
            for (bool again = true; again;) {
                again = false;
                for (int i = i0; i < i1; i++) {
                    fiber &f = B.f[i];
                    if (f.state == DONE || !runnable(f)) continue;
                    resume(f);
                    progress = again = true;
                }
            }
        }
        if (!progress) {
            int nb = 0, nw = 0;
            const fiber *first = nullptr;
            for (int i = 0; i < B.n; i++)
                if (B.f[i].state == WAITING) {
                    (B.f[i].wait_on == &B.block_bar ? nb : nw)++;
                    if (!first) first = &B.f[i];
                }
            fprintf(stderr,
                    "cudaemu: deadlock in block (%u,%u,%u): %d threads wait at __syncthreads, %d at warp "
                    "operations, %d returned (first waiter: thread (%u,%u,%u) at %s)\n",
                    blockIdx.x, blockIdx.y, blockIdx.z, nb, nw, B.n - B.live, first->tid.x, first->tid.y,
                    first->tid.z, where(*first));
            B.deadlock = true;
            return false;
        }
    }
    return true;
}

} // namespace

namespace cudaemu {

void run_grid(const launch_cfg &cfg, void (*body)(void *), void *ctx) {
    const dim3 g = cfg.grid, b = cfg.block;
    const unsigned long long nthr = (unsigned long long)b.x * b.y * b.z;
    if (nthr == 0 || nthr > 1024 || b.x > 1024 || b.y > 1024 || b.z > 64 || g.x == 0 || g.y == 0 || g.z == 0 ||
        g.x > 2147483647u || g.y > 65535 || g.z > 65535) {
        fprintf(stderr, "cudaemu: invalid launch configuration grid (%u,%u,%u) block (%u,%u,%u)\n", g.x, g.y, g.z,
                b.x, b.y, b.z);
        set_error(cudaErrorInvalidConfiguration);
        return;
    }
    const size_t limit = smem_limit(cfg.fn);
    if (cfg.smem > limit) {
        fprintf(stderr, "cudaemu: launch asks for %zu bytes of dynamic shared memory, the kernel's limit is %zu\n",
                cfg.smem, limit);
        set_error(cudaErrorInvalidValue);
        return;
    }
    if (check_stream(cfg.stream) != cudaSuccess) {
        set_error(cudaErrorInvalidResourceHandle);
        return;
    }
    if (sticky_error() != cudaSuccess) return; /* a failed kernel poisons the context, as on a GPU */
    std::lock_guard<std::mutex> lk(g_launch_lock);
    block_state &B = g_blk;
    B.n = (int)nthr;
    B.nwarps = (B.n + 31) / 32;
    if ((int)B.f.size() < B.n) B.f.resize(B.n);
    B.live_mask.assign(B.nwarps, 0);
    B.warp_bar.assign(B.nwarps, barrier());
    B.slot.assign((size_t)B.nwarps * 32, 0);
    B.smem.resize(cfg.smem + 256);
    B.deadlock = false;
    if ((int)B.memo.size() < B.nwarps * kMemo) B.memo.resize((size_t)B.nwarps * kMemo);
    for (int i = 0; i < B.n; i++) {
        fiber &f = B.f[i];
        f.tid.x = i % b.x;
        f.tid.y = i / b.x % b.y;
        f.tid.z = i / (b.x * b.y);
        f.warp = i / 32;
        f.lane = i % 32;
    }
    g_body = body;
    g_body_ctx = ctx;
    blockDim = b;
    gridDim = g;
    for (unsigned z = 0; z < g.z; z++)
        for (unsigned y = 0; y < g.y; y++)
            for (unsigned x = 0; x < g.x; x++) {
                blockIdx = uint3{x, y, z};
                /* uninitialised shared memory reads as NaN (0xff bytes), not as zeros */
                if (cfg.smem) memset(B.smem.data(), 0xff, cfg.smem);
                if (!run_block()) {
                    set_sticky(cudaErrorLaunchFailure);
                    return;
                }
            }
}

void *dyn_smem() { return g_blk.smem.data(); }

static void no_fiber(const char *what) {
    fprintf(stderr, "cudaemu: %s called outside a kernel\n", what);
    abort();
}

void syncthreads() {
    if (!g_cur) no_fiber("__syncthreads");
    barrier &b = g_blk.block_bar;
    if (++b.count >= g_blk.live) {
        release(b);
        return;
    }
    wait_at(b);
}

static void warp_barrier(unsigned mask) {
    if (!g_cur) no_fiber("a warp operation");
    fiber &f = *g_cur;
    if (!(mask >> f.lane & 1)) {
        fprintf(stderr, "cudaemu: lane %d calls a warp operation with a mask (0x%08x) that excludes it\n", f.lane,
                mask);
        abort();
    }
    barrier &b = g_blk.warp_bar[f.warp];
    if (b.count == 0) b.mask = mask;
    if (++b.count >= __builtin_popcount(b.mask & g_blk.live_mask[f.warp])) {
        release(b);
        return;
    }
    wait_at(b);
}

void syncwarp(unsigned mask) { warp_barrier(mask); }

uint64_t warp_exchange(uint64_t v, int src, unsigned mask) {
    fiber &f = *g_cur;
    uint64_t *s = &g_blk.slot[(size_t)f.warp * 32];
    s[f.lane] = v;
    warp_barrier(mask);
    const uint64_t r = s[src & 31];
    warp_barrier(mask); /* nobody overwrites its slot before every lane has read */
    return r;
}

unsigned warp_ballot(int pred, unsigned mask) {
    fiber &f = *g_cur;
    uint64_t *s = &g_blk.slot[(size_t)f.warp * 32];
    s[f.lane] = pred ? 1 : 0;
    warp_barrier(mask);
    unsigned r = 0;
    for (int l = 0; l < 32; l++)
        if ((mask >> l & 1) && (g_blk.live_mask[f.warp] >> l & 1) && s[l]) r |= 1u << l;
    warp_barrier(mask);
    return r;
}

bool memo_get(const void *key, size_t kb, void *val, size_t vb) {
    fiber &f = *g_cur;
    const unsigned n = f.mma_seq++;
    memo_entry &e = g_blk.memo[(size_t)f.warp * kMemo + n % kMemo];
    if (e.serial != g_blk.serial || e.seq != n || e.key.size() != kb || e.val.size() != vb ||
        memcmp(e.key.data(), key, kb) != 0)
        return false;
    memcpy(val, e.val.data(), vb);
    return true;
}

void memo_put(const void *key, size_t kb, const void *val, size_t vb) {
    fiber &f = *g_cur;
    const unsigned n = f.mma_seq - 1; /* the number memo_get gave this product */
    memo_entry &e = g_blk.memo[(size_t)f.warp * kMemo + n % kMemo];
    e.serial = g_blk.serial;
    e.seq = n;
    e.key.assign((const char *)key, (const char *)key + kb);
    e.val.assign((const char *)val, (const char *)val + vb);
}

unsigned active_mask() { return g_cur ? g_blk.live_mask[g_cur->warp] : 0; }
int lane() { return g_cur ? g_cur->lane : 0; }

} // namespace cudaemu
