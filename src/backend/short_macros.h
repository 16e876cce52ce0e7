/* Private: the short aliases CHECK/CHECK_GOTO/REQUIRE for the CUDA module's sources,
 * which still use them (the build force-includes this file there only); everything
 * else says ATAS_CHECK/ATAS_CHECK_GOTO/ATAS_REQUIRE, the only names public headers
 * define. Delete it once src/backend/cuda says the ATAS_ names. */
#ifndef ATAS_BACKEND_SHORT_MACROS_H
#define ATAS_BACKEND_SHORT_MACROS_H
#define CHECK(expr) ATAS_CHECK(expr)
#define CHECK_GOTO(st, expr, label) ATAS_CHECK_GOTO(st, expr, label)
#define REQUIRE(cond, ...) ATAS_REQUIRE(cond, __VA_ARGS__)
#endif
