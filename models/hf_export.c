/* Hugging Face folders out (models/hf_export.h). */
#include "models/hf_export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/atomic_file.h"
#include "common/file_read.h"
#include "common/path.h"
#include "models/safetensors.h"

static void dequant_linear(const floe_qlinear *q, float *dst)
{
    for (int n = 0; n < q->out; n++)
        for (int i = 0; i < q->in; i++)
            dst[(size_t)n * q->in + i] = (float)q->w[(size_t)n * q->in + i] * q->s_w[n];
}

static void gains(const float *smooth, float *dst, size_t d)
{
    for (size_t j = 0; j < d; j++)
        dst[j] = smooth ? smooth[j] : 1.0f;
}

int floe_qmodel_dequantize(const floe_qmodel *m, floe_model_config *cfg, floe_param_table *t, float **params,
                           floe_err *err)
{
    *params = NULL;
    *cfg = m->cfg;
    cfg->tied_embeddings = 0; /* the head has codes of its own */
    if (floe_param_table_init(t, cfg, err) != 0)
        return -1;
    float *p = malloc(t->total * sizeof *p);
    if (!p) {
        floe_param_table_free(t);
        return floe_err_set(err, "out of memory for %zu dequantized weights", t->total);
    }
    for (size_t i = 0; i < t->count; i++) {
        const floe_param *pp = &t->params[i];
        float *dst = p + pp->offset;
        const floe_qlayer *L = pp->layer >= 0 ? &m->layers[pp->layer] : NULL;
        switch (pp->kind) {
        case FLOE_P_EMBED: /* a Granite's table holds E * embedding_multiplier: the folder's E is that / it */
            for (size_t j = 0; j < pp->numel; j++)
                dst[j] = m->cfg.family == FLOE_FAMILY_GRANITE
                             ? (float)((double)m->embed[j] * m->s_res / m->cfg.embedding_multiplier)
                             : (float)m->embed[j] * m->s_res;
            break;
        case FLOE_P_ATTN_NORM: gains(L->smooth_attn, dst, pp->numel); break;
        case FLOE_P_MLP_NORM: gains(L->smooth_mlp, dst, pp->numel); break;
        case FLOE_P_FINAL_NORM: gains(NULL, dst, pp->numel); break;
        case FLOE_P_Q: dequant_linear(&L->q, dst); break;
        case FLOE_P_K: dequant_linear(&L->k, dst); break;
        case FLOE_P_V: dequant_linear(&L->v, dst); break;
        case FLOE_P_O: dequant_linear(&L->o, dst); break;
        case FLOE_P_GATE: dequant_linear(&L->gate, dst); break;
        case FLOE_P_UP: dequant_linear(&L->up, dst); break;
        case FLOE_P_DOWN: dequant_linear(&L->down, dst); break;
        case FLOE_P_LM_HEAD: dequant_linear(&m->head, dst); break;
        default: break;
        }
    }
    *params = p;
    return 0;
}

/* Copies src to dst atomically (both small JSON files). */
static int copy_file(const char *src, const char *dst, floe_err *err)
{
    char *data;
    size_t len;
    if (floe_read_file(src, (size_t)1 << 30, &data, &len, err) != 0)
        return -1;
    floe_afile af;
    int rc = floe_afile_open(&af, dst, err);
    if (rc == 0 && fwrite(data, 1, len, af.fp) != len) {
        floe_afile_abort(&af);
        rc = floe_err_set(err, "%s: write failed", dst);
    } else if (rc == 0) {
        rc = floe_afile_commit(&af, err);
    }
    free(data);
    return rc;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* tokenizer.json (and tokenizer_config.json when there is one) from a file or a folder. */
static int copy_tokenizer(const char *tokenizer, const char *dir, floe_err *err)
{
    char src[4200], cfg_src[4200], dst[4200];
    if (is_dir(tokenizer)) {
        if (floe_path_join(src, sizeof src, tokenizer, "tokenizer.json") != 0 ||
            floe_path_join(cfg_src, sizeof cfg_src, tokenizer, "tokenizer_config.json") != 0)
            return floe_err_set(err, "%s: path too long", tokenizer);
    } else {
        snprintf(src, sizeof src, "%s", tokenizer);
        const char *slash = strrchr(tokenizer, '/');
        snprintf(cfg_src, sizeof cfg_src, "%.*stokenizer_config.json", slash ? (int)(slash - tokenizer + 1) : 0,
                 tokenizer);
    }
    if (floe_path_join(dst, sizeof dst, dir, "tokenizer.json") != 0 || copy_file(src, dst, err) != 0)
        return -1;
    struct stat st;
    if (stat(cfg_src, &st) != 0)
        return 0; /* no tokenizer_config.json beside it: transformers reads tokenizer.json alone */
    if (floe_path_join(dst, sizeof dst, dir, "tokenizer_config.json") != 0)
        return floe_err_set(err, "%s: path too long", dir);
    return copy_file(cfg_src, dst, err);
}

int floe_hf_folder_write(const char *dir, const floe_model_config *cfg, const floe_param_table *t, const float *params,
                         floe_st_dtype dtype, const char *tokenizer, const char *const *meta_kv, size_t n_meta,
                         floe_err *err)
{
    char path[4200];
    if (floe_mkdir_p(dir, err) != 0)
        return -1;
    char *json = floe_model_config_to_json(cfg);
    if (!json)
        return floe_err_set(err, "out of memory");
    floe_afile af;
    int rc = floe_path_join(path, sizeof path, dir, "config.json") != 0 ? floe_err_set(err, "%s: path too long", dir)
                                                                        : floe_afile_open(&af, path, err);
    if (rc == 0) {
        fputs(json, af.fp);
        fputc('\n', af.fp);
        rc = floe_afile_commit(&af, err);
    }
    free(json);
    if (rc != 0)
        return -1;
    if (floe_path_join(path, sizeof path, dir, "model.safetensors") != 0)
        return floe_err_set(err, "%s: path too long", dir);
    if (floe_st_save_params_as(path, cfg, t, params, dtype, meta_kv, n_meta, err) != 0)
        return -1;
    return tokenizer ? copy_tokenizer(tokenizer, dir, err) : 0;
}
