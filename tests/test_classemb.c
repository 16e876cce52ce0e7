/* Class-embedding files: round trip, refusal of unnormalised rows, and named
 * errors for a file of another format. */
#include <string.h>
#include <unistd.h>

#include "atas/classemb.h"
#include "atas/h5util.h"
#include "test_util.h"

int main(void) {
    char dir[] = "/tmp/atas_classemb_XXXXXX";
    T_ASSERT(mkdtemp(dir) != NULL, "mkdtemp");
    char path[256], bad[256];
    snprintf(path, sizeof path, "%s/classes.h5", dir);
    snprintf(bad, sizeof bad, "%s/other.h5", dir);

    enum { K = 3, E = 4 };
    float emb[K * E] = {1, 0, 0, 0, 0, 0.6f, 0.8f, 0, 0.5f, 0.5f, 0.5f, 0.5f};
    int ids[K] = {1, 7, 92}, thing[K] = {1, 1, 0};
    char *names[K] = {"person", "train", "banner \xc3\xa9"};
    atas_classemb c = {.K = K, .E = E, .emb = emb, .category_id = ids, .isthing = thing,
                       .names = names, .n_templates = 80};
    snprintf(c.model, sizeof c.model, "ViT-B-16 test");
    T_OK(atas_classemb_write(path, &c));

    atas_classemb r;
    T_OK(atas_classemb_read(path, &r));
    T_ASSERT(r.K == K && r.E == E && r.n_templates == 80, "K %d E %d templates %d", r.K, r.E, r.n_templates);
    T_ASSERT(!memcmp(r.emb, emb, sizeof emb), "embeddings differ");
    T_ASSERT(!memcmp(r.category_id, ids, sizeof ids) && !memcmp(r.isthing, thing, sizeof thing), "ids differ");
    for (int k = 0; k < K; k++) T_ASSERT(!strcmp(r.names[k], names[k]), "name %d: %s", k, r.names[k]);
    T_ASSERT(!strcmp(r.model, "ViT-B-16 test"), "model %s", r.model);
    atas_classemb_free(&r);

    /* an unnormalised row is refused and nothing is written */
    emb[0] = 2;
    T_ASSERT(atas_classemb_write(bad, &c) == ATAS_ERR_INVALID, "unnormalised row accepted");
    T_ASSERT(strstr(atas_error_message(), "person") != NULL, "message: %s", atas_error_message());
    T_ASSERT(access(bad, F_OK) != 0, "a refused write left %s", bad);
    atas_error_clear();

    /* an HDF5 file of another kind: named error */
    hid_t f;
    T_OK(atas_h5_create(bad, &f));
    T_OK(atas_h5_attr_write_str(f, "format", "atas-corpus"));
    H5Fclose(f);
    T_ASSERT(atas_classemb_read(bad, &r) == ATAS_ERR_FORMAT, "other format accepted");
    T_ASSERT(strstr(atas_error_message(), bad) && strstr(atas_error_message(), "atas-class-embeddings"),
             "message: %s", atas_error_message());
    unlink(path);
    unlink(bad);
    rmdir(dir);
    return t_finish("test_classemb");
}
