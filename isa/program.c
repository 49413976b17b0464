/* Programs in memory: canonical ordering, images, symbols, validation. */
#include "isa/program.h"

#include <stdlib.h>
#include <string.h>

static uint32_t place_key(unsigned x, unsigned y) { return ((uint32_t)y << 16) | (uint32_t)x; }

int floe_place_valid(unsigned x, unsigned y)
{
    return (x == FLOE_FB && y == FLOE_FB) || (x < 256 && y < 256);
}

int floe_name_valid(const char *name, size_t len)
{
    /* ".L" names are the assembler's local labels, never stored. */
    if (len == 0 || len > FLOE_NAME_MAX || (name[0] >= '0' && name[0] <= '9') ||
        (len >= 2 && name[0] == '.' && name[1] == 'L'))
        return 0;
    /* r0..r7 are registers in assembly expressions. */
    if (len == 2 && name[0] == 'r' && name[1] >= '0' && name[1] <= '7')
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.'))
            return 0;
    }
    return 1;
}

/* Grows an array to hold one more element. */
static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 8;
    void *q = realloc(*arr, nc * elem);
    if (!q)
        return -1;
    *arr = q;
    *cap = nc;
    return 0;
}

floe_program *floe_program_new(uint64_t fingerprint)
{
    floe_program *p = calloc(1, sizeof *p);
    if (p)
        p->fingerprint = fingerprint;
    return p;
}

void floe_program_free(floe_program *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->ncores; i++)
        free(p->cores[i].insns);
    for (size_t i = 0; i < p->nimages; i++)
        free(p->images[i].bytes);
    free(p->cores);
    free(p->images);
    free(p->symbols);
    free(p);
}

floe_core_code *floe_program_core(floe_program *p, unsigned x, unsigned y, int create)
{
    uint32_t k = place_key(x, y);
    size_t i = 0;
    while (i < p->ncores && place_key(p->cores[i].x, p->cores[i].y) < k)
        i++;
    if (i < p->ncores && p->cores[i].x == x && p->cores[i].y == y)
        return &p->cores[i];
    if (!create || x > 255 || y > 255)
        return NULL;
    if (grow((void **)&p->cores, &p->cap_cores, p->ncores, sizeof *p->cores) != 0)
        return NULL;
    memmove(&p->cores[i + 1], &p->cores[i], (p->ncores - i) * sizeof *p->cores);
    p->ncores++;
    memset(&p->cores[i], 0, sizeof p->cores[i]);
    p->cores[i].x = (uint16_t)x;
    p->cores[i].y = (uint16_t)y;
    return &p->cores[i];
}

static uint64_t space_limit(unsigned x) { return x == FLOE_FB ? (uint64_t)1 << 32 : FLOE_CORE_MEM_LIMIT; }

int floe_program_add_image(floe_program *p, unsigned x, unsigned y, uint32_t addr, const void *data,
                           size_t len, floe_err *err)
{
    if (!floe_place_valid(x, y))
        return floe_err_set(err, "image: (%u, %u) is neither a core nor the frame buffer", x, y);
    if (len == 0)
        return floe_err_set(err, "image at 0x%x: empty", addr);
    if ((uint64_t)addr + len > space_limit(x))
        return floe_err_set(err, "image at 0x%x: %zu bytes run past the end of the address space (0x%llx)",
                            addr, len, (unsigned long long)space_limit(x));
    uint32_t k = place_key(x, y);
    size_t i = 0;
    while (i < p->nimages && (place_key(p->images[i].x, p->images[i].y) < k ||
                              (place_key(p->images[i].x, p->images[i].y) == k && p->images[i].addr < addr)))
        i++;
    /* Only the neighbours in address order can overlap. */
    if (i > 0 && place_key(p->images[i - 1].x, p->images[i - 1].y) == k &&
        (uint64_t)p->images[i - 1].addr + p->images[i - 1].len > addr)
        return floe_err_set(err, "image at 0x%x overlaps the image at 0x%x", addr, p->images[i - 1].addr);
    if (i < p->nimages && place_key(p->images[i].x, p->images[i].y) == k &&
        (uint64_t)addr + len > p->images[i].addr)
        return floe_err_set(err, "image at 0x%x overlaps the image at 0x%x", addr, p->images[i].addr);
    uint8_t *copy = malloc(len);
    if (!copy || grow((void **)&p->images, &p->cap_images, p->nimages, sizeof *p->images) != 0) {
        free(copy);
        return floe_err_set(err, "image: out of memory");
    }
    memcpy(copy, data, len);
    memmove(&p->images[i + 1], &p->images[i], (p->nimages - i) * sizeof *p->images);
    p->nimages++;
    p->images[i] = (floe_image){(uint16_t)x, (uint16_t)y, addr, len, copy};
    return 0;
}

static int sym_cmp(const floe_symbol *a, const floe_symbol *b)
{
    uint32_t ka = place_key(a->x, a->y), kb = place_key(b->x, b->y);
    if (ka != kb)
        return ka < kb ? -1 : 1;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    if (a->value != b->value)
        return a->value < b->value ? -1 : 1;
    return strcmp(a->name, b->name);
}

void floe_program_symbols_of(const floe_program *p, unsigned x, unsigned y, size_t *first, size_t *end)
{
    /* Binary searches: programs for a full chip have thousands of symbols. */
    uint32_t k = place_key(x, y);
    size_t lo = 0, hi = p->nsymbols;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (place_key(p->symbols[mid].x, p->symbols[mid].y) < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    *first = lo;
    hi = p->nsymbols;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (place_key(p->symbols[mid].x, p->symbols[mid].y) <= k)
            lo = mid + 1;
        else
            hi = mid;
    }
    *end = lo;
}

const floe_symbol *floe_program_symbol(const floe_program *p, unsigned x, unsigned y, const char *name,
                                       size_t len)
{
    size_t first, end;
    floe_program_symbols_of(p, x, y, &first, &end);
    for (size_t i = first; i < end; i++) {
        const floe_symbol *s = &p->symbols[i];
        if (s->x == x && s->y == y && strlen(s->name) == len && memcmp(s->name, name, len) == 0)
            return s;
    }
    return NULL;
}

int floe_program_add_symbol(floe_program *p, unsigned x, unsigned y, floe_sym_kind kind, const char *name,
                            uint32_t value, uint32_t size, floe_err *err)
{
    size_t len = strlen(name);
    if (!floe_place_valid(x, y))
        return floe_err_set(err, "symbol '%s': (%u, %u) is neither a core nor the frame buffer", name, x, y);
    if (!floe_name_valid(name, len))
        return floe_err_set(err, "symbol '%.80s': not a valid name ([A-Za-z_.][A-Za-z0-9_.]*, at most %d bytes)",
                            name, FLOE_NAME_MAX);
    if (kind != FLOE_SYM_REGION && kind != FLOE_SYM_LABEL)
        return floe_err_set(err, "symbol '%s': unknown kind %d", name, (int)kind);
    if (kind == FLOE_SYM_LABEL && (x == FLOE_FB || size != 0))
        return floe_err_set(err, "label '%s': labels belong to a core's code and have no size", name);
    if (kind == FLOE_SYM_REGION && (uint64_t)value + size > space_limit(x))
        return floe_err_set(err, "region '%s': 0x%x + %u runs past the end of the address space", name, value,
                            size);
    if (floe_program_symbol(p, x, y, name, len))
        return floe_err_set(err, "symbol '%s' is already defined here", name);
    if (grow((void **)&p->symbols, &p->cap_symbols, p->nsymbols, sizeof *p->symbols) != 0)
        return floe_err_set(err, "symbol: out of memory");
    floe_symbol s = {(uint16_t)x, (uint16_t)y, (uint8_t)kind, {0}, value, size};
    memcpy(s.name, name, len + 1);
    size_t i = 0;
    while (i < p->nsymbols && sym_cmp(&p->symbols[i], &s) < 0)
        i++;
    memmove(&p->symbols[i + 1], &p->symbols[i], (p->nsymbols - i) * sizeof *p->symbols);
    p->symbols[i] = s;
    p->nsymbols++;
    return 0;
}

int floe_core_validate(const floe_core_code *cc, size_t *bad, floe_err *err)
{
    /* Open loops: the end (exclusive) of each enclosing body, innermost last. */
    size_t ends[64];
    int depth = 0;
    for (size_t i = 0; i < cc->n; i++) {
        const floe_insn *in = &cc->insns[i];
        if (bad)
            *bad = i;
        while (depth > 0 && ends[depth - 1] <= i)
            depth--;
        if (floe_insn_check(in, err) != 0)
            return floe_err_prefix(err, "core (%u, %u) instruction %zu", cc->x, cc->y, i);
        if (in->op != FLOE_OP_LOOP)
            continue;
        size_t end = i + 1 + (size_t)in->f[1];
        if (end > cc->n)
            return floe_err_set(err, "core (%u, %u) instruction %zu: loop body of %lld runs past the end of "
                                "the stream (%zu instructions)", cc->x, cc->y, i, (long long)in->f[1], cc->n);
        if (depth > 0 && end > ends[depth - 1])
            return floe_err_set(err, "core (%u, %u) instruction %zu: loop body ends after its enclosing "
                                "loop's body", cc->x, cc->y, i);
        for (size_t j = i + 1; j < end; j++)
            if (cc->insns[j].thread != in->thread) {
                if (bad)
                    *bad = j;
                return floe_err_set(err, "core (%u, %u) instruction %zu: in the body of the loop at %zu "
                                    "(thread %u) but on thread %u", cc->x, cc->y, j, i, in->thread,
                                    cc->insns[j].thread);
            }
        if (depth == (int)(sizeof ends / sizeof ends[0]))
            return floe_err_set(err, "core (%u, %u) instruction %zu: loops nested deeper than %d", cc->x,
                                cc->y, i, (int)(sizeof ends / sizeof ends[0]));
        ends[depth++] = end;
    }
    return 0;
}

int floe_program_validate(const floe_program *p, floe_err *err)
{
    for (size_t c = 0; c < p->ncores; c++)
        if (floe_core_validate(&p->cores[c], NULL, err) != 0)
            return -1;
    for (size_t i = 0; i < p->nsymbols; i++) {
        const floe_symbol *s = &p->symbols[i];
        if (s->kind != FLOE_SYM_LABEL)
            continue;
        floe_core_code *cc = floe_program_core((floe_program *)p, s->x, s->y, 0);
        size_t n = cc ? cc->n : 0;
        if (s->value > n)
            return floe_err_set(err, "label '%s' of core (%u, %u) points at instruction %u, past the end (%zu)",
                                s->name, s->x, s->y, s->value, n);
    }
    return 0;
}

size_t floe_program_insn_count(const floe_program *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->ncores; i++)
        n += p->cores[i].n;
    return n;
}
