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

#define ATAS_OP(name, params, args, checks, flops, bytes)                               \
    static atas_status checked_##name params {                                          \
        static const char op_name[] = #name;                                            \
        (void)op_name;                                                                  \
        checks return ATAS_OP_IMPL(name) args;                                          \
    }
#include "atas/ops.def"

#undef ATAS_ARG
#undef ATAS_SKIP

/* designated initialisers for every registry member of a table: included by
 * backend/op_table_entries.inc inside the table's initialiser */
#define ATAS_OP_TABLE_ENTRIES_OP(name, params, args, checks, flops, bytes) .name = checked_##name,
#define ATAS_OP_TABLE_ENTRIES_FN(name, ret, params) .name = ATAS_OP_IMPL(name),

#endif
