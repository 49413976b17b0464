/* The disassembler: assembly text that assembles back to the same bytes. */
#include "isa/asm.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static uint32_t place_key(unsigned x, unsigned y) { return ((uint32_t)y << 16) | (uint32_t)x; }

static int is_reg_name(const char *s) { return s[0] == 'r' && s[1] >= '0' && s[1] <= '7' && s[2] == '\0'; }

/* The first region of place (x, y) containing addr, usable as a name in an expression. */
static const floe_symbol *region_of(const floe_program *p, unsigned x, unsigned y, uint64_t addr)
{
    if (!p)
        return NULL;
    size_t first, end;
    floe_program_symbols_of(p, x, y, &first, &end);
    for (size_t i = first; i < end; i++) {
        const floe_symbol *s = &p->symbols[i];
        if (s->x == x && s->y == y && s->kind == FLOE_SYM_REGION && addr >= s->value &&
            addr < (uint64_t)s->value + s->size && !is_reg_name(s->name))
            return s;
    }
    return NULL;
}

static void format_addr(char *buf, size_t n, const floe_program *p, unsigned x, unsigned y, uint64_t addr)
{
    const floe_symbol *s = region_of(p, x, y, addr);
    if (s && addr == s->value)
        snprintf(buf, n, "%s", s->name);
    else if (s)
        snprintf(buf, n, "%s+0x%" PRIx64, s->name, addr - s->value);
    else
        snprintf(buf, n, "0x%" PRIx64, addr);
}

/* One field; body_label (may be NULL) names a loop's end. */
static void format_field(char *buf, size_t n, floe_field_kind kind, int64_t v, const floe_program *p, unsigned x,
                         unsigned y, const char *body_label)
{
    int ne;
    const char *const *names = floe_kind_enum_names(kind, &ne);
    char a[96];
    if (names && v >= 0 && v < ne) {
        snprintf(buf, n, "%s", names[v]);
        return;
    }
    switch (kind) {
    case FLOE_FK_MEM:
        format_addr(a, sizeof a, p, x, y, floe_mem_addr(v));
        if (floe_mem_reg(v))
            snprintf(buf, n, "%s+r%u", a, floe_mem_reg(v));
        else
            snprintf(buf, n, "%s", a);
        return;
    case FLOE_FK_ACC:
        if (floe_acc_reg(v))
            snprintf(buf, n, "%u+r%u", floe_acc_index(v), floe_acc_reg(v));
        else
            snprintf(buf, n, "%u", floe_acc_index(v));
        return;
    case FLOE_FK_FB:
        format_addr(buf, n, p, FLOE_FB, FLOE_FB, (uint64_t)v);
        return;
    case FLOE_FK_REG:
    case FLOE_FK_REGW:
        snprintf(buf, n, "r%d", (int)v);
        return;
    case FLOE_FK_BODY:
        if (body_label) {
            snprintf(buf, n, "%s", body_label);
            return;
        }
        /* fall through */
    default:
        snprintf(buf, n, "%" PRId64, v);
        return;
    }
}

static void format_insn(const floe_insn *in, const floe_program *p, unsigned x, unsigned y,
                        const char *body_label, char *buf, size_t n)
{
    const floe_op_info *op = floe_op_lookup(in->op);
    if (!op) {
        snprintf(buf, n, "<bad opcode 0x%02x>", in->op);
        return;
    }
    size_t used = (size_t)snprintf(buf, n, "%s.t%u", op->mnemonic, in->thread);
    for (int i = 0; i < op->nfields && used < n; i++) {
        char f[128];
        format_field(f, sizeof f, op->fields[i].kind, in->f[i], p, x, y, body_label);
        used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? ", " : " ", f);
    }
}

void floe_insn_format(const floe_insn *in, const floe_program *p, unsigned x, unsigned y, char *buf, size_t n)
{
    format_insn(in, p, x, y, NULL, buf, n);
}

/* The label to print for a loop ending at index t of core (x, y): a program label if one is there,
 * else the local ".L<t>". */
static const char *label_at(const floe_program *p, unsigned x, unsigned y, size_t t, char *buf, size_t n)
{
    size_t first, end;
    floe_program_symbols_of(p, x, y, &first, &end);
    for (size_t i = first; i < end; i++) {
        const floe_symbol *s = &p->symbols[i];
        if (s->x == x && s->y == y && s->kind == FLOE_SYM_LABEL && s->value == t)
            return s->name;
    }
    snprintf(buf, n, ".L%zu", t);
    return buf;
}

static void print_labels(FILE *out, const floe_program *p, unsigned x, unsigned y, size_t t,
                         const unsigned char *local)
{
    int any = 0;
    size_t first, end;
    floe_program_symbols_of(p, x, y, &first, &end);
    for (size_t i = first; i < end; i++) {
        const floe_symbol *s = &p->symbols[i];
        if (s->x == x && s->y == y && s->kind == FLOE_SYM_LABEL && s->value == t) {
            fprintf(out, "%s:\n", s->name);
            any = 1;
        }
    }
    if (!any && local && local[t])
        fprintf(out, ".L%zu:\n", t);
}

static int print_place(FILE *out, const floe_program *p, unsigned x, unsigned y, floe_err *err)
{
    if (x == FLOE_FB)
        fprintf(out, "\n.framebuffer\n");
    else
        fprintf(out, "\n.core %u, %u\n", x, y);
    size_t first, end;
    floe_program_symbols_of(p, x, y, &first, &end);
    for (size_t i = first; i < end; i++) {
        const floe_symbol *s = &p->symbols[i];
        if (s->x == x && s->y == y && s->kind == FLOE_SYM_REGION)
            fprintf(out, ".region %s, 0x%" PRIx32 ", %" PRIu32 "\n", s->name, s->value, s->size);
    }
    for (size_t i = 0; i < p->nimages; i++) {
        const floe_image *im = &p->images[i];
        if (im->x != x || im->y != y)
            continue;
        fprintf(out, ".data 0x%" PRIx32 "\n", im->addr);
        for (size_t j = 0; j < im->len; j += 32) {
            fputs(".bytes ", out);
            for (size_t k = j; k < im->len && k < j + 32; k++)
                fprintf(out, "%02x", im->bytes[k]);
            fputc('\n', out);
        }
    }
    const floe_core_code *cc = x == FLOE_FB ? NULL : floe_program_core((floe_program *)p, x, y, 0);
    size_t n = cc ? cc->n : 0;
    unsigned char *local = calloc(n + 1, 1);
    if (!local)
        return floe_err_set(err, "out of memory");
    for (size_t i = 0; i < n; i++)
        if (cc->insns[i].op == FLOE_OP_LOOP && i + 1 + (size_t)cc->insns[i].f[1] <= n)
            local[i + 1 + (size_t)cc->insns[i].f[1]] = 1;
    for (size_t i = 0; i < n; i++) {
        print_labels(out, p, x, y, i, local);
        char lb[32], text[512];
        const char *body = NULL;
        if (cc->insns[i].op == FLOE_OP_LOOP)
            body = label_at(p, x, y, i + 1 + (size_t)cc->insns[i].f[1], lb, sizeof lb);
        format_insn(&cc->insns[i], p, x, y, body, text, sizeof text);
        fprintf(out, "    %s\n", text);
    }
    if (x != FLOE_FB)
        print_labels(out, p, x, y, n, local);
    free(local);
    return 0;
}

int floe_disasm(const floe_program *p, FILE *out, floe_err *err)
{
    if (floe_program_validate(p, err) != 0)
        return -1;
    fprintf(out, "; Floe program: %zu core(s) with code, %zu instruction(s), %zu image(s), %zu symbol(s)\n",
            p->ncores, floe_program_insn_count(p), p->nimages, p->nsymbols);
    fprintf(out, ".fingerprint 0x%016" PRIx64 "\n", p->fingerprint);
    /* The frame buffer first (cores' code names its regions), then every core that has code, images
     * or symbols, in canonical order. */
    int fb = 0;
    for (size_t i = 0; i < p->nimages; i++)
        fb |= p->images[i].x == FLOE_FB;
    for (size_t i = 0; i < p->nsymbols; i++)
        fb |= p->symbols[i].x == FLOE_FB;
    if (fb && print_place(out, p, FLOE_FB, FLOE_FB, err) != 0)
        return -1;
    uint64_t last = 0;
    int first = 1;
    for (;;) {
        uint64_t best = UINT64_MAX;
        unsigned bx = 0, by = 0;
#define CONSIDER(px, py)                                                                          \
    do {                                                                                           \
        uint64_t k_ = place_key(px, py);                                                           \
        if ((first || k_ > last) && k_ < best) {                                                   \
            best = k_;                                                                             \
            bx = px;                                                                               \
            by = py;                                                                               \
        }                                                                                          \
    } while (0)
        for (size_t i = 0; i < p->ncores; i++)
            CONSIDER(p->cores[i].x, p->cores[i].y);
        for (size_t i = 0; i < p->nimages; i++)
            CONSIDER(p->images[i].x, p->images[i].y);
        for (size_t i = 0; i < p->nsymbols; i++)
            CONSIDER(p->symbols[i].x, p->symbols[i].y);
#undef CONSIDER
        if (best == UINT64_MAX || bx == FLOE_FB)
            break;
        if (print_place(out, p, bx, by, err) != 0)
            return -1;
        last = best;
        first = 0;
    }
    if (ferror(out))
        return floe_err_set(err, "write error");
    return 0;
}
