/* Special files refused by type before they are opened (include/core/atas/fileio.h). */
#include "atas/fileio.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

atas_status atas_require_regular_file(const char *path, const char *what) {
    struct stat sb;
    if (stat(path, &sb) != 0)
        return ATAS_ERR(ATAS_ERR_IO, "%s: cannot open the %s: %s", path, what, strerror(errno));
    if (S_ISREG(sb.st_mode)) return ATAS_OK;
    const char *kind = S_ISDIR(sb.st_mode)    ? "a directory"
                       : S_ISFIFO(sb.st_mode) ? "a FIFO (named pipe)"
                       : S_ISCHR(sb.st_mode)  ? "a character device"
                       : S_ISBLK(sb.st_mode)  ? "a block device"
                       : S_ISSOCK(sb.st_mode) ? "a socket"
                                              : "not a regular file";
    return ATAS_ERR(ATAS_ERR_IO, "%s: the %s is %s, expected a regular file", path, what, kind);
}
