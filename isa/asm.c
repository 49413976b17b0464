/* The assembler: one pass over lines, then loop-label fixups; every error has line:column. */
#include "isa/asm.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "isa/builder.h"

typedef struct fixup {
    unsigned x, y;
    size_t index;
    char name[FLOE_NAME_MAX + 1];
    int line, col;
} fixup;

typedef struct local_label {
    unsigned x, y;
    char name[FLOE_NAME_MAX + 1];
    uint32_t value;
    int line, col;
} local_label;

typedef struct insn_pos {
    unsigned x, y;
    size_t index;
    int line, col;
} insn_pos;

typedef struct asm_state {
    const char *name, *s;
    size_t n, pos, line_start;
    int line;
    floe_program *p;
    int have_place;
    unsigned x, y;
    int have_fp;
    uint64_t fp;
    /* the image being collected by .bytes */
    int img_open, img_line, img_col;
    uint32_t img_addr;
    uint8_t *img;
    size_t img_len, img_cap;
    fixup *fix;
    size_t nfix, capfix;
    local_label *loc;
    size_t nloc, caploc;
    insn_pos *ipos;
    size_t nipos, capipos;
    floe_err *err;
} asm_state;

static int col_of(const asm_state *a, size_t pos) { return (int)(pos - a->line_start) + 1; }

static int fail_at(asm_state *a, size_t pos, const char *fmt, ...) FLOE_PRINTF(3, 4);
static int fail_at(asm_state *a, size_t pos, const char *fmt, ...)
{
    char msg[FLOE_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return floe_err_set(a->err, "%s:%d:%d: %s", a->name, a->line, col_of(a, pos), msg);
}

static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 16;
    void *q = realloc(*arr, nc * elem);
    if (!q)
        return -1;
    *arr = q;
    *cap = nc;
    return 0;
}

static int at_eol(const asm_state *a)
{
    return a->pos >= a->n || a->s[a->pos] == '\n' || a->s[a->pos] == ';' || a->s[a->pos] == '#';
}

static void skip_ws(asm_state *a)
{
    while (a->pos < a->n && (a->s[a->pos] == ' ' || a->s[a->pos] == '\t' || a->s[a->pos] == '\r'))
        a->pos++;
}

static int is_id_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '.'; }
static int is_id_char(char c) { return is_id_start(c) || (c >= '0' && c <= '9'); }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* What is at pos, quoted for messages. */
static const char *seen(const asm_state *a, char *buf, size_t n)
{
    if (at_eol(a) && (a->pos >= a->n || a->s[a->pos] == '\n'))
        return "end of line";
    size_t i = 0, p = a->pos;
    buf[i++] = '\'';
    while (p < a->n && a->s[p] != '\n' && a->s[p] != ',' && i + 3 < n && i < 24) {
        unsigned char c = (unsigned char)a->s[p++];
        buf[i++] = (c >= 32 && c < 127) ? (char)c : '?';
    }
    buf[i++] = '\'';
    buf[i] = '\0';
    return buf;
}

static int expected(asm_state *a, const char *what)
{
    char b[40];
    return fail_at(a, a->pos, "expected %s, got %s", what, seen(a, b, sizeof b));
}

/* An identifier at pos: its length (0 if none). */
static size_t ident_len(const asm_state *a)
{
    size_t p = a->pos;
    if (p >= a->n || !is_id_start(a->s[p]))
        return 0;
    while (p < a->n && is_id_char(a->s[p]))
        p++;
    return p - a->pos;
}

static int is_reg_name(const char *s, size_t len) { return len == 2 && s[0] == 'r' && s[1] >= '0' && s[1] <= '7'; }

/* An unsigned number: decimal or 0x hex, below 2^63. */
static int parse_number(asm_state *a, uint64_t *v)
{
    size_t start = a->pos;
    uint64_t x = 0;
    int base = 10, digits = 0;
    if (a->pos + 1 < a->n && a->s[a->pos] == '0' && (a->s[a->pos + 1] == 'x' || a->s[a->pos + 1] == 'X')) {
        base = 16;
        a->pos += 2;
    }
    for (; a->pos < a->n; a->pos++, digits++) {
        char c = a->s[a->pos];
        int d = is_digit(c) ? c - '0' : (base == 16 && c >= 'a' && c <= 'f') ? c - 'a' + 10
                                      : (base == 16 && c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
        if (d < 0)
            break;
        if (x > (((uint64_t)1 << 63) - 1 - (uint64_t)d) / (uint64_t)base)
            return fail_at(a, start, "number too large");
        x = x * (uint64_t)base + (uint64_t)d;
    }
    if (digits == 0 || (a->pos < a->n && is_id_char(a->s[a->pos]))) {
        a->pos = start;
        return expected(a, base == 16 ? "a hexadecimal number" : "a number");
    }
    *v = x;
    return 0;
}

/* term (('+' | '-') term)*, terms being numbers, region names of `place` (when names is set) and
 * at most one "+rN" (when reg is non-NULL). */
static int parse_expr(asm_state *a, const char *what, int names, unsigned nx, unsigned ny, int64_t *value,
                      unsigned *reg)
{
    int64_t v = 0;
    int sign = 1;
    if (reg)
        *reg = 0;
    int have_reg = 0;
    if (a->pos < a->n && a->s[a->pos] == '-') {
        sign = -1;
        a->pos++;
        skip_ws(a);
    }
    for (;;) {
        size_t start = a->pos;
        int64_t t;
        size_t il = ident_len(a);
        if (a->pos < a->n && is_digit(a->s[a->pos])) {
            uint64_t u;
            if (parse_number(a, &u) != 0)
                return -1;
            if (u > ((uint64_t)1 << 40))
                return fail_at(a, start, "number %llu too large for %s", (unsigned long long)u, what);
            t = (int64_t)u;
        } else if (il > 0 && is_reg_name(a->s + a->pos, il)) {
            if (!reg)
                return fail_at(a, start, "a register is not allowed in %s", what);
            if (have_reg || sign < 0)
                return fail_at(a, start, "%s takes at most one register, added", what);
            have_reg = 1;
            *reg = (unsigned)(a->s[a->pos + 1] - '0');
            a->pos += il;
            t = 0;
        } else if (il > 0 && names) {
            const floe_symbol *s = floe_program_symbol(a->p, nx, ny, a->s + a->pos, il);
            if (!s || s->kind != FLOE_SYM_REGION)
                return fail_at(a, start, "'%.*s' is not a region defined %s", (int)(il > 64 ? 64 : il),
                               a->s + a->pos, nx == FLOE_FB ? "in .framebuffer" : "in this .core");
            t = s->value;
            a->pos += il;
        } else {
            return expected(a, what);
        }
        v += sign * t;
        if (v > ((int64_t)1 << 50) || v < -((int64_t)1 << 50))
            return fail_at(a, start, "value out of range for %s", what);
        skip_ws(a);
        if (a->pos < a->n && (a->s[a->pos] == '+' || a->s[a->pos] == '-')) {
            sign = a->s[a->pos] == '+' ? 1 : -1;
            a->pos++;
            skip_ws(a);
            continue;
        }
        break;
    }
    *value = v;
    return 0;
}

static int expect_comma(asm_state *a)
{
    skip_ws(a);
    if (a->pos < a->n && a->s[a->pos] == ',') {
        a->pos++;
        skip_ws(a);
        return 0;
    }
    return expected(a, "','");
}

static int expect_eol(asm_state *a)
{
    skip_ws(a);
    if (!at_eol(a))
        return expected(a, "end of line");
    return 0;
}

static int need_core(asm_state *a, size_t pos, const char *what)
{
    if (!a->have_place || a->x == FLOE_FB)
        return fail_at(a, pos, "%s outside a .core section", what);
    return 0;
}

static int flush_image(asm_state *a)
{
    if (!a->img_open)
        return 0;
    a->img_open = 0;
    size_t len = a->img_len;
    a->img_len = 0;
    if (len == 0)
        return floe_err_set(a->err, "%s:%d:%d: .data without .bytes", a->name, a->img_line, a->img_col);
    if (floe_program_add_image(a->p, a->x, a->y, a->img_addr, a->img, len, a->err) != 0)
        return floe_err_prefix(a->err, "%s:%d:%d", a->name, a->img_line, a->img_col);
    return 0;
}

static int parse_field(asm_state *a, const floe_op_info *op, int i, size_t index, int64_t *out)
{
    const floe_field_info *fi = &op->fields[i];
    const floe_kind_info *k = floe_kind_lookup(fi->kind);
    size_t start = a->pos;
    char what[160];
    snprintf(what, sizeof what, "operand '%s' of %s: %s", fi->name, op->mnemonic, k->desc);
    int nenum;
    const char *const *names = floe_kind_enum_names(fi->kind, &nenum);
    size_t il = ident_len(a);
    if (names) {
        for (int e = 0; e < nenum; e++)
            if (il == strlen(names[e]) && memcmp(a->s + a->pos, names[e], il) == 0) {
                a->pos += il;
                *out = e;
                return 0;
            }
        return expected(a, what);
    }
    if (fi->kind == FLOE_FK_REG || fi->kind == FLOE_FK_REGW) {
        if (!is_reg_name(a->s + a->pos, il) || (fi->kind == FLOE_FK_REGW && a->s[a->pos + 1] == '0'))
            return expected(a, what);
        *out = a->s[a->pos + 1] - '0';
        a->pos += il;
        return 0;
    }
    if (fi->kind == FLOE_FK_BODY && il > 0) {
        if (!floe_name_valid(a->s + a->pos, il) && !(il >= 2 && a->s[a->pos] == '.' && a->s[a->pos + 1] == 'L' &&
                                                       il <= FLOE_NAME_MAX))
            return fail_at(a, start, "'%.*s' is not a valid label name", (int)(il > 64 ? 64 : il), a->s + a->pos);
        if (grow((void **)&a->fix, &a->capfix, a->nfix, sizeof *a->fix) != 0)
            return floe_err_set(a->err, "out of memory");
        fixup *f = &a->fix[a->nfix++];
        f->x = a->x;
        f->y = a->y;
        f->index = index;
        memcpy(f->name, a->s + a->pos, il);
        f->name[il] = '\0';
        f->line = a->line;
        f->col = col_of(a, start);
        a->pos += il;
        *out = 1; /* resolved at the end */
        return 0;
    }
    int64_t v;
    unsigned reg = 0;
    int mem = fi->kind == FLOE_FK_MEM, acc = fi->kind == FLOE_FK_ACC;
    int names_ok = !acc;
    unsigned nx = fi->kind == FLOE_FK_FB ? FLOE_FB : a->x, ny = fi->kind == FLOE_FK_FB ? FLOE_FB : a->y;
    if (parse_expr(a, what, names_ok, nx, ny, &v, (mem || acc) ? &reg : NULL) != 0)
        return -1;
    if (mem || acc) {
        int64_t lim = (int64_t)1 << (mem ? FLOE_MEM_ADDR_BITS : FLOE_ACC_INDEX_BITS);
        if (v < 0 || v >= lim)
            return fail_at(a, start, "operand '%s' of %s: %lld is out of range 0..%lld", fi->name, op->mnemonic,
                           (long long)v, (long long)(lim - 1));
        *out = mem ? FLOE_MEM(v, reg) : FLOE_ACC(v, reg);
        return 0;
    }
    if (!floe_field_valid(fi->kind, v))
        return fail_at(a, start, "operand '%s' of %s: %lld is out of range (%s)", fi->name, op->mnemonic,
                       (long long)v, k->desc);
    *out = v;
    return 0;
}

static int parse_insn(asm_state *a, size_t il)
{
    size_t start = a->pos;
    const char *w = a->s + a->pos;
    size_t mlen = il;
    unsigned thread = 0;
    /* "mnemonic.tN": the thread suffix (mnemonics contain no '.') */
    const char *dot = memchr(w, '.', il);
    if (dot) {
        size_t d = (size_t)(dot - w);
        unsigned t = 0;
        int ok = d + 2 < il && w[d + 1] == 't' && il - d - 2 <= 3;
        for (size_t j = d + 2; ok && j < il; j++) {
            if (!is_digit(w[j]))
                ok = 0;
            else
                t = t * 10 + (unsigned)(w[j] - '0');
        }
        if (!ok)
            return fail_at(a, start + d, "expected a thread suffix .t0 to .t%d after the mnemonic", FLOE_THREADS - 1);
        if (t >= FLOE_THREADS)
            return fail_at(a, start + d + 1, "thread t%u out of range t0..t%d", t, FLOE_THREADS - 1);
        mlen = d;
        thread = t;
    }
    const floe_op_info *op = floe_op_by_mnemonic(w, mlen);
    if (!op)
        return fail_at(a, start, "unknown instruction '%.*s'", (int)(mlen > 64 ? 64 : mlen), w);
    if (need_core(a, start, "instruction") != 0)
        return -1;
    a->pos += il;
    floe_insn in;
    memset(&in, 0, sizeof in);
    in.op = op->opcode;
    in.thread = (uint8_t)thread;
    size_t index = floe_here(a->p, a->x, a->y);
    for (int i = 0; i < op->nfields; i++) {
        if (i == 0)
            skip_ws(a);
        else if (expect_comma(a) != 0) {
            return -1;
        }
        if (parse_field(a, op, i, index, &in.f[i]) != 0)
            return -1;
    }
    if (expect_eol(a) != 0)
        return -1;
    if (floe_emit(a->p, a->x, a->y, &in, a->err) != 0)
        return floe_err_prefix(a->err, "%s:%d:%d", a->name, a->line, col_of(a, start));
    if (grow((void **)&a->ipos, &a->capipos, a->nipos, sizeof *a->ipos) != 0)
        return floe_err_set(a->err, "out of memory");
    a->ipos[a->nipos++] = (insn_pos){a->x, a->y, index, a->line, col_of(a, start)};
    return 0;
}

static int parse_coord(asm_state *a, const char *what, unsigned *out)
{
    size_t start = a->pos;
    uint64_t v;
    if (a->pos >= a->n || !is_digit(a->s[a->pos]))
        return expected(a, what);
    if (parse_number(a, &v) != 0)
        return -1;
    if (v > 255)
        return fail_at(a, start, "%s: %llu is out of range 0..255", what, (unsigned long long)v);
    *out = (unsigned)v;
    return 0;
}

static int parse_directive(asm_state *a, size_t il)
{
    size_t start = a->pos;
    const char *d = a->s + a->pos;
    a->pos += il;
    skip_ws(a);
#define IS(name) (il == strlen(name) && memcmp(d, name, il) == 0)
    if (IS(".fingerprint")) {
        uint64_t v;
        size_t vp = a->pos;
        if (a->pos >= a->n || !is_digit(a->s[a->pos]))
            return expected(a, "a 64-bit fingerprint (0x followed by up to 16 hex digits)");
        /* A fingerprint uses all 64 bits: parse hex digits directly. */
        if (a->pos + 1 < a->n && a->s[a->pos] == '0' && a->s[a->pos + 1] == 'x') {
            a->pos += 2;
            v = 0;
            int nd = 0;
            while (a->pos < a->n && nd < 17) {
                char c = a->s[a->pos];
                int x = is_digit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
                if (x < 0)
                    break;
                v = (v << 4) | (uint64_t)x;
                a->pos++;
                nd++;
            }
            if (nd == 0 || nd > 16 || (a->pos < a->n && is_id_char(a->s[a->pos]))) {
                a->pos = vp;
                return expected(a, "a 64-bit fingerprint (0x followed by up to 16 hex digits)");
            }
        } else if (parse_number(a, &v) != 0) {
            return -1;
        }
        if (a->have_fp && a->fp != v)
            return fail_at(a, vp, "fingerprint %016llx differs from the one given (%016llx)", (unsigned long long)v,
                           (unsigned long long)a->fp);
        a->have_fp = 1;
        a->fp = v;
        a->p->fingerprint = v;
        return expect_eol(a);
    }
    if (IS(".core")) {
        unsigned x = 0, y = 0;
        if (parse_coord(a, "core x coordinate", &x) != 0 || expect_comma(a) != 0 ||
            parse_coord(a, "core y coordinate", &y) != 0 || expect_eol(a) != 0)
            return -1;
        if (flush_image(a) != 0)
            return -1;
        a->have_place = 1;
        a->x = x;
        a->y = y;
        return 0;
    }
    if (IS(".framebuffer")) {
        if (expect_eol(a) != 0 || flush_image(a) != 0)
            return -1;
        a->have_place = 1;
        a->x = a->y = FLOE_FB;
        return 0;
    }
    if (!a->have_place && (IS(".region") || IS(".data") || IS(".bytes")))
        return fail_at(a, start, "%.*s outside a .core or .framebuffer section", (int)il, d);
    if (IS(".region")) {
        size_t np = a->pos, nl = ident_len(a);
        if (nl == 0)
            return expected(a, "a region name");
        if (is_reg_name(a->s + np, nl))
            return fail_at(a, np, "'%.*s' is a register name, not usable for a region", (int)nl, a->s + np);
        if (!floe_name_valid(a->s + np, nl))
            return fail_at(a, np, "'%.*s' is not a valid region name", (int)(nl > 64 ? 64 : nl), a->s + np);
        char name[FLOE_NAME_MAX + 1];
        memcpy(name, a->s + np, nl);
        name[nl] = '\0';
        a->pos += nl;
        int64_t base, size;
        if (expect_comma(a) != 0 || parse_expr(a, "region base address", 1, a->x, a->y, &base, NULL) != 0 ||
            expect_comma(a) != 0)
            return -1;
        size_t sp = a->pos;
        if (parse_expr(a, "region size in bytes", 1, a->x, a->y, &size, NULL) != 0 || expect_eol(a) != 0)
            return -1;
        if (base < 0 || base > UINT32_MAX || size < 0 || size > UINT32_MAX)
            return fail_at(a, sp, "region '%s': base or size out of range", name);
        if (floe_program_add_symbol(a->p, a->x, a->y, FLOE_SYM_REGION, name, (uint32_t)base, (uint32_t)size,
                                    a->err) != 0)
            return floe_err_prefix(a->err, "%s:%d:%d", a->name, a->line, col_of(a, np));
        return 0;
    }
    if (IS(".data")) {
        int64_t addr;
        size_t ap = a->pos;
        if (flush_image(a) != 0 || parse_expr(a, "image address", 1, a->x, a->y, &addr, NULL) != 0 ||
            expect_eol(a) != 0)
            return -1;
        if (addr < 0 || addr > UINT32_MAX)
            return fail_at(a, ap, "image address %lld out of range", (long long)addr);
        a->img_open = 1;
        a->img_addr = (uint32_t)addr;
        a->img_line = a->line;
        a->img_col = col_of(a, start);
        a->img_len = 0;
        return 0;
    }
    if (IS(".bytes")) {
        if (!a->img_open)
            return fail_at(a, start, ".bytes without a preceding .data");
        if (at_eol(a))
            return expected(a, "hexadecimal bytes");
        while (!at_eol(a)) {
            char c = a->s[a->pos];
            int hv = is_digit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
            char c2 = a->pos + 1 < a->n ? a->s[a->pos + 1] : '\n';
            int lv = is_digit(c2) ? c2 - '0' : (c2 >= 'a' && c2 <= 'f') ? c2 - 'a' + 10 : (c2 >= 'A' && c2 <= 'F') ? c2 - 'A' + 10 : -1;
            if (hv < 0)
                return expected(a, "hexadecimal bytes (pairs of hex digits)");
            if (lv < 0) {
                a->pos++;
                return expected(a, "the second hex digit of a byte");
            }
            if (grow((void **)&a->img, &a->img_cap, a->img_len, 1) != 0)
                return floe_err_set(a->err, "out of memory");
            a->img[a->img_len++] = (uint8_t)(hv * 16 + lv);
            a->pos += 2;
            skip_ws(a);
        }
        return 0;
    }
#undef IS
    return fail_at(a, start, "unknown directive '%.*s' (expected .fingerprint, .core, .framebuffer, .region, "
                   ".data or .bytes)", (int)(il > 64 ? 64 : il), d);
}

static int add_label(asm_state *a, size_t il)
{
    size_t start = a->pos;
    const char *nm = a->s + a->pos;
    if (need_core(a, start, "label") != 0)
        return -1;
    int local = il >= 2 && nm[0] == '.' && nm[1] == 'L';
    if (local ? il > FLOE_NAME_MAX : !floe_name_valid(nm, il))
        return fail_at(a, start, "'%.*s' is not a valid label name", (int)(il > 64 ? 64 : il), nm);
    char name[FLOE_NAME_MAX + 1];
    memcpy(name, nm, il);
    name[il] = '\0';
    uint32_t here = (uint32_t)floe_here(a->p, a->x, a->y);
    if (local) {
        if (grow((void **)&a->loc, &a->caploc, a->nloc, sizeof *a->loc) != 0)
            return floe_err_set(a->err, "out of memory");
        local_label *l = &a->loc[a->nloc++];
        l->x = a->x;
        l->y = a->y;
        memcpy(l->name, name, il + 1);
        l->value = here;
        l->line = a->line;
        l->col = col_of(a, start);
    } else if (floe_program_add_symbol(a->p, a->x, a->y, FLOE_SYM_LABEL, name, here, 0, a->err) != 0) {
        return floe_err_prefix(a->err, "%s:%d:%d", a->name, a->line, col_of(a, start));
    }
    a->pos += il + 1; /* and the ':' */
    return 0;
}

static int parse_line(asm_state *a)
{
    skip_ws(a);
    if (at_eol(a))
        return 0;
    size_t il = ident_len(a);
    if (il == 0) {
        unsigned char c = (unsigned char)a->s[a->pos];
        if (c < 32 || c >= 127)
            return fail_at(a, a->pos, "unexpected byte 0x%02x; expected a label, a directive or an instruction", c);
        return expected(a, "a label, a directive or an instruction");
    }
    if (a->pos + il < a->n && a->s[a->pos + il] == ':') {
        if (add_label(a, il) != 0)
            return -1;
        skip_ws(a);
        if (at_eol(a))
            return 0;
        il = ident_len(a);
        if (il == 0)
            return expected(a, "an instruction or end of line after the label");
        if (a->pos + il < a->n && a->s[a->pos + il] == ':')
            return fail_at(a, a->pos, "one label per line");
    }
    if (a->s[a->pos] == '.' && !(il >= 2 && a->s[a->pos + 1] == 'L'))
        return parse_directive(a, il);
    return parse_insn(a, il);
}

static const insn_pos *find_pos(const asm_state *a, unsigned x, unsigned y, size_t index)
{
    for (size_t i = 0; i < a->nipos; i++)
        if (a->ipos[i].x == x && a->ipos[i].y == y && a->ipos[i].index == index)
            return &a->ipos[i];
    return NULL;
}

static int local_cmp(const void *pa, const void *pb)
{
    const local_label *a = pa, *b = pb;
    if (a->y != b->y)
        return a->y < b->y ? -1 : 1;
    if (a->x != b->x)
        return a->x < b->x ? -1 : 1;
    return strcmp(a->name, b->name);
}

static int resolve(asm_state *a)
{
    /* Sorted once, searched per fixup: large programs have many loops. */
    if (a->nloc > 1)
        qsort(a->loc, a->nloc, sizeof *a->loc, local_cmp);
    /* Duplicates are neighbours now; report the later definition. */
    for (size_t i = 1; i < a->nloc; i++)
        if (local_cmp(&a->loc[i - 1], &a->loc[i]) == 0) {
            const local_label *l = a->loc[i].line > a->loc[i - 1].line ||
                                           (a->loc[i].line == a->loc[i - 1].line && a->loc[i].col > a->loc[i - 1].col)
                                       ? &a->loc[i] : &a->loc[i - 1];
            return floe_err_set(a->err, "%s:%d:%d: label '%s' is already defined in this core", a->name, l->line,
                                l->col, l->name);
        }
    for (size_t i = 0; i < a->nfix; i++) {
        fixup *f = &a->fix[i];
        int64_t target = -1;
        local_label key;
        key.x = f->x;
        key.y = f->y;
        memcpy(key.name, f->name, sizeof key.name);
        const local_label *hit = a->nloc ? bsearch(&key, a->loc, a->nloc, sizeof *a->loc, local_cmp) : NULL;
        if (hit)
            target = hit->value;
        const floe_symbol *s = floe_program_symbol(a->p, f->x, f->y, f->name, strlen(f->name));
        if (s && s->kind == FLOE_SYM_LABEL)
            target = s->value;
        if (target < 0)
            return floe_err_set(a->err, "%s:%d:%d: undefined label '%s' in core (%u, %u)", a->name, f->line, f->col,
                                f->name, f->x, f->y);
        int64_t body = target - (int64_t)f->index - 1;
        if (body < 1 || body > 1023)
            return floe_err_set(a->err, "%s:%d:%d: the loop body up to label '%s' has %lld instructions; expected "
                                "1..1023 (the label goes after the body)", a->name, f->line, f->col, f->name,
                                (long long)body);
        floe_program_core(a->p, f->x, f->y, 0)->insns[f->index].f[1] = body;
    }
    for (size_t c = 0; c < a->p->ncores; c++) {
        size_t bad = 0;
        if (floe_core_validate(&a->p->cores[c], &bad, a->err) != 0) {
            const insn_pos *ip = find_pos(a, a->p->cores[c].x, a->p->cores[c].y, bad);
            return floe_err_prefix(a->err, "%s:%d:%d", a->name, ip ? ip->line : 0, ip ? ip->col : 0);
        }
    }
    return 0;
}

int floe_asm(const char *text, size_t len, const char *name, const uint64_t *fingerprint, floe_program **out,
             floe_err *err)
{
    asm_state a;
    memset(&a, 0, sizeof a);
    a.name = name ? name : "<input>";
    a.s = text;
    a.n = len;
    a.line = 1;
    a.err = err;
    *out = NULL;
    a.p = floe_program_new(fingerprint ? *fingerprint : 0);
    if (!a.p)
        return floe_err_set(err, "out of memory");
    if (fingerprint) {
        a.have_fp = 1;
        a.fp = *fingerprint;
    }
    int rc = 0;
    while (a.pos < a.n) {
        if (parse_line(&a) != 0) {
            rc = -1;
            break;
        }
        /* Skip the comment and the newline. */
        while (a.pos < a.n && a.s[a.pos] != '\n')
            a.pos++;
        if (a.pos < a.n) {
            a.pos++;
            a.line++;
            a.line_start = a.pos;
        }
    }
    if (rc == 0)
        rc = flush_image(&a);
    if (rc == 0)
        rc = resolve(&a);
    if (rc == 0 && !a.have_fp)
        rc = floe_err_set(err, "%s: no machine fingerprint: add a .fingerprint directive or give one", a.name);
    free(a.img);
    free(a.fix);
    free(a.loc);
    free(a.ipos);
    if (rc != 0) {
        floe_program_free(a.p);
        return -1;
    }
    *out = a.p;
    return 0;
}
