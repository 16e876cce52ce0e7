/* The region-classification metric on cases with a known answer:
 * - class embeddings built from the region features themselves -> 100 %
 *   (directly, and through RoIAlign on a random dense map);
 * - a known permutation of the class embeddings -> the accuracies derived by
 *   hand in the comments below (top-1 and top-5, things and stuff apart);
 * - a class with mixed results weighs as one class (mean per class, not per region);
 * - a class without regions does not count. */
#include <math.h>
#include <string.h>

#include "atas/eval.h"
#include "test_util.h"

enum { K = 10, E = 10 };
static const int isthing[K] = {1, 1, 1, 1, 1, 1, 0, 0, 0, 0}; /* 0..5 things, 6..9 stuff */

/* feature "of class c": ranks the one-hot directions c, c+1, ..., c+5 (mod K) in that order */
static void feature(int c, float *f) {
    static const float w[6] = {1.0f, 0.5f, 0.25f, 0.125f, 0.0625f, 0.03f};
    memset(f, 0, E * sizeof *f);
    for (int j = 0; j < 6; j++) f[(c + j) % K] = w[j];
    atas_l2_normalize_rows(f, 1, E);
}

/* class-embedding row k = e_{perm[k]} */
static void classes(const int *perm, float *cls) {
    memset(cls, 0, sizeof(float) * K * E);
    for (int k = 0; k < K; k++) cls[k * E + perm[k]] = 1;
}

static void run(const float *cls, int skip_class, int mixed, atas_eval_result *r) {
    atas_eval_acc a;
    T_OK(atas_eval_acc_init(&a, K));
    float f[E];
    int top[5];
    for (int c = 0; c < K; c++) {
        if (c == skip_class) continue;
        for (int n = 0; n < 1 + c; n++) { /* unequal region counts per class */
            feature(c, f);
            atas_eval_top5(f, cls, K, E, top);
            atas_eval_acc_add(&a, ATAS_EVAL_ROIS, c, top);
        }
    }
    if (mixed) { /* one more region labelled 2 that looks like class 4: wrong at top-1 and top-5 */
        feature(4, f);
        atas_eval_top5(f, cls, K, E, top);
        atas_eval_acc_add(&a, ATAS_EVAL_ROIS, 2, top);
    }
    memset(r, 0, sizeof *r);
    atas_eval_acc_result(&a, isthing, r);
    atas_eval_acc_free(&a);
}

static void expect(const atas_eval_result *r, double t1, double t5, double s1, double s5, const char *what) {
    const double *m0 = r->macc[ATAS_EVAL_ROIS][0], *m1 = r->macc[ATAS_EVAL_ROIS][1];
    T_ASSERT(fabs(m0[0] - t1) < 1e-9 && fabs(m0[1] - t5) < 1e-9 && fabs(m1[0] - s1) < 1e-9 && fabs(m1[1] - s5) < 1e-9,
             "%s: thing %.4f/%.4f stuff %.4f/%.4f, expected %.4f/%.4f %.4f/%.4f", what, m0[0], m0[1], m1[0], m1[1], t1,
             t5, s1, s5);
}

int main(void) {
    float cls[K * E];
    atas_eval_result r;
    int ident[K];
    for (int k = 0; k < K; k++) ident[k] = k;

    classes(ident, cls);
    run(cls, -1, 0, &r);
    expect(&r, 100, 100, 100, 100, "identity");
    T_ASSERT(r.regions[ATAS_EVAL_ROIS][0] == 21 && r.regions[ATAS_EVAL_ROIS][1] == 34 &&
                 r.classes[ATAS_EVAL_ROIS][0] == 6 && r.classes[ATAS_EVAL_ROIS][1] == 4,
             "counts %lld %lld %d %d", r.regions[0][0], r.regions[0][1], r.classes[0][0], r.classes[0][1]);
    T_ASSERT(isnan(r.macc[ATAS_EVAL_CROPS][0][0]), "a method without regions must give NaN");

    /* rows 0<->1 and 6<->9 swapped. Class c's top-5 rows are perm^-1(c..c+4):
     * thing 0: top1 row 1 (wrong), top5 {1,0,2,3,4} (right); thing 1: top1 row 0, top5 {0,2,3,4,5} (both wrong);
     * things 2..5 right -> thing top1 4/6, top5 5/6.
     * stuff 6: top1 row 9 (wrong), top5 {9,7,8,6,1} (right); 7, 8 right;
     * stuff 9: top1 row 6, top5 {6,1,0,2,3} (both wrong) -> stuff top1 2/4, top5 3/4. */
    int perm[K] = {1, 0, 2, 3, 4, 5, 9, 7, 8, 6};
    classes(perm, cls);
    run(cls, -1, 0, &r);
    expect(&r, 400.0 / 6, 500.0 / 6, 50, 75, "permutation");

    /* class 2 gets a 4th region that is wrong: 3/4 for that class, the others 1 -> (5 + 0.75) / 6 */
    classes(ident, cls);
    run(cls, -1, 1, &r);
    expect(&r, 575.0 / 6, 575.0 / 6, 100, 100, "mean per class");

    /* no regions of class 1 under the permutation: things 0, 2..5 -> top1 4/5 (0 wrong), top5 5/5 */
    classes(perm, cls);
    run(cls, 1, 0, &r);
    expect(&r, 80, 100, 50, 75, "absent class");
    T_ASSERT(r.classes[ATAS_EVAL_ROIS][0] == 5, "classes %d", r.classes[ATAS_EVAL_ROIS][0]);

    /* class embeddings = the pooled region features themselves (RoIAlign on a random map) -> 100 % */
    enum { H = 6, W = 8, C = 12, N = 9 };
    float map[H * W * C], feats[N * C];
    uint64_t s = 12345;
    for (int i = 0; i < H * W * C; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        map[i] = (float)((s >> 11) * (1.0 / 9007199254740992.0) - 0.5);
    }
    atas_l2_normalize_rows(map, H * W, C);
    for (int n = 0; n < N; n++) {
        const double x0 = 3.0 * (n % 4), y0 = 2.5 * (n / 4), w = 8 + 5 * (n % 3), h = 6 + 4 * (n % 2);
        atas_roi_align_1x1(map, H, W, C, 1.0 / 4, x0, y0, x0 + w, y0 + h, feats + n * C);
    }
    atas_l2_normalize_rows(feats, N, C);
    int thing9[N];
    atas_eval_acc a;
    T_OK(atas_eval_acc_init(&a, N));
    for (int n = 0; n < N; n++) {
        int top[5];
        thing9[n] = n % 2;
        atas_eval_top5(feats + n * C, feats, N, C, top);
        atas_eval_acc_add(&a, ATAS_EVAL_ROIS, n, top);
    }
    memset(&r, 0, sizeof r);
    atas_eval_acc_result(&a, thing9, &r);
    atas_eval_acc_free(&a);
    expect(&r, 100, 100, 100, 100, "class embeddings = pooled features");

    char name[64];
    atas_eval_metric_name(ATAS_EVAL_MASKPOOL, 1, 1, name, sizeof name);
    T_ASSERT(!strcmp(name, "maskpool.stuff.macc5"), "name %s", name);
    return t_finish("test_eval_metric");
}
