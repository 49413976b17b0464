#include "cli/qat_args.h"

#include <stdio.h>
#include <string.h>

#include "models/hf_folder.h"
#include "models/safetensors.h"

int floe_qat_bits_resolve(const floe_qat_bits_opts *b, floe_qconfig *out, const char *cmd)
{
    *out = floe_qconfig_default();
    out->wbits = (int)b->wbits, out->abits = (int)b->abits, out->kvbits = (int)b->kvbits;
    out->head_bits = (int)b->head_bits;
    floe_err err;
    if (floe_qconfig_set_scaling(out, b->act_scaling, b->act_kmax, &err) != 0 ||
        floe_qconfig_parse_layer_wbits(out, b->wbits_layer, "--wbits-layer", &err) != 0 ||
        floe_qconfig_validate(out, &err) != 0) {
        floe_cmd_fail(cmd, "%s", err.msg);
        return -1;
    }
    return 0;
}

int floe_qinit_opts_resolve(const floe_qinit_opts *o, floe_qinit_cfg *out, const char *cmd)
{
    *out = floe_qinit_defaults();
    if (floe_qinit_method_parse(o->init, &out->method) != 0) {
        floe_cmd_fail(cmd, "--init %s: expected calib, rtn or gptq", o->init);
        return -1;
    }
    out->percentile = o->percentile;
    out->headroom = o->headroom;
    out->res_headroom = o->res_headroom;
    out->batches = (int)o->batches;
    return 0;
}
