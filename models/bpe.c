#include "models/bpe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/unicode_class.h"

static uint64_t hash_bytes(const void *p, size_t n)
{
    const uint8_t *s = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

static uint64_t hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static size_t pow2_above(size_t n)
{
    size_t c = 16;
    while (c < 2 * n)
        c *= 2;
    return c;
}

int floe_bpe_init(floe_bpe *b, int32_t n_ids, size_t n_pieces, size_t n_merges)
{
    memset(b, 0, sizeof *b);
    b->unk_id = -1;
    for (int i = 0; i < 256; i++)
        b->byte_id[i] = -1;
    b->n_ids = n_ids;
    b->piece = calloc((size_t)n_ids + 1, sizeof *b->piece);
    b->piece_len = calloc((size_t)n_ids + 1, sizeof *b->piece_len);
    b->slot_cap = pow2_above(n_pieces);
    b->slot = malloc(b->slot_cap * sizeof *b->slot);
    b->merge_cap = pow2_above(n_merges);
    b->merge_key = malloc(b->merge_cap * sizeof *b->merge_key);
    b->merge_rank = malloc(b->merge_cap * sizeof *b->merge_rank);
    b->merge_new = malloc(b->merge_cap * sizeof *b->merge_new);
    if (!b->piece || !b->piece_len || !b->slot || !b->merge_key || !b->merge_rank || !b->merge_new) {
        floe_bpe_free(b);
        return -1;
    }
    for (size_t i = 0; i < b->slot_cap; i++)
        b->slot[i] = -1;
    for (size_t i = 0; i < b->merge_cap; i++)
        b->merge_key[i] = UINT64_MAX;
    return 0;
}

void floe_bpe_free(floe_bpe *b)
{
    if (b->piece)
        for (int32_t i = 0; i < b->n_ids; i++)
            free(b->piece[i]);
    free(b->piece);
    free(b->piece_len);
    free(b->slot);
    free(b->merge_key);
    free(b->merge_rank);
    free(b->merge_new);
    memset(b, 0, sizeof *b);
}

int32_t floe_bpe_find(const floe_bpe *b, const char *s, size_t n)
{
    size_t mask = b->slot_cap - 1;
    for (size_t h = hash_bytes(s, n) & mask;; h = (h + 1) & mask) {
        int32_t id = b->slot[h];
        if (id < 0)
            return -1;
        if (b->piece_len[id] == n && memcmp(b->piece[id], s, n) == 0)
            return id;
    }
}

int floe_bpe_add_piece(floe_bpe *b, const char *s, size_t n, int32_t id, int32_t *other)
{
    if (b->piece[id])
        return 1;
    size_t mask = b->slot_cap - 1, h = hash_bytes(s, n) & mask;
    for (; b->slot[h] >= 0; h = (h + 1) & mask) {
        int32_t o = b->slot[h];
        if (b->piece_len[o] == n && memcmp(b->piece[o], s, n) == 0) {
            *other = o;
            return 2;
        }
    }
    char *p = malloc(n + 1);
    if (!p)
        return -1;
    memcpy(p, s, n);
    p[n] = 0;
    b->piece[id] = p;
    b->piece_len[id] = (uint32_t)n;
    b->slot[h] = id;
    return 0;
}

void floe_bpe_add_merge(floe_bpe *b, int32_t left, int32_t right, int32_t rank, int32_t merged)
{
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    size_t mask = b->merge_cap - 1, h = hash_u64(key) & mask;
    while (b->merge_key[h] != UINT64_MAX && b->merge_key[h] != key)
        h = (h + 1) & mask;
    if (b->merge_key[h] == UINT64_MAX)
        b->n_merges++;
    b->merge_key[h] = key;
    b->merge_rank[h] = rank;
    b->merge_new[h] = merged;
}

/* The rank and merged id of left+right; 0 when there is no such merge. */
static int find_merge(const floe_bpe *b, int32_t left, int32_t right, int32_t *rank, int32_t *merged)
{
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    size_t mask = b->merge_cap - 1;
    for (size_t h = hash_u64(key) & mask; b->merge_key[h] != UINT64_MAX; h = (h + 1) & mask)
        if (b->merge_key[h] == key) {
            *rank = b->merge_rank[h];
            *merged = b->merge_new[h];
            return 1;
        }
    return 0;
}

void floe_bpe_find_bytes(floe_bpe *b)
{
    for (int i = 0; i < 256; i++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", i);
        b->byte_id[i] = floe_bpe_find(b, name, 6);
    }
}

int floe_ids_push(floe_ids *ids, int32_t id)
{
    if (ids->n == ids->cap) {
        size_t cap = ids->cap ? 2 * ids->cap : 256;
        int32_t *v = realloc(ids->v, cap * sizeof *v);
        if (!v)
            return -1;
        ids->v = v;
        ids->cap = cap;
    }
    ids->v[ids->n++] = id;
    return 0;
}

typedef struct {
    int32_t id, prev, next, dead;
} symbol;

typedef struct {
    int32_t rank, pos, merged;
} heap_item;

/* A cache of short words' ids: results never depend on it. It starts small and grows (a short text
 * pays little for it); full at its largest, it is emptied. */
enum { CACHE_MIN_SLOTS = 1 << 10, CACHE_MAX_SLOTS = 1 << 16, CACHE_MAX_WORD = 64, CACHE_ARENA = 1 << 24 };
typedef struct {
    uint64_t hash;
    uint32_t key_off, key_len, ids_off, n_ids; /* key_len 0: empty */
} cache_entry;

struct floe_bpe_work {
    symbol *sym;
    size_t sym_cap;
    heap_item *heap;
    size_t heap_n, heap_cap;
    cache_entry *cache;
    size_t cache_slots, cache_used;
    uint8_t *arena; /* keys and ids, 4-byte aligned */
    size_t arena_n, arena_cap;
};

floe_bpe_work *floe_bpe_work_new(void) { return calloc(1, sizeof(floe_bpe_work)); }

void floe_bpe_work_free(floe_bpe_work *w)
{
    if (!w)
        return;
    free(w->sym);
    free(w->heap);
    free(w->cache);
    free(w->arena);
    free(w);
}

/* Room for one more entry of `need` arena bytes: grows the table or the arena, or empties both.
 * Returns -1 when out of memory. */
static int cache_make_room(floe_bpe_work *w, size_t need)
{
    if (w->cache_slots == 0 || (w->cache_used + 1 > w->cache_slots / 2 && w->cache_slots < CACHE_MAX_SLOTS)) {
        size_t slots = w->cache_slots ? 2 * w->cache_slots : CACHE_MIN_SLOTS;
        cache_entry *c = calloc(slots, sizeof *c);
        if (!c)
            return -1;
        for (size_t i = 0; i < w->cache_slots; i++)
            if (w->cache[i].key_len) {
                size_t h = w->cache[i].hash & (slots - 1);
                while (c[h].key_len)
                    h = (h + 1) & (slots - 1);
                c[h] = w->cache[i];
            }
        free(w->cache);
        w->cache = c;
        w->cache_slots = slots;
    }
    if (w->cache_used + 1 > w->cache_slots / 2 || w->arena_n + need > CACHE_ARENA) {
        memset(w->cache, 0, w->cache_slots * sizeof *w->cache);
        w->cache_used = 0;
        w->arena_n = 0;
    }
    if (w->arena_n + need > w->arena_cap) {
        size_t cap = w->arena_cap ? w->arena_cap : 1 << 16;
        while (cap < w->arena_n + need)
            cap *= 2;
        uint8_t *a = realloc(w->arena, cap);
        if (!a)
            return -1;
        w->arena = a;
        w->arena_cap = cap;
    }
    return 0;
}

static int heap_less(const heap_item *a, const heap_item *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static int heap_push(floe_bpe_work *w, heap_item it)
{
    if (w->heap_n == w->heap_cap) {
        size_t cap = w->heap_cap ? 2 * w->heap_cap : 64;
        heap_item *h = realloc(w->heap, cap * sizeof *h);
        if (!h)
            return -1;
        w->heap = h;
        w->heap_cap = cap;
    }
    size_t i = w->heap_n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_less(&it, &w->heap[p]))
            break;
        w->heap[i] = w->heap[p];
        i = p;
    }
    w->heap[i] = it;
    return 0;
}

static heap_item heap_pop(floe_bpe_work *w)
{
    heap_item top = w->heap[0], last = w->heap[--w->heap_n];
    size_t i = 0, n = w->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && heap_less(&w->heap[c + 1], &w->heap[c]))
            c++;
        if (!heap_less(&w->heap[c], &last))
            break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n)
        w->heap[i] = last;
    return top;
}

static int add_symbol(floe_bpe_work *w, size_t *n, int32_t id)
{
    if (*n == w->sym_cap) {
        size_t cap = w->sym_cap ? 2 * w->sym_cap : 64;
        symbol *s = realloc(w->sym, cap * sizeof *s);
        if (!s)
            return -1;
        w->sym = s;
        w->sym_cap = cap;
    }
    w->sym[*n] = (symbol){id, (int32_t)*n - 1, (int32_t)*n + 1, 0};
    (*n)++;
    return 0;
}

/* The characters of the word as symbols, with byte fallback and the unknown token. */
static int split_chars(const floe_bpe *b, floe_bpe_work *w, const uint8_t *s, size_t n, size_t *n_sym)
{
    int32_t unk_pending = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t l = (size_t)floe_utf8_decode(s + i, n - i, &cp);
        int32_t id = floe_bpe_find(b, (const char *)s + i, l);
        if (id >= 0) {
            if (unk_pending && add_symbol(w, n_sym, b->unk_id))
                return -1;
            unk_pending = 0;
            if (add_symbol(w, n_sym, id))
                return -1;
        } else {
            int bytes_ok = b->byte_fallback;
            for (size_t k = 0; k < l && bytes_ok; k++)
                bytes_ok = b->byte_id[s[i + k]] >= 0;
            if (bytes_ok) {
                for (size_t k = 0; k < l; k++)
                    if (add_symbol(w, n_sym, b->byte_id[s[i + k]]))
                        return -1;
            } else if (b->unk_id >= 0) {
                if (unk_pending && !b->fuse_unk && add_symbol(w, n_sym, b->unk_id))
                    return -1;
                unk_pending = 1;
            }
        }
        i += l;
    }
    if (unk_pending && add_symbol(w, n_sym, b->unk_id))
        return -1;
    return 0;
}

static int merge_word(const floe_bpe *b, floe_bpe_work *w, const uint8_t *s, size_t n, floe_ids *out)
{
    size_t ns = 0;
    if (split_chars(b, w, s, n, &ns))
        return -1;
    if (ns == 0)
        return 0;
    symbol *sym = w->sym;
    sym[ns - 1].next = -1;
    w->heap_n = 0;
    for (size_t i = 0; i + 1 < ns; i++) {
        heap_item it = {0, (int32_t)i, 0};
        if (find_merge(b, sym[i].id, sym[i + 1].id, &it.rank, &it.merged) && heap_push(w, it))
            return -1;
    }
    while (w->heap_n) {
        heap_item top = heap_pop(w);
        symbol *cur = &sym[top.pos];
        if (cur->dead || cur->next < 0)
            continue;
        int32_t rank, merged, nx = cur->next;
        /* a stale entry: the pair changed since it was queued */
        if (!find_merge(b, cur->id, sym[nx].id, &rank, &merged) || merged != top.merged)
            continue;
        cur->id = top.merged;
        cur->next = sym[nx].next;
        sym[nx].dead = 1;
        if (cur->next >= 0)
            sym[cur->next].prev = top.pos;
        heap_item it;
        if (cur->prev >= 0 && find_merge(b, sym[cur->prev].id, cur->id, &it.rank, &it.merged)) {
            it.pos = cur->prev;
            if (heap_push(w, it))
                return -1;
        }
        if (cur->next >= 0 && find_merge(b, cur->id, sym[cur->next].id, &it.rank, &it.merged)) {
            it.pos = top.pos;
            if (heap_push(w, it))
                return -1;
        }
    }
    for (int32_t i = 0; i >= 0; i = sym[i].next)
        if (floe_ids_push(out, sym[i].id))
            return -1;
    return 0;
}

int floe_bpe_word(const floe_bpe *b, floe_bpe_work *w, const uint8_t *s, size_t n, floe_ids *out)
{
    if (n == 0)
        return 0;
    if (b->ignore_merges) {
        int32_t id = floe_bpe_find(b, (const char *)s, n);
        if (id >= 0)
            return floe_ids_push(out, id);
    }
    if (n > CACHE_MAX_WORD)
        return merge_word(b, w, s, n, out);
    uint64_t h = hash_bytes(s, n);
    size_t mask = w->cache_slots - 1, slot;
    for (slot = h & mask; w->cache_slots && w->cache[slot].key_len; slot = (slot + 1) & mask) {
        cache_entry *e = &w->cache[slot];
        if (e->hash == h && e->key_len == n && memcmp(w->arena + e->key_off, s, n) == 0) {
            const int32_t *ids = (const int32_t *)(const void *)(w->arena + e->ids_off);
            for (uint32_t k = 0; k < e->n_ids; k++)
                if (floe_ids_push(out, ids[k]))
                    return -1;
            return 0;
        }
    }
    size_t first = out->n;
    if (merge_word(b, w, s, n, out))
        return -1;
    size_t n_new = out->n - first, key_bytes = (n + 3) & ~(size_t)3;
    if (cache_make_room(w, key_bytes + n_new * sizeof(int32_t)))
        return -1;
    mask = w->cache_slots - 1;
    for (slot = h & mask; w->cache[slot].key_len; slot = (slot + 1) & mask)
        ;
    size_t key_off = w->arena_n, ids_off = key_off + key_bytes;
    memcpy(w->arena + key_off, s, n);
    if (n_new) /* a word may encode to nothing (a vocabulary without its pieces): out->v may be NULL */
        memcpy(w->arena + ids_off, out->v + first, n_new * sizeof(int32_t));
    w->cache[slot] = (cache_entry){h, (uint32_t)key_off, (uint32_t)n, (uint32_t)ids_off, (uint32_t)n_new};
    w->cache_used++;
    w->arena_n = ids_off + n_new * sizeof(int32_t);
    return 0;
}
