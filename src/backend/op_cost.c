/* FLOP and byte counts of every op, generated from the registry
 * (include/backend/atas/ops.def): atas_op_cost_<name>(the op's arguments). */
#include "atas/backend.h"

#define ATAS_OP(name, params, args, checks, flops, bytes)                               \
    atas_op_cost atas_op_cost_##name params {                                           \
        atas_op_cost c_ = {(double)(flops), (double)(bytes)};                           \
        return c_;                                                                      \
    }
#include "atas/ops.def"
