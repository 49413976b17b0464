#include "cli/qmodel_arg.h"

#include <stdio.h>

#include "models/qmodel_io.h"

/* The bit widths of --model's random weights, checked against the model's layers. */
static int qconfig_from_args(const floe_qmodel_args *a, const floe_model_config *cfg, floe_qconfig *q, floe_err *err)
{
    *q = floe_qconfig_default();
    q->wbits = (int)a->wbits;
    q->abits = (int)a->abits;
    q->kvbits = (int)a->kvbits;
    q->head_bits = (int)a->head_bits;
    if (floe_qconfig_set_scaling(q, a->act_scaling, a->act_kmax, err) != 0 ||
        floe_qconfig_parse_layer_wbits(q, a->wbits_layer, "--wbits-layer", err) != 0 ||
        floe_qconfig_validate(q, err) != 0)
        return -1;
    return floe_qconfig_check_layers(q, cfg->n_layers, cfg->name, "--wbits-layer", err);
}

int floe_qmodel_from_args(const char *cmd, const floe_qmodel_args *a, floe_qmodel *m)
{
    floe_err err;
    if (!!a->qmodel == !!a->model) {
        fprintf(stderr, "floe %s: error: give either --qmodel FILE or --model NAME (see 'floe %s --help')\n", cmd, cmd);
        return 2;
    }
    if (a->qmodel)
        return floe_qmodel_load(m, a->qmodel, &err) == 0 ? -1 : floe_cmd_fail(cmd, "%s", err.msg);
    floe_model_config cfg;
    if (floe_model_config_load(a->model, &cfg, &err) != 0)
        return floe_cmd_fail(cmd, "%s", err.msg);
    floe_qconfig q;
    if (qconfig_from_args(a, &cfg, &q, &err) != 0)
        return floe_cmd_fail(cmd, "%s", err.msg);
    if (floe_qmodel_random(m, &cfg, &q, (uint64_t)a->seed, &err) != 0)
        return floe_cmd_fail(cmd, "%s", err.msg);
    return -1;
}

int floe_qshape_from_args(const char *cmd, const floe_qmodel_args *a, floe_model_config *cfg, floe_qconfig *q)
{
    floe_err err;
    if (!!a->qmodel == !!a->model) {
        fprintf(stderr, "floe %s: error: give either --qmodel FILE or --model NAME (see 'floe %s --help')\n", cmd, cmd);
        return 2;
    }
    if (a->qmodel) {
        floe_qmodel m;
        if (floe_qmodel_load(&m, a->qmodel, &err) != 0)
            return floe_cmd_fail(cmd, "%s", err.msg);
        *cfg = m.cfg;
        *q = m.q;
        floe_qmodel_free(&m);
        return -1;
    }
    if (floe_model_config_load(a->model, cfg, &err) != 0)
        return floe_cmd_fail(cmd, "%s", err.msg);
    if (qconfig_from_args(a, cfg, q, &err) != 0)
        return floe_cmd_fail(cmd, "%s", err.msg);
    return -1;
}
