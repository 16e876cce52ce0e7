/* libconfig reads an integer literal beyond 64 bits as -1 without a word: such
 * literals are found in the config text first and refused with their line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

static int too_big(const char *d, size_t n) {
    while (n > 1 && *d == '0') { d++; n--; }
    return n > 19 || (n == 19 && memcmp(d, "9223372036854775807", 19) > 0);
}

/* run holds the first 63 digits of n */
static int big(const char *run, size_t n) { return n >= 63 || too_big(run, n); }

atas_status atas_cfg_check_literals(const char *path, const char *shown) {
    FILE *f = fopen(path, "r");
    if (!f) return ATAS_OK; /* the reader says why */
    int line = 1, c, prev = '\n';
    char run[64];
    size_t n = 0;
    enum { CODE, STR, LINE_COMMENT, BLOCK_COMMENT } st = CODE;
    atas_status s = ATAS_OK;
    int in_run = 0, run_line = 0;
    while ((c = fgetc(f)) != EOF && s == ATAS_OK) {
        if (st == CODE && in_run) {
            if (c >= '0' && c <= '9') {
                if (n < sizeof run - 1) run[n] = (char)c;
                n++;
                prev = c;
                continue;
            }
            in_run = 0;
            /* a float (1234...5.0, 1e30) or a hex run is libconfig's business */
            if (c != '.' && c != 'e' && c != 'E' && c != 'x' && c != 'X' && big(run, n)) {
                run[n < sizeof run ? n : sizeof run - 1] = 0;
                s = ATAS_ERR(ATAS_ERR_CONFIG, "%s:%d: integer literal %s%s is out of the 64-bit range", shown,
                             run_line, run, n >= sizeof run ? "..." : "");
                break;
            }
        }
        switch (st) {
        case CODE:
            if (c == '"') st = STR;
            else if (c == '#') st = LINE_COMMENT;
            else if (c == '/') {
                int d = fgetc(f);
                if (d == '/') st = LINE_COMMENT;
                else if (d == '*') st = BLOCK_COMMENT;
                else if (d != EOF) ungetc(d, f);
            } else if (c >= '0' && c <= '9' && !(prev == '.' || prev == '_' || prev == 'e' || prev == 'E' ||
                                                  (prev >= 'a' && prev <= 'z') || (prev >= 'A' && prev <= 'Z') ||
                                                  (prev >= '0' && prev <= '9'))) {
                in_run = 1;
                run_line = line;
                n = 0;
                run[n++] = (char)c;
            }
            break;
        case STR:
            if (c == '\\') { int d = fgetc(f); if (d == '\n') line++; }
            else if (c == '"') st = CODE;
            break;
        case LINE_COMMENT:
            if (c == '\n') st = CODE;
            break;
        case BLOCK_COMMENT:
            if (prev == '*' && c == '/') { st = CODE; c = ' '; }
            break;
        }
        if (c == '\n') line++;
        prev = c;
    }
    if (s == ATAS_OK && in_run && big(run, n)) {
        run[n < sizeof run ? n : sizeof run - 1] = 0;
        s = ATAS_ERR(ATAS_ERR_CONFIG, "%s:%d: integer literal %s is out of the 64-bit range", shown, run_line, run);
    }
    fclose(f);
    return s;
}
