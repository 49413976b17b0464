#include "models/unicode_nfc.h"

#include <stdlib.h>
#include <string.h>

#include "models/unicode_class.h"

enum {
    S_BASE = 0xAC00,
    L_BASE = 0x1100,
    V_BASE = 0x1161,
    T_BASE = 0x11A7,
    L_N = 19,
    V_N = 21,
    T_N = 28,
    N_N = V_N * T_N,
    S_N = L_N * N_N
};

static uint32_t ccc(uint32_t cp)
{
    if (cp < 0x300)
        return 0;
    size_t lo = 0, hi = floe_nfc_ccc_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (floe_nfc_ccc[mid].cp < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < floe_nfc_ccc_n && floe_nfc_ccc[lo].cp == cp ? floe_nfc_ccc[lo].ccc : 0;
}

static const floe_nfc_pair *find_decomp(uint32_t cp)
{
    size_t lo = 0, hi = floe_nfc_decomp_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (floe_nfc_decomp[mid].a < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < floe_nfc_decomp_n && floe_nfc_decomp[lo].a == cp ? &floe_nfc_decomp[lo] : NULL;
}

/* The primary composite of a + b, or 0. */
static uint32_t compose(uint32_t a, uint32_t b)
{
    if (a >= L_BASE && a < L_BASE + L_N && b >= V_BASE && b < V_BASE + V_N)
        return S_BASE + ((a - L_BASE) * V_N + (b - V_BASE)) * T_N;
    if (a >= S_BASE && a < S_BASE + S_N && (a - S_BASE) % T_N == 0 && b > T_BASE && b < T_BASE + T_N)
        return a + (b - T_BASE);
    uint64_t key = (uint64_t)a << 32 | b;
    size_t lo = 0, hi = floe_nfc_comp_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t k = (uint64_t)floe_nfc_comp[mid].a << 32 | floe_nfc_comp[mid].b;
        if (k < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < floe_nfc_comp_n && floe_nfc_comp[lo].a == a && floe_nfc_comp[lo].b == b ? floe_nfc_comp[lo].c : 0;
}

/* Appends the full canonical decomposition of cp (at most 4 code points per level, a few levels). */
static void decompose(uint32_t cp, uint32_t *out, size_t *m)
{
    if (cp >= S_BASE && cp < S_BASE + S_N) {
        uint32_t s = cp - S_BASE;
        out[(*m)++] = L_BASE + s / N_N;
        out[(*m)++] = V_BASE + (s % N_N) / T_N;
        if (s % T_N)
            out[(*m)++] = T_BASE + s % T_N;
        return;
    }
    const floe_nfc_pair *d = cp >= 0xC0 ? find_decomp(cp) : NULL;
    if (!d) {
        out[(*m)++] = cp;
        return;
    }
    decompose(d->b, out, m);
    if (d->c)
        decompose(d->c, out, m);
}

uint8_t *floe_nfc(const uint8_t *s, size_t n, size_t *out_n)
{
    size_t i = 0;
    while (i < n && s[i] < 0x80)
        i++;
    if (i == n) { /* ASCII is its own NFC */
        uint8_t *out = malloc(n + 1);
        if (!out)
            return NULL;
        memcpy(out, s, n);
        out[n] = 0;
        *out_n = n;
        return out;
    }
    /* a code point decomposes into at most 18 (Unicode's stated bound) */
    size_t cap = n + 64, m = 0;
    uint32_t *cps = malloc(cap * sizeof *cps);
    if (!cps)
        return NULL;
    for (i = 0; i < n;) {
        uint32_t cp;
        i += (size_t)floe_utf8_decode(s + i, n - i, &cp);
        if (m + 18 > cap) {
            uint32_t *p = realloc(cps, 2 * cap * sizeof *cps);
            if (!p) {
                free(cps);
                return NULL;
            }
            cps = p;
            cap *= 2;
        }
        size_t start = m;
        decompose(cp, cps, &m);
        /* canonical ordering: each new non-starter moves back past those of higher class */
        for (size_t k = start; k < m; k++) {
            uint32_t c = cps[k], cc = ccc(c);
            size_t j = k;
            while (cc && j > 0 && ccc(cps[j - 1]) > cc) {
                cps[j] = cps[j - 1];
                j--;
            }
            cps[j] = c;
        }
    }
    /* canonical composition */
    size_t w = 0, starter = 0;
    int have_starter = 0;
    uint32_t last_cc = 0;
    for (size_t k = 0; k < m; k++) {
        uint32_t c = cps[k], cc = ccc(c), comp;
        if (have_starter && (last_cc < cc || (last_cc == 0 && w == starter + 1)) &&
            (comp = compose(cps[starter], c)) != 0) {
            cps[starter] = comp;
            continue;
        }
        if (cc == 0) {
            starter = w;
            have_starter = 1;
        }
        last_cc = cc;
        cps[w++] = c;
    }
    uint8_t *out = malloc(4 * w + 1);
    if (out) {
        size_t o = 0;
        for (size_t k = 0; k < w; k++)
            o += (size_t)floe_utf8_encode(cps[k], out + o);
        out[o] = 0;
        *out_n = o;
    }
    free(cps);
    return out;
}
