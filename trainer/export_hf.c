/* `floe export --hf` (trainer/export_hf.h): a quantized model dequantized, or a float model as it is. */
#include "trainer/export_hf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/hf_export.h"
#include "models/qmodel_io.h"
#include "models/safetensors.h"
#include "trainer/train.h"

/* 1 when `path` is a quantized model file (its format metadata), 0 otherwise. */
static int is_qmodel_file(const char *path)
{
    floe_st_file f;
    floe_err e;
    if (floe_st_open(&f, path, &e) != 0)
        return 0;
    int q = floe_st_meta_get(&f, "floe.qmodel_version") != NULL;
    floe_st_close(&f);
    return q;
}

int floe_export_hf(const char *in, const char *dir, const char *tokenizer, int bf16, floe_export_hf_info *info,
                   floe_err *err)
{
    const floe_st_dtype dt = bf16 ? FLOE_ST_BF16 : FLOE_ST_F32;
    memset(info, 0, sizeof *info);
    const char *meta[] = {"floe.exported_from", in};
    if (is_qmodel_file(in)) {
        floe_qmodel m;
        if (floe_qmodel_load(&m, in, err) != 0)
            return -1;
        floe_model_config cfg;
        floe_param_table t;
        float *p;
        int rc = floe_qmodel_dequantize(&m, &cfg, &t, &p, err);
        floe_qmodel_free(&m);
        if (rc != 0)
            return -1;
        rc = floe_hf_folder_write(dir, &cfg, &t, p, dt, tokenizer, meta, 1, err);
        info->quantized = 1;
        info->params = t.total;
        snprintf(info->name, sizeof info->name, "%s", cfg.name);
        free(p);
        floe_param_table_free(&t);
        return rc;
    }
    floe_model m;
    if (floe_model_load_forward(&m, in, 1, 1, err) != 0)
        return -1;
    int rc = floe_hf_folder_write(dir, &m.cfg, &m.table, m.params, dt, tokenizer, meta, 1, err);
    info->params = m.table.total;
    snprintf(info->name, sizeof info->name, "%s", m.cfg.name);
    floe_model_free(&m);
    return rc;
}
