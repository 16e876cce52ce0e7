/* Version string, set by CMakeLists.txt on this file alone (reconfigure to refresh the
 * git part). */
#include "atas/version.h"

#ifndef ATAS_VERSION_STRING
#define ATAS_VERSION_STRING "unknown"
#endif

const char *atas_version(void) { return ATAS_VERSION_STRING; }

void atas_print_version(const char *program) {
    printf("%s (atas) %s\n", program, atas_version());
    fflush(stdout);
}
