/* Weight ensembling (CLIPSelf's export): w = a*trained + (1-a)*pretrained. */
#include "atas/weights.h"

/* Each element in double, rounded once to float, with no fused multiply-add:
 * the result is then the same on every machine (and equals numpy's float64
 * formula cast to float32, which the tests check bit for bit). */
__attribute__((optimize("fp-contract=off")))
void atas_weights_ensemble(float *w, const float *pre, size_t n, double alpha) {
    double b = 1.0 - alpha;
    for (size_t i = 0; i < n; i++) {
        double x = alpha * (double)w[i], y = b * (double)pre[i];
        w[i] = (float)(x + y);
    }
}
