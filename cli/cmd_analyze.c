/* `floe analyze`: SiLQ's weight-rotation analysis of a QAT student against its FP teacher
 * (docs/trainer.md, "Weight-rotation analysis"). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/args.h"
#include "common/path.h"
#include "models/qmodel_io.h"
#include "trainer/train.h"
#include "trainer/weight_analysis.h"

static void progress(void *ctx, size_t done, size_t total)
{
    (void)ctx;
    if (isatty(fileno(stderr)))
        fprintf(stderr, "\ranalyze: %zu/%zu tensors%s", done, total, done == total ? "\n" : "");
}

int floe_cmd_analyze(int argc, char **argv)
{
    const char *teacher = NULL, *student = NULL, *out_dir = ".", *side_s = "input";
    int no_plot = 0;
    const floe_opt opts[] = {
        {"teacher", FLOE_ARG_STRING, &teacher, "CKPT",
         "the FP teacher checkpoint (.safetensors) or Hugging Face model folder (required)", 0, 0, 't'},
        {"student", FLOE_ARG_STRING, &student, "QMODEL", "the quantized student (floe-qmodel .safetensors, required)",
         0, 0, 's'},
        {"out", FLOE_ARG_STRING, &out_dir, "DIR", "folder for analyze.csv and analyze.png (default: .; created)", 0, 0,
         'o'},
        {"side", FLOE_ARG_STRING, &side_s, "SIDE",
         "the rotation's space: input (default; min ||A R - B||, R in O(in)) or output (min ||R A - B||)", 0, 0, 0},
        {"no-plot", FLOE_ARG_FLAG, &no_plot, NULL, "write the CSV only (no gnuplot needed)", 0, 0, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {
        "analyze", NULL, "Weight-rotation analysis (SiLQ): did QAT change the weights by more than a rotation?",
        "For every linear weight (q, k, v, o, gate, up, down of every layer, and the LM head), with A the\n"
        "teacher's weight (RMSNorm gains folded in, as the quantized model was made) and B the student's\n"
        "dequantized weight (codes x per-row step):\n"
        "  frobenius   ||A - B||_F\n"
        "  procrustes  min over orthogonal R of ||A R - B||_F (R = U V^T from the SVD of A^T B; LAPACK)\n"
        "both also relative to ||A||_F. Procrustes much below Frobenius means the change is mostly a rotation.\n"
        "Writes DIR/analyze.csv (layer -1 is the LM head) and DIR/analyze.png, and prints the table.",
        opts, 0, 0};
    char *pos[1];
    int npos = 0, rc = floe_args_parse_or_exit(&spec, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    if (!teacher)
        return floe_cmd_fail("analyze", "--teacher CKPT is required");
    if (!student)
        return floe_cmd_fail("analyze", "--student QMODEL is required");
    floe_wa_side side;
    if (floe_wa_side_parse(side_s, &side) != 0) {
        fprintf(stderr, "floe analyze: error: --side: expected input or output, got '%s'\n", side_s);
        return 2;
    }
    floe_err err;
    floe_model t;
    if (floe_model_load_forward(&t, teacher, 1, 1, &err) != 0)
        return floe_cmd_fail("analyze", "teacher: %s", err.msg);
    floe_qmodel q;
    if (floe_qmodel_load(&q, student, &err) != 0) {
        floe_model_free(&t);
        return floe_cmd_fail("analyze", "student: %s", err.msg);
    }
    size_t n = floe_wa_row_count(&t.cfg);
    floe_wa_row *rows = calloc(n, sizeof *rows);
    char csv[4200], png[4200];
    rc = 1;
    if (!rows) {
        floe_cmd_fail("analyze", "out of memory");
        goto out;
    }
    if (floe_path_join(csv, sizeof csv, out_dir, "analyze.csv") != 0 ||
        floe_path_join(png, sizeof png, out_dir, "analyze.png") != 0) {
        floe_cmd_fail("analyze", "%s: path too long", out_dir);
        goto out;
    }
    if (floe_wa_model(&t.cfg, &t.table, t.params, &q, side, rows, progress, NULL, &err) != 0) {
        floe_cmd_fail("analyze", "%s vs %s: %s", teacher, student, err.msg);
        goto out;
    }
    if (floe_mkdir_p(out_dir, &err) != 0 || floe_wa_write_csv(csv, rows, n, &err) != 0 ||
        (!no_plot && floe_wa_plot(png, rows, n, t.cfg.n_layers, side, &err) != 0)) {
        floe_cmd_fail("analyze", "%s", err.msg);
        goto out;
    }
    printf("teacher  %s\nstudent  %s (W%d, LM head %d-bit)\nrotation %s space\n\n", teacher, student, q.q.wbits,
           q.q.head_bits, floe_wa_side_name(side));
    printf("%5s  %-9s  %11s  %11s  %10s  %9s  %10s  %9s  %6s\n", "layer", "tensor", "shape", "||A||", "frobenius",
           "rel", "procrustes", "rel", "p/f");
    double sum_f = 0.0, sum_p = 0.0;
    for (size_t r = 0; r < n; r++) {
        const floe_wa_row *w = &rows[r];
        char shape[32], layer[16];
        snprintf(shape, sizeof shape, "%zux%zu", w->rows, w->cols);
        if (w->layer < 0)
            snprintf(layer, sizeof layer, "head");
        else
            snprintf(layer, sizeof layer, "%d", w->layer);
        printf("%5s  %-9s  %11s  %11.5g  %10.5g  %9.5f  %10.5g  %9.5f  %6.3f\n", layer, w->tensor, shape,
               w->d.teacher_norm, w->d.frobenius, w->d.frobenius_rel, w->d.procrustes, w->d.procrustes_rel,
               w->d.frobenius > 0.0 ? w->d.procrustes / w->d.frobenius : 0.0);
        sum_f += w->d.frobenius_rel;
        sum_p += w->d.procrustes_rel;
    }
    printf("\nmean relative distance over %zu tensors: frobenius %.5f, procrustes %.5f\n", n, sum_f / (double)n,
           sum_p / (double)n);
    printf("wrote %s%s%s\n", csv, no_plot ? "" : ", ", no_plot ? "" : png);
    rc = 0;
out:
    free(rows);
    floe_qmodel_free(&q);
    floe_model_free(&t);
    return rc;
}
