/* The training run: steps, periodic evaluation and checkpoints, the CSV log. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/atomic_file.h"
#include "common/file_read.h"
#include "common/path.h"
#include "trainer/log_plot.h"
#include "trainer/run_log.h"
#include "trainer/train.h"


int floe_train_run(floe_trainer *tr, const floe_tokens *train, const floe_tokens *val, const floe_run_opts *o,
                   char *last, size_t last_n, floe_err *err)
{
    const floe_train_cfg *c = &tr->cfg;
    int end = o->stop_after > 0 && o->stop_after < c->steps ? o->stop_after : c->steps;
    char log_path[4200] = "", ckpt[4200] = "";
    floe_run_log rows = {0};
    double seconds0 = 0.0; /* wall time of the earlier part of a resumed run */
    int rc = -1;
    if (o->out_dir) {
        if (floe_mkdir_p(o->out_dir, err) != 0 ||
            floe_path_join(log_path, sizeof log_path, o->out_dir, "train.csv") != 0)
            goto fail;
        if (floe_run_log_load(&rows, log_path, tr->step, &seconds0, err) != 0)
            goto fail;
    }
    if (o->dump_step && tr->step < end && floe_trainer_dump_step(tr, train, o->dump_step, err) != 0)
        goto fail;
    const double tokens_per_step = (double)c->batch * c->context * c->accum;
    double t_start = floe_now_s();
    while (tr->step < end) {
        double t0 = floe_now_s();
        floe_step_stats st;
        if (floe_trainer_step(tr, train, &st, err) != 0)
            goto fail;
        double dt = floe_now_s() - t0, tps = tokens_per_step / (dt > 0 ? dt : 1e-9);
        int is_end = tr->step == end;
        int do_eval = val && ((o->eval_every > 0 && tr->step % o->eval_every == 0) || is_end);
        int do_ckpt = o->out_dir && ((o->ckpt_every > 0 && tr->step % o->ckpt_every == 0) || is_end);
        double val_loss = NAN;
        if (do_eval) {
            floe_eval_result r;
            if (floe_model_evaluate_windows(&tr->model, val, c->context, o->eval_windows, &r, err) != 0)
                goto fail;
            val_loss = r.loss;
        }
        if (o->on_step)
            o->on_step(o->ctx, &st, val_loss, tps);
        if (o->out_dir) {
            char line[512], vbuf[32] = "";
            if (do_eval)
                snprintf(vbuf, sizeof vbuf, "%.6f", val_loss);
            snprintf(line, sizeof line, "%d,%.0f,%.6f,%s,%.6g,%.6g,%.1f,%.3f\n", st.step, st.step * tokens_per_step,
                     (double)st.loss, vbuf, (double)st.lr, st.grad_norm, tps, seconds0 + floe_now_s() - t_start);
            if (floe_run_log_add(&rows, line, err) != 0)
                goto fail;
        }
        if (do_ckpt) {
            char name[64];
            snprintf(name, sizeof name, "ckpt-%06d.safetensors", tr->step);
            if (floe_path_join(ckpt, sizeof ckpt, o->out_dir, name) != 0) {
                floe_err_set(err, "%s: path too long", o->out_dir);
                goto fail;
            }
            if (floe_trainer_save(tr, ckpt, o->meta, o->n_meta, err) != 0)
                goto fail;
        }
        if (o->out_dir && (do_eval || do_ckpt || tr->step % 100 == 0) && floe_run_log_write(&rows, log_path, FLOE_TRAIN_LOG_HEADER, err) != 0)
            goto fail;
    }
    if (o->out_dir && floe_run_log_write(&rows, log_path, FLOE_TRAIN_LOG_HEADER, err) != 0)
        goto fail;
    if (last && last_n)
        snprintf(last, last_n, "%s", ckpt);
    rc = 0;
fail:
    floe_run_log_free(&rows);
    return rc;
}
