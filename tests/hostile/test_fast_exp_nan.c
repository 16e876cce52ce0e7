/* NaN (and +-inf) into the CPU backend's fast exp: NaN must propagate without undefined
 * behaviour (it was a float->int conversion of NaN and a left shift of a negative value;
 * the sanitizer job's UBSan halts on either). Also exact enough on ordinary inputs. */
#include <math.h>
#include <stdio.h>

#include "backend/cpu/cpu_internal.h"

int main(void) {
    volatile float nan_in = NAN, pinf = INFINITY, ninf = -INFINITY;
    int bad = 0;
    float y = atas_fast_expf(nan_in);
    if (!isnan(y)) { printf("FAIL exp(NaN) = %g\n", y); bad = 1; }
    y = atas_fast_expf(-nan_in);
    if (!isnan(y)) { printf("FAIL exp(-NaN) = %g\n", y); bad = 1; }
    y = atas_fast_expf(ninf);
    if (!(y >= 0 && y < 1e-37f)) { printf("FAIL exp(-inf) = %g\n", y); bad = 1; }
    y = atas_fast_expf(pinf);
    if (!(y > 1e38f)) { printf("FAIL exp(+inf) = %g\n", y); bad = 1; }
    for (float x = -80.f; x <= 80.f; x += 0.37f) {
        double ref = exp((double)x), got = atas_fast_expf(x);
        if (fabs(got - ref) > 4e-7 * ref) { printf("FAIL exp(%g) = %.9g, expected %.9g\n", x, got, ref); bad = 1; break; }
    }
    printf(bad ? "fast exp: FAILED\n" : "fast exp: NaN, inf and [-80, 80] ok\n");
    return bad;
}
