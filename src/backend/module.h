/* Private to the backend: loading the CUDA backend module (module.c). */
#ifndef ATAS_BACKEND_MODULE_H
#define ATAS_BACKEND_MODULE_H

#include <stdint.h>

#include "atas/backend.h"

/* loads libatas_cuda.so once and asks it for its backend at precision prec
 * (an atas_precision; device set-up included) */
atas_status atas_backend_module_get(int prec, const atas_backend **out);
/* the module's release of a backend it created; nothing when none was loaded */
void atas_backend_module_release(const atas_backend *be);

#endif
