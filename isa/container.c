/* The binary program container: canonical writer, bounds-checked reader. */
#include "isa/container.h"

#include <stdlib.h>
#include <string.h>

#include "common/atomic_file.h"
#include "common/file_read.h"

#define HEADER_BYTES 32
#define ENTRY_BYTES 32
#define SYM_FIXED_BYTES 16

uint32_t floe_crc32(const void *data, size_t n)
{
    /* Half-byte table: small, constant, fast enough for programs of hundreds of MB. */
    static const uint32_t t[16] = {0x00000000, 0x1DB71064, 0x3B6E20C8, 0x26D930AC, 0x76DC4190, 0x6B6B51F4,
                                   0x4DB26158, 0x5005713C, 0xEDB88320, 0xF00F9344, 0xD6D6A3E8, 0xCB61B38C,
                                   0x9B64C2B0, 0x86D3D2D4, 0xA00AE278, 0xBDBDF21C};
    const uint8_t *p = data;
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        c = (c >> 4) ^ t[c & 15];
        c = (c >> 4) ^ t[c & 15];
    }
    return c ^ 0xFFFFFFFFu;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | ((uint64_t)get32(p + 4) << 32); }

static size_t pad8(size_t n) { return (n + 7) & ~(size_t)7; }

typedef struct section {
    uint32_t kind;
    uint16_t x, y;
    uint32_t addr;
    size_t len;
} section;

int floe_program_write(const floe_program *p, uint8_t **buf, size_t *len, floe_err *err)
{
    *buf = NULL;
    *len = 0;
    if (floe_program_validate(p, err) != 0)
        return -1;
    size_t nsec = 0, payload = 0;
    for (size_t i = 0; i < p->ncores; i++)
        if (p->cores[i].n > 0) {
            nsec++;
            payload += p->cores[i].n * FLOE_INSN_BYTES;
        }
    for (size_t i = 0; i < p->nimages; i++) {
        nsec++;
        payload += pad8(p->images[i].len);
    }
    size_t symlen = 0;
    if (p->nsymbols > 0) {
        symlen = 4;
        for (size_t i = 0; i < p->nsymbols; i++)
            symlen += SYM_FIXED_BYTES + strlen(p->symbols[i].name);
        nsec++;
        payload += pad8(symlen);
    }
    size_t total = HEADER_BYTES + nsec * ENTRY_BYTES + payload;
    if (nsec > UINT32_MAX || total > FLOE_CONTAINER_MAX_BYTES)
        return floe_err_set(err, "program too large for a container (%zu bytes)", total);
    uint8_t *b = calloc(1, total);
    if (!b)
        return floe_err_set(err, "out of memory writing a %zu-byte program", total);

    size_t off = HEADER_BYTES + nsec * ENTRY_BYTES, s = 0;
    uint8_t *e;
#define ENTRY(kind_, x_, y_, len_, addr_)                                                          \
    do {                                                                                           \
        e = b + HEADER_BYTES + s * ENTRY_BYTES;                                                    \
        put32(e, kind_);                                                                           \
        put16(e + 4, x_);                                                                          \
        put16(e + 6, y_);                                                                          \
        put64(e + 8, off);                                                                         \
        put64(e + 16, len_);                                                                       \
        put32(e + 24, addr_);                                                                      \
        put32(e + 28, floe_crc32(b + off, len_));                                                  \
        off += pad8(len_);                                                                         \
        s++;                                                                                       \
    } while (0)
    for (size_t i = 0; i < p->ncores; i++) {
        const floe_core_code *cc = &p->cores[i];
        if (cc->n == 0)
            continue;
        for (size_t j = 0; j < cc->n; j++)
            if (floe_insn_encode(&cc->insns[j], b + off + j * FLOE_INSN_BYTES, err) != 0) {
                free(b);
                return floe_err_prefix(err, "core (%u, %u) instruction %zu", cc->x, cc->y, j);
            }
        ENTRY(FLOE_SECTION_CODE, cc->x, cc->y, cc->n * FLOE_INSN_BYTES, 0);
    }
    for (size_t i = 0; i < p->nimages; i++) {
        const floe_image *im = &p->images[i];
        memcpy(b + off, im->bytes, im->len);
        ENTRY(FLOE_SECTION_IMAGE, im->x, im->y, im->len, im->addr);
    }
    if (p->nsymbols > 0) {
        uint8_t *q = b + off;
        put32(q, (uint32_t)p->nsymbols);
        q += 4;
        for (size_t i = 0; i < p->nsymbols; i++) {
            const floe_symbol *sy = &p->symbols[i];
            size_t nl = strlen(sy->name);
            put16(q, sy->x);
            put16(q + 2, sy->y);
            q[4] = sy->kind;
            q[5] = (uint8_t)nl;
            put32(q + 8, sy->value);
            put32(q + 12, sy->size);
            memcpy(q + SYM_FIXED_BYTES, sy->name, nl);
            q += SYM_FIXED_BYTES + nl;
        }
        ENTRY(FLOE_SECTION_SYMBOLS, 0, 0, symlen, 0);
    }
#undef ENTRY
    memcpy(b, FLOE_CONTAINER_MAGIC, 8);
    put32(b + 8, FLOE_CONTAINER_VERSION);
    put32(b + 12, (uint32_t)nsec);
    put64(b + 16, p->fingerprint);
    put32(b + 24, floe_crc32(b + HEADER_BYTES, nsec * ENTRY_BYTES));
    put32(b + 28, floe_crc32(b, 28));
    *buf = b;
    *len = total;
    return 0;
}

int floe_program_save(const floe_program *p, const char *path, floe_err *err)
{
    uint8_t *b;
    size_t n;
    if (floe_program_write(p, &b, &n, err) != 0)
        return floe_err_prefix(err, "%s", path);
    int rc = floe_write_file_atomic(path, b, n, err);
    free(b);
    return rc;
}

static int read_symbols(floe_program *p, const uint8_t *q, size_t len, floe_err *err)
{
    if (len < 4)
        return floe_err_set(err, "symbols section: %zu bytes, too short for its count", len);
    uint32_t n = get32(q);
    size_t pos = 4;
    for (uint32_t i = 0; i < n; i++) {
        if (len - pos < SYM_FIXED_BYTES)
            return floe_err_set(err, "symbols section: symbol %u of %u runs past the section's end", i, n);
        const uint8_t *s = q + pos;
        unsigned nl = s[5];
        if (get16(s + 6) != 0)
            return floe_err_set(err, "symbols section: symbol %u: reserved bytes are not zero", i);
        if (len - pos - SYM_FIXED_BYTES < nl)
            return floe_err_set(err, "symbols section: symbol %u's name runs past the section's end", i);
        if (!floe_name_valid((const char *)s + SYM_FIXED_BYTES, nl))
            return floe_err_set(err, "symbols section: symbol %u: invalid name", i);
        char name[FLOE_NAME_MAX + 1];
        memcpy(name, s + SYM_FIXED_BYTES, nl);
        name[nl] = '\0';
        if (floe_program_add_symbol(p, get16(s), get16(s + 2), (floe_sym_kind)s[4], name, get32(s + 8),
                                    get32(s + 12), err) != 0)
            return floe_err_prefix(err, "symbols section: symbol %u", i);
        /* Canonical order only (the writer's): then a loaded program writes back to the same bytes. */
        if (strcmp(p->symbols[p->nsymbols - 1].name, name) != 0 || p->symbols[p->nsymbols - 1].x != get16(s) ||
            p->symbols[p->nsymbols - 1].y != get16(s + 2))
            return floe_err_set(err, "symbols section: symbol %u ('%s') is out of canonical order", i, name);
        pos += SYM_FIXED_BYTES + nl;
    }
    if (pos != len)
        return floe_err_set(err, "symbols section: %zu bytes left over after %u symbols", len - pos, n);
    return 0;
}

int floe_program_read(const uint8_t *buf, size_t len, const uint64_t *expect_fingerprint, floe_program **out,
                      floe_err *err)
{
    *out = NULL;
    if (len < HEADER_BYTES)
        return floe_err_set(err, "truncated: %zu bytes, a program container has at least %d", len, HEADER_BYTES);
    if (memcmp(buf, FLOE_CONTAINER_MAGIC, 8) != 0)
        return floe_err_set(err, "not a Floe program (bad magic; expected \"FLOEPRG\\0\")");
    uint32_t version = get32(buf + 8);
    if (version != FLOE_CONTAINER_VERSION)
        return floe_err_set(err, "container version %u is not supported (this floe reads version %d)", version,
                            FLOE_CONTAINER_VERSION);
    if (get32(buf + 28) != floe_crc32(buf, 28))
        return floe_err_set(err, "header checksum mismatch (corrupted header)");
    uint64_t fp = get64(buf + 16);
    if (expect_fingerprint && fp != *expect_fingerprint)
        return floe_err_set(err, "program was built for machine fingerprint %016llx, not this machine's %016llx",
                            (unsigned long long)fp, (unsigned long long)*expect_fingerprint);
    uint32_t nsec = get32(buf + 12);
    if (nsec > (len - HEADER_BYTES) / ENTRY_BYTES)
        return floe_err_set(err, "truncated: %u section entries do not fit in %zu bytes", nsec, len);
    size_t table_end = HEADER_BYTES + (size_t)nsec * ENTRY_BYTES;
    if (get32(buf + 24) != floe_crc32(buf + HEADER_BYTES, (size_t)nsec * ENTRY_BYTES))
        return floe_err_set(err, "section table checksum mismatch (corrupted section table)");

    floe_program *p = floe_program_new(fp);
    if (!p)
        return floe_err_set(err, "out of memory");
    int nsym = 0;
    uint32_t last_kind = 0;
    size_t expect_off = table_end;
    for (uint32_t s = 0; s < nsec; s++) {
        const uint8_t *e = buf + HEADER_BYTES + (size_t)s * ENTRY_BYTES;
        uint32_t kind = get32(e);
        unsigned x = get16(e + 4), y = get16(e + 6);
        uint64_t off = get64(e + 8), slen = get64(e + 16);
        uint32_t addr = get32(e + 24);
        if (off < table_end || off > len || slen > len - off) {
            floe_err_set(err, "section %u: bytes %llu..%llu lie outside the payload area %zu..%zu", s,
                         (unsigned long long)off, (unsigned long long)off + (slen > len ? len : slen), table_end,
                         len);
            goto fail;
        }
        /* Payloads follow the table in order, each padded with zeros to 8 bytes: one layout per
         * program, so every byte of a valid file is checked by a CRC or by this rule. */
        if (off != expect_off) {
            floe_err_set(err, "section %u: payload at offset %llu, expected %zu (payloads are contiguous, "
                         "8-byte aligned)", s, (unsigned long long)off, expect_off);
            goto fail;
        }
        if (pad8((size_t)slen) > len - off) {
            floe_err_set(err, "section %u: padding runs past the end of the file", s);
            goto fail;
        }
        for (size_t i = (size_t)slen; i < pad8((size_t)slen); i++)
            if (buf[off + i] != 0) {
                floe_err_set(err, "section %u: padding byte %zu is not zero", s, i);
                goto fail;
            }
        expect_off += pad8((size_t)slen);
        const uint8_t *q = buf + off;
        if (get32(e + 28) != floe_crc32(q, (size_t)slen)) {
            floe_err_set(err, "section %u: checksum mismatch (corrupted payload)", s);
            goto fail;
        }
        if (kind < last_kind) {
            floe_err_set(err, "section %u: kind %u after kind %u (code, images, symbols is the order)", s, kind,
                         last_kind);
            goto fail;
        }
        last_kind = kind;
        if (kind == FLOE_SECTION_CODE) {
            if (x > 255 || y > 255 || addr != 0 || slen == 0 || slen % FLOE_INSN_BYTES != 0) {
                floe_err_set(err, "section %u: malformed code section (core (%u, %u), %llu bytes)", s, x, y,
                             (unsigned long long)slen);
                goto fail;
            }
            if (floe_program_core(p, x, y, 0)) {
                floe_err_set(err, "section %u: second code section for core (%u, %u)", s, x, y);
                goto fail;
            }
            floe_core_code *cc = floe_program_core(p, x, y, 1);
            if (cc && cc != &p->cores[p->ncores - 1]) {
                floe_err_set(err, "section %u: core (%u, %u) is out of canonical order", s, x, y);
                goto fail;
            }
            size_t n = (size_t)slen / FLOE_INSN_BYTES;
            if (!cc || !(cc->insns = malloc(n * sizeof *cc->insns))) {
                floe_err_set(err, "out of memory");
                goto fail;
            }
            cc->cap = n;
            for (size_t i = 0; i < n; i++) {
                if (floe_insn_decode(q + i * FLOE_INSN_BYTES, &cc->insns[i], err) != 0) {
                    floe_err_prefix(err, "section %u: core (%u, %u) instruction %zu", s, x, y, i);
                    goto fail;
                }
                cc->n++;
            }
        } else if (kind == FLOE_SECTION_IMAGE) {
            if (floe_program_add_image(p, x, y, addr, q, (size_t)slen, err) != 0) {
                floe_err_prefix(err, "section %u", s);
                goto fail;
            }
            const floe_image *im = &p->images[p->nimages - 1];
            if (im->x != x || im->y != y || im->addr != addr) {
                floe_err_set(err, "section %u: image at (%u, %u) 0x%x is out of canonical order", s, x, y, addr);
                goto fail;
            }
        } else if (kind == FLOE_SECTION_SYMBOLS) {
            if (nsym++ || x != 0 || y != 0 || addr != 0) {
                floe_err_set(err, "section %u: malformed or second symbols section", s);
                goto fail;
            }
            if (read_symbols(p, q, (size_t)slen, err) != 0) {
                floe_err_prefix(err, "section %u", s);
                goto fail;
            }
        } else {
            floe_err_set(err, "section %u: unknown kind %u", s, kind);
            goto fail;
        }
    }
    if (expect_off != len) {
        floe_err_set(err, "%zu unexpected bytes after the last section", len - expect_off);
        goto fail;
    }
    if (floe_program_validate(p, err) != 0)
        goto fail;
    *out = p;
    return 0;
fail:
    floe_program_free(p);
    return -1;
}

int floe_program_load(const char *path, const uint64_t *expect_fingerprint, floe_program **out, floe_err *err)
{
    char *data;
    size_t n;
    *out = NULL;
    if (floe_read_file(path, FLOE_CONTAINER_MAX_BYTES, &data, &n, err) != 0)
        return -1;
    int rc = floe_program_read((const uint8_t *)data, n, expect_fingerprint, out, err);
    free(data);
    if (rc != 0)
        floe_err_prefix(err, "%s", path);
    return rc;
}
