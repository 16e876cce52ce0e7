/* The version every program prints for --version: the CMake project version, plus
 * `git describe` of the source tree when it was configured from a git checkout. */
#ifndef ATAS_VERSION_H
#define ATAS_VERSION_H

#include <stdio.h>

const char *atas_version(void);
/* "PROGRAM (atas) VERSION" on stdout */
void atas_print_version(const char *program);

#endif
