/* Evaluation as the field does it (trainer/lm_score.h, trainer/mc_task.h): sliding-window
 * perplexity against a direct per-token computation and against floe_model_evaluate /
 * floe_qmodel_evaluate; multiple-choice log-likelihoods against a hand computation on the tiny
 * Llama fixture, ties, acc/acc_norm and their standard errors, malformed task lines. */
#include "tests/test_util.h"

#include <math.h>

#include "common/rng.h"
#include "trainer/lm_score.h"
#include "trainer/mc_task.h"
#include "trainer/qeval.h"
#include "trainer/train.h"

static const char *src_path(const char *rel)
{
    static char path[2][4096];
    static int k;
    const char *src = getenv("FLOE_SOURCE_DIR");
    k ^= 1;
    snprintf(path[k], sizeof path[k], "%s/%s", src ? src : ".", rel);
    return path[k];
}

/* log p(ids[n-1] | ids[0..n-1)) by one forward over exactly the n-1 tokens, log-softmax in the test. */
static double direct_logp(floe_lm *lm, const int32_t *ids, size_t n)
{
    const int V = lm->vocab, T = (int)n - 1;
    double mx = -INFINITY, s = 0.0, zt;
    if (lm->fp) {
        floe_model_forward(lm->fp, ids, NULL, 1, T);
        const float *z = floe_model_logits(lm->fp) + (size_t)(T - 1) * V;
        for (int v = 0; v < V; v++)
            mx = fmax(mx, z[v]);
        for (int v = 0; v < V; v++)
            s += exp(z[v] - mx);
        zt = z[ids[n - 1]];
    } else {
        floe_err err;
        assert_int_equal(floe_qfwd_forward(lm->qf, lm->qm, ids, 1, T, &err), 0);
        const int16_t *z = lm->qf->logits + (size_t)(T - 1) * V;
        const double sl = lm->qm->s_logit;
        for (int v = 0; v < V; v++)
            mx = fmax(mx, z[v] * sl);
        for (int v = 0; v < V; v++)
            s += exp(z[v] * sl - mx);
        zt = z[ids[n - 1]] * sl;
    }
    return zt - mx - log(s);
}

/* The guide's loop written out per token: token k (k >= 1) is scored by the first window [b, e) with
 * e > k and k >= max(b + 1, previous e); its left context is ids[b..k). */
static double direct_nll(floe_lm *lm, const int32_t *ids, size_t n, int context, int stride, size_t *scored)
{
    double nll = 0.0;
    size_t prev = 0;
    *scored = 0;
    for (size_t b = 0;; b += (size_t)stride) {
        size_t e = b + (size_t)context < n ? b + (size_t)context : n;
        for (size_t k = (prev > b + 1 ? prev : b + 1); k < e; k++) {
            nll -= direct_logp(lm, ids + b, k - b + 1);
            (*scored)++;
        }
        prev = e;
        if (e == n)
            break;
    }
    return nll;
}

static floe_tokens random_stream(size_t n, int vocab, uint64_t seed)
{
    floe_tokens s = {.ids = malloc(n * sizeof(int32_t)), .n = n};
    assert_non_null(s.ids);
    floe_rng r;
    floe_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++)
        s.ids[i] = (int32_t)floe_rng_range(&r, 0, vocab - 1);
    return s;
}

/* tol: relative; the float forward's logits move in the last bits with the sequence length (its
 * matrix products block by rows), the integer forward's do not. */
static void check_sliding(floe_lm *lm, const floe_tokens *s, double tol)
{
    const int cases[][2] = {{16, 16}, {16, 5}, {16, 1}, {9, 8}, {2, 1}, {33, 33}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        floe_ppl_result r;
        floe_err err;
        if (floe_lm_perplexity(lm, s, cases[c][0], cases[c][1], &r, &err) != 0)
            fail_msg("%s", err.msg);
        size_t scored;
        double want = direct_nll(lm, s->ids, s->n, cases[c][0], cases[c][1], &scored);
        assert_int_equal(r.tokens, scored);
        if (cases[c][1] < cases[c][0])
            assert_int_equal(r.tokens, s->n - 1); /* overlapping windows: every token but the first */
        if (fabs(r.nll - want) > tol * fabs(want))
            fail_msg("context %d stride %d: nll %.12g, direct %.12g", cases[c][0], cases[c][1], r.nll, want);
        assert_true(fabs(r.ppl - exp(want / (double)scored)) <= tol * r.ppl + 1e-12);
    }
    floe_ppl_result r;
    floe_err err;
    assert_int_equal(floe_lm_perplexity(lm, s, 16, 17, &r, &err), -1); /* stride > context */
    assert_int_equal(floe_lm_perplexity(lm, s, lm->maxT + 2, 4, &r, &err), -1);
}

static void test_perplexity_float(void **state)
{
    (void)state;
    floe_model m;
    floe_err err;
    if (floe_model_load(&m, src_path("tests/fixtures/hf/llama-tiny"), 8, 32, &err) != 0)
        fail_msg("%s", err.msg);
    floe_lm lm = floe_lm_float(&m);
    floe_tokens s = random_stream(61, m.cfg.vocab_size, 7);
    check_sliding(&lm, &s, 1e-6);
    /* context T+1 with stride T scores exactly floe_model_evaluate's windows (n = 4T + 1 here). */
    floe_ppl_result r;
    floe_eval_result e;
    assert_int_equal(floe_lm_perplexity(&lm, &s, 16, 15, &r, &err), 0);
    assert_int_equal(floe_model_evaluate(&m, &s, 15, &e, &err), 0);
    assert_int_equal(r.tokens, e.tokens);
    assert_true(fabs(r.loss - e.loss) < 1e-5);
    assert_true(fabs(r.accuracy - e.accuracy) < 1e-12);
    floe_tokens_free(&s);
    floe_model_free(&m);
}

static void test_perplexity_integer(void **state)
{
    (void)state;
    floe_model_config cfg;
    floe_err err;
    assert_int_equal(floe_model_config_builtin("tiny", &cfg, &err), 0);
    floe_qconfig q = floe_qconfig_default();
    floe_qmodel qm;
    assert_int_equal(floe_qmodel_random(&qm, &cfg, &q, 3, &err), 0);
    floe_qfwd f;
    assert_int_equal(floe_qfwd_init(&f, &cfg, 1, 32, &err), 0);
    floe_lm lm = floe_lm_integer(&f, &qm);
    floe_tokens s = random_stream(61, cfg.vocab_size, 9);
    check_sliding(&lm, &s, 1e-12);
    floe_qfwd fe;
    assert_int_equal(floe_qfwd_init(&fe, &cfg, 4, 15, &err), 0);
    floe_ppl_result r;
    floe_eval_result e;
    assert_int_equal(floe_lm_perplexity(&lm, &s, 16, 15, &r, &err), 0);
    assert_int_equal(floe_qmodel_evaluate(&fe, &qm, &s, 0, &e, &err), 0);
    assert_int_equal(r.tokens, e.tokens);
    assert_true(fabs(r.loss - e.loss) < 1e-12);
    floe_qfwd_free(&fe);
    floe_qfwd_free(&f);
    floe_qmodel_free(&qm);
    floe_tokens_free(&s);
}

/* The fixture's tokenizer and float model, for the multiple-choice tests. */
typedef struct mc_env {
    floe_model m;
    floe_lm lm;
    const floe_tokenizer *tok;
} mc_env;

static int mc_setup(void **state)
{
    mc_env *e = calloc(1, sizeof *e);
    floe_err err;
    if (floe_model_load(&e->m, src_path("tests/fixtures/hf/llama-tiny"), 1, 0, &err) != 0)
        fail_msg("%s", err.msg);
    e->lm = floe_lm_float(&e->m);
    e->tok = floe_tokenizer_load(src_path("tests/fixtures/hf/llama-tiny"), &err);
    assert_non_null(e->tok);
    *state = e;
    return 0;
}

static int mc_teardown(void **state)
{
    mc_env *e = *state;
    floe_model_free(&e->m);
    floe_tokenizer_free(e->tok);
    free(e);
    return 0;
}

static size_t enc(const floe_tokenizer *tok, const char *text, int32_t *out)
{
    int32_t *ids;
    size_t n;
    floe_err err;
    assert_int_equal(floe_tokenizer_encode(tok, (const uint8_t *)text, strlen(text), 0, &ids, &n, &err), 0);
    memcpy(out, ids, n * sizeof *ids);
    free(ids);
    return n;
}

static void test_mc_hand_computed(void **state)
{
    mc_env *e = *state;
    floe_err err;
    /* By hand: ctx = encode("The cat"), cont = encode("The cat sat on the mat") minus len(ctx) ids;
     * ll = sum over cont of log p(token | everything before it). */
    int32_t ctx[64], whole[64], seq[128];
    size_t nc = enc(e->tok, "The cat", ctx), nw = enc(e->tok, "The cat sat on the mat", whole);
    assert_true(nw > nc);
    memcpy(seq, ctx, nc * sizeof *seq);
    memcpy(seq + nc, whole + nc, (nw - nc) * sizeof *seq);
    double want = 0.0;
    for (size_t k = nc; k < nw; k++)
        want += direct_logp(&e->lm, seq, k + 1);
    const char *choices[] = {" sat on the mat", " sat on the mat"};
    double ll[2];
    assert_int_equal(floe_mc_score_item(&e->lm, e->tok, "The cat", choices, 2, ll, &err), 0);
    if (fabs(ll[0] - want) > 1e-6 * fabs(want)) /* float logits: see check_sliding */
        fail_msg("ll %.12g, by hand %.12g", ll[0], want);
    assert_true(ll[0] == ll[1]);                /* a tie ... */
    assert_int_equal(floe_mc_argmax(ll, 2), 0); /* ... goes to the first */
    /* Trailing whitespace of the context moves to the continuation: the same tokens. */
    const char *bare[] = {"sat on the mat"};
    double ll2;
    assert_int_equal(floe_mc_score_item(&e->lm, e->tok, "The cat ", bare, 1, &ll2, &err), 0);
    assert_true(ll2 == ll[0]);
    /* An empty context: an error when the tokenizer has neither BOS nor EOS (this fixture's has no
     * tokenizer_config.json), else [BOS] (tok-llama2's, vocabulary 600 within the model's 701). */
    const char *hello[] = {"Hello"};
    assert_true(e->tok->bos_id < 0 && e->tok->eos_id < 0);
    assert_int_equal(floe_mc_score_item(&e->lm, e->tok, "", hello, 1, &ll2, &err), -1);
    assert_non_null(strstr(err.msg, "neither"));
    const floe_tokenizer *t2 = floe_tokenizer_load(src_path("tests/fixtures/hf/tok-llama2"), &err);
    assert_non_null(t2);
    assert_true(t2->bos_id >= 0);
    int32_t only[64];
    size_t no = enc(t2, "Hello", only);
    seq[0] = t2->bos_id;
    memcpy(seq + 1, only, no * sizeof *seq);
    want = 0.0;
    for (size_t k = 1; k <= no; k++)
        want += direct_logp(&e->lm, seq, k + 1);
    assert_int_equal(floe_mc_score_item(&e->lm, t2, "", hello, 1, &ll2, &err), 0);
    assert_true(fabs(ll2 - want) <= 1e-6 * fabs(want));
    floe_tokenizer_free(t2);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_mc_acc_and_ties(void **state)
{
    mc_env *e = *state;
    const char *dir = floe_test_tmpdir("lm_eval_mc");
    char path[4200];
    snprintf(path, sizeof path, "%s/t.jsonl", dir);
    /* Two identical choices tie: the first wins, so gold 0 scores and gold 1 does not. */
    write_text(path, "{\"context\": \"A\", \"choices\": [\" b\", \" b\"], \"gold\": 0}\n\n"
                     "{\"context\": \"A\", \"choices\": [\" b\", \" b\"], \"gold\": 1, \"id\": \"x\"}\n");
    floe_mc_result r;
    floe_err err;
    if (floe_mc_evaluate(&e->lm, e->tok, path, &r, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(r.n, 2);
    assert_true(r.acc == 0.5 && r.acc_norm == 0.5);
    assert_true(fabs(r.acc_stderr - 0.5) < 1e-15); /* sqrt(0.5 * 0.5 / (2 - 1)) */
    /* acc and acc_norm part: the shipped task file, each item checked against its own scores. */
    const char *task = src_path("tests/fixtures/tasks/floe-mc12.jsonl");
    assert_int_equal(floe_mc_evaluate(&e->lm, e->tok, task, &r, &err), 0);
    assert_int_equal(r.n, 12);
    assert_true(fabs(r.acc_stderr - sqrt(r.acc * (1 - r.acc) / 11)) < 1e-15);
    /* By hand for a file where length normalisation flips the answer: choice 1 is much longer. */
    const char *ch[] = {" x", " x x x x x x x x x x x x"};
    double ll[2];
    assert_int_equal(floe_mc_score_item(&e->lm, e->tok, "Q:", ch, 2, ll, &err), 0);
    int acc_pick = floe_mc_argmax(ll, 2);
    double norm[2] = {ll[0] / 2.0, ll[1] / 24.0};
    int norm_pick = floe_mc_argmax(norm, 2);
    char line[512];
    snprintf(line, sizeof line,
             "{\"context\": \"Q:\", \"choices\": [\" x\", \" x x x x x x x x x x x x\"], \"gold\": 1}\n");
    write_text(path, line);
    assert_int_equal(floe_mc_evaluate(&e->lm, e->tok, path, &r, &err), 0);
    assert_true(r.acc == (acc_pick == 1) && r.acc_norm == (norm_pick == 1));
    assert_true(isnan(r.acc_stderr)); /* one item: no standard error */
}

static void test_mc_malformed(void **state)
{
    mc_env *e = *state;
    const char *dir = floe_test_tmpdir("lm_eval_bad");
    char path[4200];
    snprintf(path, sizeof path, "%s/bad.jsonl", dir);
    const char *good = "{\"context\": \"A\", \"choices\": [\" b\", \" c\"], \"gold\": 0}\n";
    const struct {
        const char *line, *want;
    } cases[] = {
        {"{\"context\": \"A\", \"choices\": [\" b\"], \"gold\": 1}", ":2: field 'gold'"},
        {"{\"context\": \"A\", \"choices\": [\" b\"], \"gold\": 0.5}", ":2: field 'gold'"},
        {"{\"context\": \"A\", \"choices\": [], \"gold\": 0}", ":2: field 'choices'"},
        {"{\"context\": \"A\", \"choices\": [\" b\", 3], \"gold\": 0}", ":2: field 'choices': element 1"},
        {"{\"context\": 1, \"choices\": [\" b\"], \"gold\": 0}", ":2: field 'context'"},
        {"{\"choices\": [\" b\"], \"gold\": 0}", ":2: field 'context'"},
        {"[\"A\", [\" b\"], 0]", ":2: not a JSON object"},
        {"{\"context\": \"A\", \"choices\": [\" b\"]", ":2: not a JSON object"},
        {"{\"context\": \"A\", \"choices\": [\" b\"], \"gold\": 0} x", ":2: not a JSON object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text, "%s%s\n%s", good, cases[i].line, good);
        write_text(path, text);
        floe_mc_result r;
        floe_err err;
        assert_int_equal(floe_mc_evaluate(&e->lm, e->tok, path, &r, &err), -1);
        if (!strstr(err.msg, cases[i].want) || !strstr(err.msg, "bad.jsonl"))
            fail_msg("case %zu: %s", i, err.msg);
    }
    write_text(path, "\n\n");
    floe_mc_result r;
    floe_err err;
    assert_int_equal(floe_mc_evaluate(&e->lm, e->tok, path, &r, &err), -1);
    assert_non_null(strstr(err.msg, "no items"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_perplexity_float),
        cmocka_unit_test(test_perplexity_integer),
        cmocka_unit_test_setup_teardown(test_mc_hand_computed, mc_setup, mc_teardown),
        cmocka_unit_test_setup_teardown(test_mc_acc_and_ties, mc_setup, mc_teardown),
        cmocka_unit_test_setup_teardown(test_mc_malformed, mc_setup, mc_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
