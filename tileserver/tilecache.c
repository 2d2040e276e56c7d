/*
 * tilecache.c — the in-memory tile cache shared by the worker threads.
 *
 * 16 shards, each a chained hash table and an LRU list under its own
 * mutex, each bounded to a sixteenth of the byte budget (an entry counts
 * its struct, its raw and gzipped bytes). Entries are refcounted: a
 * request holds its entry until its answer, which points into the
 * entry's bytes, is sent, so eviction or invalidation by another thread
 * never frees bytes in use. An entry may carry ready answers (tiles.c),
 * released with it through its answer_free hook.
 *
 * Staleness: an invalidation first bumps the generation, then drops the
 * tiles. A tile built by a request is inserted only if the generation has
 * not moved since the request looked at the history (kt_tilecache_put),
 * so a tile built from data older than an invalidation that ran while it
 * was being built is served once to its request, never cached. Lookup and
 * insertion of a tile take one shard lock; invalidation of a change
 * probes the few tiles it touches at each zoom directly, and scans the
 * cache only for the zooms where it touches many.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "kt_tiles_int.h"

#define SHARDS 16
#define PROBE_MAX 256 /* tiles probed one by one per zoom; more: scan */

typedef struct shard {
	pthread_mutex_t lock;
	kt_tile_entry_t **table;
	size_t n_buckets;
	kt_tile_entry_t *head, *tail; /* most recently used first */
	size_t bytes, count;
} shard_t;

struct kt_tilecache {
	size_t max_bytes;
	atomic_uint_fast64_t gen;
	shard_t shards[SHARDS];
};

static uint64_t key_hash(const char *tileset, int z, uint32_t x, uint32_t y)
{
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = tileset; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h ^= ((uint64_t)z << 58) ^ ((uint64_t)x << 29) ^ y;
	/* splitmix64's finaliser: every bit of the key reaches the top bits
	 * (which pick the shard) and the low ones (the bucket) */
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
	return h ^ (h >> 31);
}

int kt_tilecache_new(size_t max_bytes, kt_tilecache_t **out)
{
	kt_tilecache_t *c = kt_calloc(1, sizeof *c);
	if (!c)
		return KT_ENOMEM;
	c->max_bytes = max_bytes;
	for (int i = 0; i < SHARDS; i++) {
		shard_t *s = &c->shards[i];
		pthread_mutex_init(&s->lock, NULL);
		s->n_buckets = 1024;
		s->table = kt_calloc(s->n_buckets, sizeof *s->table);
		if (!s->table) {
			kt_tilecache_free(c);
			return KT_ENOMEM;
		}
	}
	*out = c;
	return 0;
}

static void entry_free(kt_tile_entry_t *e)
{
	for (int i = 0; i < KT_TILE_ANSWERS; i++) {
		void *a = atomic_load(&e->answers[i]);
		if (a && e->answer_free)
			e->answer_free(a);
	}
	kt_free(e->raw);
	kt_free(e->gz);
	kt_free(e);
}

void kt_tilecache_unref(kt_tile_entry_t *e)
{
	if (e && atomic_fetch_sub(&e->refs, 1) == 1)
		entry_free(e);
}

void kt_tilecache_free(kt_tilecache_t *c)
{
	if (!c)
		return;
	for (int i = 0; i < SHARDS; i++) {
		shard_t *s = &c->shards[i];
		for (kt_tile_entry_t *e = s->head, *n; e; e = n) {
			n = e->next;
			kt_tilecache_unref(e);
		}
		kt_free(s->table);
		pthread_mutex_destroy(&s->lock);
	}
	kt_free(c);
}

static int gzip_bytes(const unsigned char *in, size_t n, unsigned char **out, size_t *out_len)
{
	z_stream zs = {0};
	if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return KT_ENOMEM;
	size_t cap = deflateBound(&zs, (uLong)n) + 32;
	unsigned char *buf = kt_malloc(cap);
	if (!buf) {
		deflateEnd(&zs);
		return KT_ENOMEM;
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)n;
	zs.next_out = buf;
	zs.avail_out = (uInt)cap;
	int zr = deflate(&zs, Z_FINISH);
	*out_len = zs.total_out;
	deflateEnd(&zs);
	if (zr != Z_STREAM_END) {
		kt_free(buf);
		return KT_EINTERNAL;
	}
	*out = buf;
	return 0;
}

int kt_tile_entry_new_raw(const char *tileset, int z, uint32_t x, uint32_t y,
                          unsigned char *raw, size_t raw_len, kt_tile_entry_t **out)
{
	kt_tile_entry_t *e = kt_calloc(1, sizeof *e);
	if (!e || strlen(tileset) >= sizeof e->tileset) {
		kt_free(raw);
		kt_free(e);
		return e ? KT_EINVAL : KT_ENOMEM;
	}
	strcpy(e->tileset, tileset);
	e->z = z;
	e->x = x;
	e->y = y;
	e->raw = raw;
	e->raw_len = raw ? raw_len : 0;
	atomic_init(&e->refs, 1);
	for (int i = 0; i < KT_TILE_ANSWERS; i++)
		atomic_init(&e->answers[i], NULL);
	/* ETag: FNV-1a 64 of the bytes (an empty tile has its own) */
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < e->raw_len; i++)
		h = (h ^ raw[i]) * 1099511628211ULL;
	snprintf(e->etag, sizeof e->etag, "\"%016llx\"", (unsigned long long)h);
	e->hash = key_hash(tileset, z, x, y);
	e->bytes = sizeof *e + e->raw_len;
	*out = e;
	return 0;
}

int kt_tile_entry_gzip(kt_tile_entry_t *e)
{
	if (e->gz || !e->raw_len)
		return 0;
	int rc = gzip_bytes(e->raw, e->raw_len, &e->gz, &e->gz_len);
	if (!rc)
		e->bytes += e->gz_len;
	return rc;
}

int kt_tile_entry_new(const char *tileset, int z, uint32_t x, uint32_t y, unsigned char *raw,
                      size_t raw_len, kt_tile_entry_t **out)
{
	int rc = kt_tile_entry_new_raw(tileset, z, x, y, raw, raw_len, out);
	if (!rc && (rc = kt_tile_entry_gzip(*out))) {
		entry_free(*out);
		*out = NULL;
	}
	return rc;
}

static shard_t *shard_of(kt_tilecache_t *c, uint64_t h)
{
	return &c->shards[(h >> 56) % SHARDS];
}

static int same_key(const kt_tile_entry_t *e, const char *tileset, int z, uint32_t x, uint32_t y)
{
	return e->z == z && e->x == x && e->y == y && !strcmp(e->tileset, tileset);
}

static void lru_unlink(shard_t *s, kt_tile_entry_t *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		s->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		s->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push(shard_t *s, kt_tile_entry_t *e)
{
	e->prev = NULL;
	e->next = s->head;
	if (s->head)
		s->head->prev = e;
	s->head = e;
	if (!s->tail)
		s->tail = e;
}

/* Unlinks e from the table and the list and drops the cache's reference. */
static void shard_remove(shard_t *s, kt_tile_entry_t *e)
{
	kt_tile_entry_t **pp = &s->table[e->hash % s->n_buckets];
	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	lru_unlink(s, e);
	s->bytes -= e->bytes;
	s->count--;
	kt_tilecache_unref(e);
}

kt_tile_entry_t *kt_tilecache_get(kt_tilecache_t *c, const char *tileset, int z, uint32_t x,
                                  uint32_t y)
{
	uint64_t h = key_hash(tileset, z, x, y);
	shard_t *s = shard_of(c, h);
	pthread_mutex_lock(&s->lock);
	kt_tile_entry_t *e = s->table[h % s->n_buckets];
	while (e && !(e->hash == h && same_key(e, tileset, z, x, y)))
		e = e->hnext;
	if (e) {
		atomic_fetch_add(&e->refs, 1);
		lru_unlink(s, e);
		lru_push(s, e);
	}
	pthread_mutex_unlock(&s->lock);
	return e;
}

uint64_t kt_tilecache_gen(kt_tilecache_t *c)
{
	return atomic_load(&c->gen);
}

void kt_tilecache_gen_bump(kt_tilecache_t *c)
{
	atomic_fetch_add(&c->gen, 1);
}

int kt_tilecache_put(kt_tilecache_t *c, kt_tile_entry_t *e, uint64_t gen)
{
	shard_t *s = shard_of(c, e->hash);
	size_t budget = c->max_bytes / SHARDS;
	if (e->bytes > budget)
		return 0;
	pthread_mutex_lock(&s->lock);
	int ok = atomic_load(&c->gen) == gen;
	if (ok) {
		/* a tile built twice by concurrent requests: the newer one wins */
		kt_tile_entry_t *old = s->table[e->hash % s->n_buckets];
		while (old && !(old->hash == e->hash && same_key(old, e->tileset, e->z, e->x, e->y)))
			old = old->hnext;
		if (old)
			shard_remove(s, old);
		while (s->tail && s->bytes + e->bytes > budget)
			shard_remove(s, s->tail);
		atomic_fetch_add(&e->refs, 1);
		e->hnext = s->table[e->hash % s->n_buckets];
		s->table[e->hash % s->n_buckets] = e;
		lru_push(s, e);
		s->bytes += e->bytes;
		s->count++;
	}
	pthread_mutex_unlock(&s->lock);
	return ok;
}

static size_t drop_one(kt_tilecache_t *c, const char *tileset, int z, uint32_t x, uint32_t y)
{
	uint64_t h = key_hash(tileset, z, x, y);
	shard_t *s = shard_of(c, h);
	size_t n = 0;
	pthread_mutex_lock(&s->lock);
	kt_tile_entry_t *e = s->table[h % s->n_buckets];
	while (e && !(e->hash == h && same_key(e, tileset, z, x, y)))
		e = e->hnext;
	if (e) {
		shard_remove(s, e);
		n = 1;
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* Drops every entry of tileset at a zoom marked in scan whose x, y lie in
 * that zoom's range. */
static size_t drop_scan(kt_tilecache_t *c, const char *tileset, const uint32_t ranges[][4],
                        const int *scan)
{
	size_t n = 0;
	for (int i = 0; i < SHARDS; i++) {
		shard_t *s = &c->shards[i];
		pthread_mutex_lock(&s->lock);
		for (kt_tile_entry_t *e = s->head, *next; e; e = next) {
			next = e->next;
			const uint32_t *r = ranges[e->z];
			if (scan[e->z] && e->x >= r[0] && e->x <= r[2] && e->y >= r[1] &&
			    e->y <= r[3] && !strcmp(e->tileset, tileset)) {
				shard_remove(s, e);
				n++;
			}
		}
		pthread_mutex_unlock(&s->lock);
	}
	return n;
}

size_t kt_tilecache_invalidate(kt_tilecache_t *c, const char *tileset, int zmin, int zmax,
                               const double b[4], double buffer)
{
	uint32_t ranges[KT_TILE_ZMAX + 1][4];
	int scan[KT_TILE_ZMAX + 1] = {0}, any_scan = 0;
	size_t n = 0;
	if (zmin < 0)
		zmin = 0;
	if (zmax > KT_TILE_ZMAX)
		zmax = KT_TILE_ZMAX;
	for (int z = zmin; z <= zmax; z++) {
		uint32_t *r = ranges[z];
		if (!kt_tile_range(z, b, buffer, r))
			continue;
		uint64_t count = (uint64_t)(r[2] - r[0] + 1) * (r[3] - r[1] + 1);
		if (count > PROBE_MAX) {
			scan[z] = any_scan = 1;
			continue;
		}
		for (uint32_t y = r[1]; y <= r[3]; y++)
			for (uint32_t x = r[0]; x <= r[2]; x++)
				n += drop_one(c, tileset, z, x, y);
	}
	if (any_scan)
		n += drop_scan(c, tileset, (const uint32_t(*)[4])ranges, scan);
	return n;
}

size_t kt_tilecache_bytes(kt_tilecache_t *c)
{
	size_t n = 0;
	for (int i = 0; i < SHARDS; i++) {
		pthread_mutex_lock(&c->shards[i].lock);
		n += c->shards[i].bytes;
		pthread_mutex_unlock(&c->shards[i].lock);
	}
	return n;
}

size_t kt_tilecache_count(kt_tilecache_t *c)
{
	size_t n = 0;
	for (int i = 0; i < SHARDS; i++) {
		pthread_mutex_lock(&c->shards[i].lock);
		n += c->shards[i].count;
		pthread_mutex_unlock(&c->shards[i].lock);
	}
	return n;
}
