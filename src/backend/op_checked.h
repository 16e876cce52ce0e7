/* Private: the shared argument-check layer and a backend's op table, generated
 * from the registry (include/backend/atas/ops.def). A backend's table file defines
 * ATAS_OP_IMPL(name) to its function name (atas_cpu_##name), includes this
 * header, and fills its table by including backend/op_table_entries.inc inside
 * the initialiser (after .name and .host_addressable): every op then runs
 * the registry's checks once, here, before the backend's code - so the CPU and
 * CUDA files hold no copies of them. */
#ifndef ATAS_OP_CHECKED_H
#define ATAS_OP_CHECKED_H

#include "atas/backend.h"

#ifndef ATAS_OP_IMPL
#error "define ATAS_OP_IMPL(name) to the backend's function for op `name` first"
#endif

/* a refused call names the op: "<op>: <message>" */
#define ATAS_ARG(cond, fmt, ...)                                                        \
    if (!(cond)) return ATAS_ERR(ATAS_ERR_INVALID, "%s: " fmt, op_name, ##__VA_ARGS__);
#define ATAS_SKIP(cond)                                                                 \
    if (cond) return ATAS_OK;

/* Ops that queue no work (allocation, set-up, waiting) are not counted in
 * atas_backend_op_calls: ATAS_OP_COUNTS(name) is 0 for the names listed here and 1
 * for every other op, a constant. (A listed name expands to a comma, which shifts
 * the 0 into the second argument place; any other name leaves the 1 there.) */
#define ATAS_NO_WORK_alloc ,
#define ATAS_NO_WORK_host_alloc ,
#define ATAS_NO_WORK_sync ,
#define ATAS_NO_WORK_coll_unique_id ,
#define ATAS_NO_WORK_coll_init ,
#define ATAS_NO_WORK_coll_wait ,
#define ATAS_SECOND_(a, b, ...) b
#define ATAS_OP_COUNTS_(...) ATAS_SECOND_(__VA_ARGS__)
#define ATAS_OP_COUNTS(name) ATAS_OP_COUNTS_(ATAS_NO_WORK_##name 0, 1, ~)

#define ATAS_OP(name, params, args, checks, flops, bytes)                               \
    static atas_status checked_##name params {                                          \
        static const char op_name[] = #name;                                            \
        (void)op_name;                                                                  \
        checks if (ATAS_OP_COUNTS(name)) atas_backend_count_op_call();                  \
        return ATAS_OP_IMPL(name) args;                                                 \
    }
#include "atas/ops.def"

#undef ATAS_ARG
#undef ATAS_SKIP

/* designated initialisers for every registry member of a table: included by
 * backend/op_table_entries.inc inside the table's initialiser */
#define ATAS_OP_TABLE_ENTRIES_OP(name, params, args, checks, flops, bytes) .name = checked_##name,
#define ATAS_OP_TABLE_ENTRIES_FN(name, ret, params) .name = ATAS_OP_IMPL(name),

#endif
