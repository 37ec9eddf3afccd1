/*
 * compress: the compress / decompress / compare cycle that SPEC's 401.bzip2
 * runs on its inputs, here with a gzip-style LZ77 coder (hash chains over a
 * 64 KiB window, LZ4-like byte-oriented token format) on generated text.
 * Write pattern: sequential write streams, first the input, then the
 * compressed output, then the decompressed copy, plus a small hot set of
 * hash-chain tables rewritten constantly while compressing.
 */
#include "workload.h"

#define BYTES_PER_SIZE (1ULL << 20)
#define MAX_SIZE 4095          /* positions are stored as uint32 */
#define BLOCK (1u << 20)       /* input bytes per progress unit ... */
#define ZBLOCK (128u << 10)    /* ... except while compressing, the slow phase */
#define VOCAB_BITS 12
#define VOCAB (1u << VOCAB_BITS)
#define WORD_MAX 15            /* letters; a vocabulary entry is 16 bytes */
#define HASH_BITS 16
#define WIN (1u << 16)         /* offsets are 16-bit */
#define MIN_MATCH 4
#define MAX_MATCH 1024
#define MAX_CHAIN 16

typedef struct lz_tables {
    uint32_t head[1u << HASH_BITS]; /* latest position + 1 per hash, 0 = none */
    uint32_t prev[WIN];             /* previous position + 1 with the same hash */
} lz_tables;

static uint64_t input_bytes(const wl_params *p)
{
    return (p->size < MAX_SIZE ? p->size : MAX_SIZE) * BYTES_PER_SIZE;
}

/* Matches never expand the data; a literal run costs a token plus a byte
 * per 255 literals. */
static uint64_t bound(uint64_t len)
{
    return len + len / 255 + 16;
}

static uint64_t compress_arena_bytes(const wl_params *p)
{
    uint64_t len = input_bytes(p);
    return sizeof(lz_tables) + VOCAB * (WORD_MAX + 1) + 2 * len + bound(len);
}

/* Generate, decompress and verify per BLOCK; compress per ZBLOCK. */
static uint64_t compress_units(const wl_params *p)
{
    return 3 * (input_bytes(p) / BLOCK) + input_bytes(p) / ZBLOCK;
}

static uint32_t load32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t hash4(const uint8_t *p)
{
    return (load32(p) * 2654435761u) >> (32 - HASH_BITS);
}

/* Words from a seeded vocabulary with a Zipf-like rank distribution
 * (log-uniform: rank < 2^b with b uniform), separated by spaces and the
 * odd punctuation, so the text compresses about as well as prose. */
static void generate(uint8_t *out, uint64_t len, uint8_t *vocab, uint64_t *rng)
{
    for (uint64_t w = 0; w < VOCAB; w++) {
        uint8_t n = (uint8_t)(1 + wl_splitmix64(rng) % WORD_MAX);
        vocab[w * (WORD_MAX + 1)] = n;
        for (uint8_t i = 1; i <= n; i++)
            vocab[w * (WORD_MAX + 1) + i] = (uint8_t)('a' + wl_splitmix64(rng) % 26);
    }
    static const uint8_t sep[8] = { ' ', ' ', ' ', ' ', ' ', ' ', ',', '\n' };
    uint64_t pos = 0;
    for (uint64_t end = BLOCK; end <= len; end += BLOCK) {
        while (pos < end) {
            uint64_t r = wl_splitmix64(rng);
            uint64_t rank = (r >> 8) & ((1u << (r % (VOCAB_BITS + 1))) - 1);
            const uint8_t *word = vocab + rank * (WORD_MAX + 1);
            for (uint8_t i = 1; i <= word[0] && pos < end; i++)
                out[pos++] = word[i];
            if (pos < end)
                out[pos++] = sep[(r >> 32) & 7];
        }
        wl_progress(1);
    }
}

static uint8_t *put_len(uint8_t *o, uint64_t v)
{
    for (; v >= 255; v -= 255)
        *o++ = 255;
    *o++ = (uint8_t)v;
    return o;
}

/* A sequence: token (literal count << 4 | match length - MIN_MATCH, each
 * nibble saturating at 15 with the excess in put_len bytes), literals,
 * then 16-bit offset and match excess. Trailing literals, if any, form a
 * last sequence without a match. */
static uint8_t *emit(uint8_t *o, const uint8_t *lit, uint64_t nlit, uint64_t off, uint64_t mlen)
{
    uint64_t mx = mlen ? mlen - MIN_MATCH : 0;
    *o++ = (uint8_t)((nlit < 15 ? nlit : 15) << 4 | (mx < 15 ? mx : 15));
    if (nlit >= 15)
        o = put_len(o, nlit - 15);
    memcpy(o, lit, nlit);
    o += nlit;
    if (mlen) {
        *o++ = (uint8_t)off;
        *o++ = (uint8_t)(off >> 8);
        if (mx >= 15)
            o = put_len(o, mx - 15);
    }
    return o;
}

static void insert(lz_tables *t, const uint8_t *in, uint64_t pos)
{
    uint64_t h = hash4(in + pos);
    t->prev[pos & (WIN - 1)] = t->head[h];
    t->head[h] = (uint32_t)(pos + 1);
}

/* Greedy parse, longest match among the MAX_CHAIN most recent candidates. */
static uint64_t compress(const uint8_t *in, uint64_t len, uint8_t *out, lz_tables *t)
{
    uint8_t *o = out;
    uint64_t pos = 0, lit = 0;
    for (uint64_t end = ZBLOCK; end <= len; end += ZBLOCK) {
        while (pos < end) {
            uint64_t best = 0, best_off = 0;
            if (pos + MIN_MATCH <= len) {
                uint64_t oldest = pos >= WIN ? pos - (WIN - 1) : 0;
                uint64_t maxl = len - pos < MAX_MATCH ? len - pos : MAX_MATCH;
                uint64_t c = t->head[hash4(in + pos)];
                for (int d = 0; d < MAX_CHAIN && c != 0 && c - 1 >= oldest; d++) {
                    const uint8_t *a = in + c - 1, *b = in + pos;
                    uint64_t l = 0;
                    while (l < maxl && a[l] == b[l])
                        l++;
                    if (l > best) {
                        best = l;
                        best_off = pos - (c - 1);
                    }
                    c = t->prev[(c - 1) & (WIN - 1)];
                }
                insert(t, in, pos);
            }
            if (best < MIN_MATCH) {
                pos++;
                continue;
            }
            o = emit(o, in + lit, pos - lit, best_off, best);
            for (uint64_t q = pos + 1; q < pos + best && q + MIN_MATCH <= len; q++)
                insert(t, in, q);
            pos += best;
            lit = pos;
        }
        wl_progress(1);
    }
    if (lit < len)
        o = emit(o, in + lit, len - lit, 0, 0);
    return (uint64_t)(o - out);
}

/* Reads a put_len excess; returns 0 if the stream ends inside it. */
static int get_len(const uint8_t *in, uint64_t ilen, uint64_t *ip, uint64_t *v)
{
    for (;;) {
        if (*ip >= ilen)
            return 0;
        uint8_t b = in[(*ip)++];
        *v += b;
        if (b != 255)
            return 1;
    }
}

/* Bounds-checks everything: a damaged stream is reported, never followed. */
static int decompress(const uint8_t *in, uint64_t ilen, uint8_t *out, uint64_t len)
{
    uint64_t ip = 0, o = 0;
    for (uint64_t end = BLOCK; end <= len; end += BLOCK) {
        while (o < end) {
            if (ip >= ilen)
                return 0;
            uint8_t tok = in[ip++];
            uint64_t nlit = tok >> 4, mlen = (tok & 15u) + MIN_MATCH;
            if (nlit == 15 && !get_len(in, ilen, &ip, &nlit))
                return 0;
            if (nlit > ilen - ip || nlit > len - o)
                return 0;
            memcpy(out + o, in + ip, nlit);
            ip += nlit;
            o += nlit;
            if (ip == ilen)
                break;
            if (ilen - ip < 2)
                return 0;
            uint64_t off = in[ip] | (uint64_t)in[ip + 1] << 8;
            ip += 2;
            if (mlen == 15 + MIN_MATCH && !get_len(in, ilen, &ip, &mlen))
                return 0;
            if (off == 0 || off > o || mlen > len - o)
                return 0;
            for (uint64_t i = 0; i < mlen; i++, o++)
                out[o] = out[o - off];
        }
        wl_progress(1);
    }
    return ip == ilen && o == len;
}

static uint64_t load64(const uint8_t *p)
{
    return (uint64_t)load32(p) | (uint64_t)load32(p + 4) << 32;
}

static uint64_t fold(uint64_t h, const uint8_t *p, uint64_t n)
{
    uint64_t i = 0;
    for (; i + 8 <= n; i += 8)
        h = wl_mix(h, load64(p + i));
    for (; i < n; i++)
        h = wl_mix(h, p[i]);
    return h;
}

static int compress_run(const wl_params *p, wl_arena *arena, uint64_t *checksum)
{
    uint64_t len = input_bytes(p), rng = p->seed;
    lz_tables *t = (lz_tables *)arena->base;
    uint8_t *vocab = arena->base + sizeof *t;
    uint8_t *in = vocab + VOCAB * (WORD_MAX + 1), *back = in + len, *z = back + len;

    generate(in, len, vocab, &rng);
    uint64_t zlen = compress(in, len, z, t);
    if (!decompress(z, zlen, back, len)) {
        wl_fail("compress: compressed stream is corrupt");
        return 1;
    }
    /* Compare block by block and fold the matching share of the stream. */
    uint64_t h = wl_mix(0, zlen), blocks = len / BLOCK;
    for (uint64_t b = 0; b < blocks; b++) {
        if (memcmp(in + b * BLOCK, back + b * BLOCK, BLOCK) != 0) {
            wl_fail("compress: round trip differs from the input");
            return 1;
        }
        uint64_t from = zlen * b / blocks, to = zlen * (b + 1) / blocks;
        h = fold(h, z + from, to - from);
        wl_progress(1);
    }
    wl_checked();
    *checksum = h;
    return 0;
}

const wl_descriptor wl_compress = {
    .name = "compress",
    .summary = "LZ77 hash-chain compression of generated text, decompression and verify (bzip2/gzip-like)",
    .size_unit = "MiB of input",
    .default_size = 128,
    .param_unit = NULL,
    .default_param = 0,
    .arena_bytes = compress_arena_bytes,
    .progress_units = compress_units,
    .run = compress_run,
};
