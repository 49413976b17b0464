#include "models/hf_folder.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "common/file_read.h"
#include "models/half.h"
#include "models/safetensors.h"

#define PATH_MAX_LEN 4200

/* --- index.json --------------------------------------------------------------------------------- */

void floe_hf_index_free(floe_hf_index *ix)
{
    for (size_t i = 0; i < ix->n; i++)
        free(ix->tensor[i]);
    for (size_t i = 0; i < ix->n_shards; i++)
        free(ix->shards[i]);
    free(ix->tensor);
    free(ix->shard);
    free(ix->shards);
    memset(ix, 0, sizeof *ix);
}

/* A shard must live in the folder itself: a plain file name. */
static int plain_file_name(const char *s)
{
    return s[0] && strcmp(s, ".") != 0 && strcmp(s, "..") != 0 && !strchr(s, '/') && !strchr(s, '\\');
}

static int index_find(const floe_hf_index *ix, const char *name)
{
    for (size_t i = 0; i < ix->n; i++)
        if (strcmp(ix->tensor[i], name) == 0)
            return (int)i;
    return -1;
}

int floe_hf_index_parse(const char *json, size_t len, const char *src, floe_hf_index *ix, floe_err *err)
{
    memset(ix, 0, sizeof *ix);
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root)
        return floe_err_set(err, "%s: not valid JSON", src);
    int rc = -1;
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(root) || !cJSON_IsObject(wm)) {
        floe_err_set(err, "%s: expected an object with a 'weight_map' object", src);
        goto out;
    }
    size_t n = (size_t)cJSON_GetArraySize(wm);
    if (n == 0) {
        floe_err_set(err, "%s: 'weight_map' is empty", src);
        goto out;
    }
    ix->tensor = calloc(n, sizeof *ix->tensor);
    ix->shard = calloc(n, sizeof *ix->shard);
    ix->shards = calloc(n, sizeof *ix->shards);
    if (!ix->tensor || !ix->shard || !ix->shards) {
        floe_err_set(err, "%s: out of memory", src);
        goto out;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, wm)
    {
        if (!cJSON_IsString(e)) {
            floe_err_set(err, "%s: weight_map: tensor '%s': expected a file name", src, e->string);
            goto out;
        }
        if (!plain_file_name(e->valuestring)) {
            floe_err_set(err, "%s: weight_map: tensor '%s': shard '%s' is not a file name in the model folder", src,
                         e->string, e->valuestring);
            goto out;
        }
        if (index_find(ix, e->string) >= 0) {
            floe_err_set(err, "%s: weight_map: tensor '%s' appears twice", src, e->string);
            goto out;
        }
        size_t s = 0;
        while (s < ix->n_shards && strcmp(ix->shards[s], e->valuestring) != 0)
            s++;
        if (s == ix->n_shards && !(ix->shards[ix->n_shards++] = strdup(e->valuestring))) {
            floe_err_set(err, "%s: out of memory", src);
            goto out;
        }
        ix->shard[ix->n] = (int)s;
        if (!(ix->tensor[ix->n++] = strdup(e->string))) {
            floe_err_set(err, "%s: out of memory", src);
            goto out;
        }
    }
    rc = 0;
out:
    if (rc != 0)
        floe_hf_index_free(ix);
    cJSON_Delete(root);
    return rc;
}

/* --- the folder --------------------------------------------------------------------------------- */

int floe_hf_is_folder(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int join(char *out, const char *dir, const char *name, floe_err *err)
{
    if (snprintf(out, PATH_MAX_LEN, "%s/%s", dir, name) >= PATH_MAX_LEN)
        return floe_err_set(err, "%s: path too long", dir);
    return 0;
}

int floe_hf_folder_config(const char *dir, floe_model_config *cfg, floe_err *err)
{
    char path[PATH_MAX_LEN];
    if (join(path, dir, "config.json", err) != 0 || floe_model_config_read(path, cfg, err) != 0)
        return -1;
    if (strcmp(cfg->name, "config.json") == 0) { /* no _name_or_path: the folder's name */
        size_t n = strlen(dir);
        while (n > 1 && dir[n - 1] == '/')
            n--;
        size_t b = n;
        while (b > 0 && dir[b - 1] != '/')
            b--;
        snprintf(cfg->name, sizeof cfg->name, "%.*s", (int)(n - b), dir + b);
    }
    return 0;
}

/* The loading state shared by all shards. */
typedef struct {
    const floe_model_config *cfg;
    const floe_param_table *t;
    float *params;
    const floe_hf_index *ix; /* NULL: one model.safetensors */
    const char *ix_path;
    const char **where; /* [t->count] shard each parameter came from (NULL: not yet) */
    const char *head_where;
    float *tied_head; /* lm_head.weight of a tied folder, for the equality check */
} loader;

static const char *ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0 ? s + a - b : NULL;
}

/* Converts n little-endian elements of dtype d at src into dst. */
static void convert(float *dst, const unsigned char *src, floe_st_dtype d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (d == FLOE_ST_F32) {
            memcpy(&dst[i], src + 4 * i, 4);
            continue;
        }
        uint16_t h = (uint16_t)(src[2 * i] | (unsigned)src[2 * i + 1] << 8);
        dst[i] = d == FLOE_ST_F16 ? floe_f16_to_f32(h) : floe_bf16_to_f32(h);
    }
}

static int check_shape(const floe_st_tensor *s, const floe_param *p, const char *path, floe_err *err)
{
    int ok = s->ndim == p->ndim && s->shape[0] == p->shape[0] && (p->ndim == 1 || s->shape[1] == p->shape[1]);
    if (ok)
        return 0;
    char got[128] = "[", want[64];
    for (int k = 0; k < s->ndim; k++) {
        char d[24];
        snprintf(d, sizeof d, "%s%llu", k ? ", " : "", (unsigned long long)s->shape[k]);
        strncat(got, d, sizeof got - strlen(got) - 2);
    }
    strcat(got, "]");
    if (p->ndim == 1)
        snprintf(want, sizeof want, "[%zu]", p->shape[0]);
    else
        snprintf(want, sizeof want, "[%zu, %zu]", p->shape[0], p->shape[1]);
    return floe_err_set(err, "%s: tensor '%s': shape %s, expected %s", path, s->name, got, want);
}

/* One tensor of an opened, mapped shard into its place. */
static int load_tensor(loader *L, const floe_st_file *f, const floe_st_tensor *s, const unsigned char *data,
                       const char *shard, floe_err *err)
{
    if (ends_with(s->name, ".rotary_emb.inv_freq"))
        return 0; /* a buffer of older checkpoints: RoPE comes from the config */
    if (L->ix) {
        int k = index_find(L->ix, s->name);
        if (k < 0)
            return floe_err_set(err, "%s: tensor '%s' is not in %s", f->path, s->name, L->ix_path);
        if (strcmp(L->ix->shards[L->ix->shard[k]], shard) != 0)
            return floe_err_set(err, "%s: tensor '%s': %s puts it in '%s'", f->path, s->name, L->ix_path,
                                L->ix->shards[L->ix->shard[k]]);
    }
    int tied_head = L->cfg->tied_embeddings && strcmp(s->name, "lm_head.weight") == 0;
    int i = floe_param_find(L->t, s->name);
    if (i < 0 && !tied_head)
        return floe_err_set(err, "%s: tensor '%s' is not a parameter of this %s model (docs/hf-models.md)", f->path,
                            s->name, floe_model_family_name(L->cfg->family));
    if (s->dtype != FLOE_ST_F32 && s->dtype != FLOE_ST_F16 && s->dtype != FLOE_ST_BF16)
        return floe_err_set(err, "%s: tensor '%s': dtype %s, expected F32, F16 or BF16", f->path, s->name,
                            floe_st_dtype_name(s->dtype));
    const floe_param *p = tied_head ? floe_param_get(L->t, FLOE_P_EMBED, -1) : &L->t->params[i];
    if (check_shape(s, p, f->path, err) != 0)
        return -1;
    const char **seen = tied_head ? &L->head_where : &L->where[i];
    if (*seen)
        return floe_err_set(err, "%s: tensor '%s' appears again (first in %s)", f->path, s->name, *seen);
    *seen = shard;
    if (tied_head) {
        L->tied_head = malloc(p->numel * sizeof(float));
        if (!L->tied_head)
            return floe_err_set(err, "%s: out of memory", f->path);
    }
    convert(tied_head ? L->tied_head : L->params + p->offset, data + f->data_start + s->begin, s->dtype, p->numel);
    return 0;
}

/* Opens, maps and loads one shard; with an index, also checks that the shard holds every tensor the
 * index gives it. */
static int load_shard(loader *L, const char *dir, const char *shard, floe_err *err)
{
    char path[PATH_MAX_LEN];
    if (join(path, dir, shard, err) != 0)
        return -1;
    floe_st_file f;
    if (floe_st_open(&f, path, err) != 0)
        return L->ix ? floe_err_prefix(err, "shard '%s' of %s", shard, L->ix_path) : -1;
    int rc = -1;
    void *map = MAP_FAILED;
    if (f.file_size > 0)
        map = mmap(NULL, (size_t)f.file_size, PROT_READ, MAP_PRIVATE, fileno(f.fp), 0);
    if (map == MAP_FAILED) {
        floe_err_set(err, "%s: cannot map: %s", path, strerror(errno));
        goto out;
    }
    for (size_t k = 0; k < f.n_tensors; k++)
        if (load_tensor(L, &f, &f.tensors[k], map, shard, err) != 0)
            goto out;
    if (L->ix)
        for (size_t k = 0; k < L->ix->n; k++)
            if (strcmp(L->ix->shards[L->ix->shard[k]], shard) == 0 && floe_st_find(&f, L->ix->tensor[k]) < 0) {
                floe_err_set(err, "%s: tensor '%s' is not in shard '%s' (%s names it there)", path, L->ix->tensor[k],
                             shard, L->ix_path);
                goto out;
            }
    rc = 0;
out:
    if (map != MAP_FAILED)
        munmap(map, (size_t)f.file_size);
    floe_st_close(&f);
    return rc;
}

int floe_hf_folder_load_params(const char *dir, const floe_model_config *cfg, const floe_param_table *t, float *params,
                               floe_err *err)
{
    char ix_path[PATH_MAX_LEN], single[PATH_MAX_LEN];
    if (join(ix_path, dir, "model.safetensors.index.json", err) != 0 ||
        join(single, dir, "model.safetensors", err) != 0)
        return -1;
    floe_hf_index ix;
    memset(&ix, 0, sizeof ix);
    loader L = {cfg, t, params, NULL, ix_path, NULL, NULL, NULL};
    struct stat st;
    int have_index = stat(ix_path, &st) == 0;
    if (!have_index && stat(single, &st) != 0)
        return floe_err_set(err, "%s: no model.safetensors and no model.safetensors.index.json", dir);
    if (have_index) {
        char *json;
        size_t len;
        if (floe_read_file(ix_path, FLOE_HF_INDEX_MAX_BYTES, &json, &len, err) != 0)
            return -1;
        int prc = floe_hf_index_parse(json, len, ix_path, &ix, err);
        free(json);
        if (prc != 0)
            return -1;
        L.ix = &ix;
    }
    int rc = -1;
    L.where = calloc(t->count, sizeof *L.where);
    if (!L.where) {
        floe_err_set(err, "%s: out of memory", dir);
        goto out;
    }
    if (have_index) {
        for (size_t s = 0; s < ix.n_shards; s++)
            if (load_shard(&L, dir, ix.shards[s], err) != 0)
                goto out;
    } else if (load_shard(&L, dir, "model.safetensors", err) != 0)
        goto out;
    for (size_t i = 0; i < t->count; i++)
        if (!L.where[i]) {
            floe_err_set(err, "%s: tensor '%s' missing (%s)", dir, t->params[i].name,
                         have_index ? "in no shard of model.safetensors.index.json" : "not in model.safetensors");
            goto out;
        }
    if (L.tied_head) {
        const floe_param *e = floe_param_get(t, FLOE_P_EMBED, -1);
        if (memcmp(L.tied_head, params + e->offset, e->numel * sizeof(float)) != 0) {
            floe_err_set(err,
                         "%s: lm_head.weight differs from model.embed_tokens.weight, but config.json ties them "
                         "(tie_word_embeddings)",
                         L.head_where);
            goto out;
        }
    }
    rc = 0;
out:
    free(L.tied_head);
    free(L.where);
    floe_hf_index_free(&ix);
    return rc;
}
