/* The results as a fixed-width table and as JSON (metric names of EVAL-PROTOCOL.md). */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "eval_internal.h"

static void cell(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, " %9.2f", v);
    else fprintf(f, " %9s", "-");
}

void atas_eval_print_table(FILE *f, const atas_eval_result *r) {
    fprintf(f, "# region classification: mean per-class accuracy (%%), %lld image(s) at %d px (grid %d)\n",
            r->images, r->size, r->grid);
    fprintf(f, "# %-9s %9s %9s %9s %9s %9s %9s %9s %9s\n", "method", "thing@1", "thing@5", "stuff@1", "stuff@5",
            "thing_reg", "stuff_reg", "thing_cls", "stuff_cls");
    for (int m = 0; m < ATAS_EVAL_NMETHODS; m++) {
        if (!r->have[m]) continue;
        fprintf(f, "  %-9s", atas_eval_method_names[m]);
        cell(f, r->macc[m][0][0]);
        cell(f, r->macc[m][0][1]);
        cell(f, r->macc[m][1][0]);
        cell(f, r->macc[m][1][1]);
        fprintf(f, " %9lld %9lld %9d %9d\n", r->regions[m][0], r->regions[m][1], r->classes[m][0],
                r->classes[m][1]);
    }
    fflush(f);
}

static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

json_t *atas_eval_metrics_json(const atas_eval_result *r) {
    json_t *o = json_object();
    char name[64];
    for (int m = 0; m < ATAS_EVAL_NMETHODS; m++) {
        if (!r->have[m]) continue;
        for (int s = 0; s < 2; s++)
            for (int t = 0; t < 2; t++) {
                atas_eval_metric_name(m, s, t, name, sizeof name);
                json_object_set_new(o, name, num(r->macc[m][s][t]));
            }
    }
    return o;
}

atas_status atas_eval_write_json(const char *path, const atas_eval_result *r, const char *weights,
                                 const char *data, const char *classes) {
    json_t *o = json_object(), *reg = json_object(), *cls = json_object();
    json_object_set_new(o, "format", json_string("atas-eval"));
    json_object_set_new(o, "version", json_integer(1));
    json_object_set_new(o, "weights", json_string(weights ? weights : ""));
    json_object_set_new(o, "data", json_string(data ? data : ""));
    json_object_set_new(o, "classes", json_string(classes ? classes : ""));
    json_object_set_new(o, "images", json_integer(r->images));
    json_object_set_new(o, "size", json_integer(r->size));
    json_object_set_new(o, "grid", json_integer(r->grid));
    json_object_set_new(o, "seconds", json_real(r->seconds));
    json_object_set_new(o, "metrics", atas_eval_metrics_json(r));
    for (int m = 0; m < ATAS_EVAL_NMETHODS; m++) {
        if (!r->have[m]) continue;
        for (int s = 0; s < 2; s++) {
            char name[64];
            snprintf(name, sizeof name, "%s.%s", atas_eval_method_names[m], s ? "stuff" : "thing");
            json_object_set_new(reg, name, json_integer(r->regions[m][s]));
            json_object_set_new(cls, name, json_integer(r->classes[m][s]));
        }
    }
    json_object_set_new(o, "regions", reg);
    json_object_set_new(o, "classes_present", cls);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int rc = json_dump_file(o, tmp, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (rc != 0) {
        remove(tmp);
        return ATAS_ERR(ATAS_ERR_IO, "%s: cannot write the results: %s", tmp, strerror(errno));
    }
    if (rename(tmp, path) != 0) {
        remove(tmp);
        return ATAS_ERR(ATAS_ERR_IO, "%s: cannot rename %s to it: %s", path, tmp, strerror(errno));
    }
    return ATAS_OK;
}
