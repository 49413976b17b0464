#include "models/split_pattern.h"

#include <string.h>

#include "models/unicode_class.h"

#define GPT2_RE "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
#define LLAMA3_HEAD "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
#define LLAMA3_TAIL "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

static const char *const pattern_text[] = {
    GPT2_RE,
    LLAMA3_HEAD "\\p{N}{1,3}" LLAMA3_TAIL,
    LLAMA3_HEAD "\\p{N}" LLAMA3_TAIL,
};

int floe_split_pattern_find(const char *regex)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(regex, pattern_text[i]) == 0)
            return i;
    return -1;
}

const char *floe_split_pattern_list(void)
{
    return "the GPT-2 pattern '" GPT2_RE "', the Llama-3 pattern '" LLAMA3_HEAD "\\p{N}{1,3}" LLAMA3_TAIL
           "' and the Qwen2 one with \\p{N} for \\p{N}{1,3}";
}

static uint32_t cp_at(const uint8_t *s, size_t n, size_t i, size_t *len)
{
    uint32_t cp;
    *len = (size_t)floe_utf8_decode(s + i, n - i, &cp);
    return cp;
}

static int is_other(uint32_t c) { return !floe_ucp_is_space(c) && !floe_ucp_is_letter(c) && !floe_ucp_is_number(c); }
static int is_crlf(uint32_t c) { return c == '\r' || c == '\n'; }

/* The end of the longest run of class members starting at s[i] (i itself when none). */
static size_t run_end(const uint8_t *s, size_t n, size_t i, int (*cls)(uint32_t))
{
    while (i < n) {
        size_t l;
        if (!cls(cp_at(s, n, i, &l)))
            break;
        i += l;
    }
    return i;
}

/* 's 't 're 've 'm 'll 'd at s[i]; case-insensitive (with Unicode simple folding: U+017F is s). */
static size_t contraction(const uint8_t *s, size_t n, size_t i, int fold)
{
    if (s[i] != '\'' || i + 1 >= n)
        return 0;
    size_t l;
    uint32_t a = cp_at(s, n, i + 1, &l), b = 0;
    size_t lb = 0;
    if (i + 1 + l < n)
        b = cp_at(s, n, i + 1 + l, &lb);
    if (fold) {
        if (a < 0x80)
            a |= 0x20;
        else if (a == 0x17F)
            a = 's';
        if (b < 0x80)
            b |= 0x20;
        else if (b == 0x17F)
            b = 's';
    }
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
        return 1 + l;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
        return 1 + l + lb;
    return 0;
}

/* \s+(?!\S)|\s+ at s[i], whose first code point is white space. */
static size_t spaces(const uint8_t *s, size_t n, size_t i)
{
    size_t j = i, last = i, l;
    while (j < n && floe_ucp_is_space(cp_at(s, n, j, &l))) {
        last = j;
        j += l;
    }
    if (j == n || last == i)
        return j - i;
    return last - i; /* back off one code point so that white space follows */
}

static size_t match_gpt2(const uint8_t *s, size_t n, size_t i)
{
    size_t l0, m = contraction(s, n, i, 0);
    if (m)
        return m;
    uint32_t c0 = cp_at(s, n, i, &l0);
    size_t j = c0 == ' ' ? i + 1 : i, e;
    if ((e = run_end(s, n, j, floe_ucp_is_letter)) > j)
        return e - i;
    if ((e = run_end(s, n, j, floe_ucp_is_number)) > j)
        return e - i;
    if ((e = run_end(s, n, j, is_other)) > j)
        return e - i;
    if (floe_ucp_is_space(c0))
        return spaces(s, n, i);
    return 0;
}

static size_t match_llama3(const uint8_t *s, size_t n, size_t i, int max_digits)
{
    size_t l0, m = contraction(s, n, i, 1), e;
    if (m)
        return m;
    uint32_t c0 = cp_at(s, n, i, &l0);
    /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    if (floe_ucp_is_letter(c0))
        return run_end(s, n, i, floe_ucp_is_letter) - i;
    if (!is_crlf(c0) && !floe_ucp_is_number(c0) && (e = run_end(s, n, i + l0, floe_ucp_is_letter)) > i + l0)
        return e - i;
    /* \p{N}{1,max} */
    if (floe_ucp_is_number(c0)) {
        size_t j = i, l;
        for (int k = 0; k < max_digits && j < n && floe_ucp_is_number(cp_at(s, n, j, &l)); k++)
            j += l;
        return j - i;
    }
    /* ' ?[^\s\p{L}\p{N}]+[\r\n]*' */
    size_t j = c0 == ' ' ? i + 1 : i;
    if ((e = run_end(s, n, j, is_other)) > j)
        return run_end(s, n, e, is_crlf) - i;
    if (!floe_ucp_is_space(c0))
        return 0;
    /* \s*[\r\n]+: up to and including the last \r or \n of the white-space run */
    size_t k = i, last_nl = 0, l;
    int have_nl = 0;
    uint32_t c;
    while (k < n && floe_ucp_is_space(c = cp_at(s, n, k, &l))) {
        if (is_crlf(c)) {
            have_nl = 1;
            last_nl = k;
        }
        k += l;
    }
    if (have_nl)
        return last_nl + 1 - i;
    return spaces(s, n, i);
}

size_t floe_split_pattern_match(floe_split_pattern p, const uint8_t *s, size_t n, size_t i)
{
    switch (p) {
    case FLOE_PAT_GPT2: return match_gpt2(s, n, i);
    case FLOE_PAT_LLAMA3: return match_llama3(s, n, i, 3);
    case FLOE_PAT_QWEN2: return match_llama3(s, n, i, 1);
    }
    return 0;
}
