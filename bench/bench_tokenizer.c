/* bench_tokenizer: encoding speed of a tokenizer (docs/tokenizers.md), one thread: the given text
 * files, concatenated, encoded whole (without special tokens) 5 times; prints the median as MB/s
 * (10^6 bytes of text per second) and tokens/s, by the process's CPU time (steady on a shared host)
 * and by the wall clock, and checks that decoding gives the text back.
 * With --docs the text is cut into documents at the fortune files' separator lines ("%") and each
 * is encoded on its own, as a corpus is (no round trip then).
 * Usage: bench_tokenizer [--docs] TOKENIZER FILE...   (TOKENIZER: byte, a tokenizer.json or its folder) */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/file_read.h"
#include "models/tokenizer.h"

static double now(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Encodes text[0..n) as documents cut at "\n%\n"; returns the tokens, or -1. */
static long long encode_docs(const floe_tokenizer *tok, const char *text, size_t n, floe_err *err)
{
    long long total = 0;
    for (size_t a = 0; a < n;) {
        const char *sep = memmem(text + a, n - a, "\n%\n", 3);
        size_t b = sep ? (size_t)(sep - text) + 1 : n;
        int32_t *ids;
        size_t n_ids;
        if (floe_tokenizer_encode(tok, (const uint8_t *)text + a, b - a, 0, &ids, &n_ids, err))
            return -1;
        free(ids);
        total += (long long)n_ids;
        a = sep ? b + 2 : n;
    }
    return total;
}

int main(int argc, char **argv)
{
    int docs = argc > 1 && strcmp(argv[1], "--docs") == 0;
    argv += docs;
    argc -= docs;
    if (argc < 3) {
        fprintf(stderr, "usage: bench_tokenizer [--docs] TOKENIZER FILE...\n");
        return 2;
    }
    floe_err err;
    char *text = NULL;
    size_t n = 0;
    for (int i = 2; i < argc; i++) {
        char *data;
        size_t len;
        if (floe_read_file(argv[i], (size_t)1 << 30, &data, &len, &err)) {
            fprintf(stderr, "bench_tokenizer: %s\n", err.msg);
            return 1;
        }
        char *p = realloc(text, n + len + 1);
        if (!p)
            return 1;
        text = p;
        memcpy(text + n, data, len);
        n += len;
        free(data);
    }
    const floe_tokenizer *tok = floe_tokenizer_load(argv[1], &err);
    if (!tok) {
        fprintf(stderr, "bench_tokenizer: %s\n", err.msg);
        return 1;
    }
    double t[5], w[5];
    if (docs) {
        long long total = 0;
        for (int r = 0; r < 5; r++) {
            double t0 = now(CLOCK_PROCESS_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
            if ((total = encode_docs(tok, text, n, &err)) < 0) {
                fprintf(stderr, "bench_tokenizer: %s\n", err.msg);
                return 1;
            }
            t[r] = now(CLOCK_PROCESS_CPUTIME_ID) - t0;
            w[r] = now(CLOCK_MONOTONIC) - w0;
        }
        qsort(t, 5, sizeof t[0], cmp_double);
        qsort(w, 5, sizeof w[0], cmp_double);
        printf("tokenizer    %s, documents encoded one by one\n", tok->name);
        printf("encode       %.2f MB/s, %.0f tokens/s (CPU time, median of 5: %.3f s)\n", (double)n / t[2] / 1e6,
               (double)total / t[2], t[2]);
        printf("encode wall  %.2f MB/s (median of 5: %.3f s)\n", (double)n / w[2] / 1e6, w[2]);
        free(text);
        floe_tokenizer_free(tok);
        return 0;
    }
    int32_t *ids = NULL;
    size_t n_ids = 0;
    for (int r = 0; r < 5; r++) {
        free(ids);
        double t0 = now(CLOCK_PROCESS_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
        if (floe_tokenizer_encode(tok, (const uint8_t *)text, n, 0, &ids, &n_ids, &err)) {
            fprintf(stderr, "bench_tokenizer: %s\n", err.msg);
            return 1;
        }
        t[r] = now(CLOCK_PROCESS_CPUTIME_ID) - t0;
        w[r] = now(CLOCK_MONOTONIC) - w0;
    }
    qsort(t, 5, sizeof t[0], cmp_double);
    qsort(w, 5, sizeof w[0], cmp_double);
    uint8_t *back;
    size_t blen;
    double t0 = now(CLOCK_PROCESS_CPUTIME_ID);
    if (floe_tokenizer_decode(tok, ids, n_ids, 0, &back, &blen, &err)) {
        fprintf(stderr, "bench_tokenizer: %s\n", err.msg);
        return 1;
    }
    double td = now(CLOCK_PROCESS_CPUTIME_ID) - t0;
    int same = blen == n && memcmp(back, text, n) == 0;
    printf("tokenizer    %s\n", tok->name);
    printf("text         %zu bytes, %zu tokens (%.2f bytes per token)\n", n, n_ids,
           n_ids ? (double)n / (double)n_ids : 0.0);
    printf("encode       %.2f MB/s, %.0f tokens/s (CPU time, median of 5: %.3f s)\n", (double)n / t[2] / 1e6,
           (double)n_ids / t[2], t[2]);
    printf("encode wall  %.2f MB/s, %.0f tokens/s (median of 5: %.3f s)\n", (double)n / w[2] / 1e6,
           (double)n_ids / w[2], w[2]);
    printf("decode       %.2f MB/s (CPU time %.3f s), round trip %s\n", (double)n / td / 1e6, td,
           same ? "exact" : "differs (text not valid UTF-8, or not normalization-free)");
    free(back);
    free(ids);
    free(text);
    floe_tokenizer_free(tok);
    return 0;
}
