/*
 * tile_watch.c — the server's tile state: the cache, and how it learns
 * that features changed.
 *
 * Every change made through kartenn — API, `kartenn history --restore`,
 * `kartenn import`, in this process or another — has an id in the
 * engine's change feed (kt_changes_*). Before it answers a tile, a worker
 * asks for the last id (kt_changes_last: one indexed read, statement
 * cached on its ctx). When something happened since the last id applied,
 * one worker at a time (under t->lock) lists the new changes and drops
 * from the cache the tiles of the layer's tileset and of the composite, at
 * every zoom of the layer's range, whose buffered bounds meet the box of
 * the geometry before or after the change (store CRS → EPSG:3857,
 * densified). Only then is the id marked applied: a worker that saw the
 * new id waits for the invalidation before it looks in the cache, so no
 * tile older than an edit committed before the request began is served.
 * The generation bump before the drop keeps tiles built during the
 * invalidation out of the cache (tilecache.c).
 *
 * Most of the time nothing changed, and the question "anything new?"
 * costs no SQL: every commit rewrites the header of the store's WAL index
 * (see wal_stamp below), so a header identical to the one read before the
 * last full check means no transaction committed since, in any process.
 *
 * Layer extents are computed on first use and again after a change to
 * the layer: in EPSG:3857 from the layer's R*Tree (cheap; encloses the
 * data; cuts down tile queries in tile_build.c), and in lon/lat exactly,
 * from every geometry, only when a TileJSON asks for its bounds.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <geos_c.h>
#include <sqlite3.h>

#include "kt_tiles_int.h"

/* ---- the WAL index: did anything commit since the last look? -------------
 * A store is in WAL mode (kt_store_init). Its WAL index, the "-shm" file
 * beside it, starts with a 48-byte header written twice (documented in
 * https://www.sqlite.org/walformat.html, "The WAL-Index Header"). Every
 * commit rewrites it (its change counter, frame count or salts move):
 * the writer writes the second copy, then the first; a reader reads the
 * first, then the second, and two equal copies are a consistent header.
 * SQLite itself keeps its page cache when that header has not moved; the
 * same rule here lets kt_tiles_sync skip its SELECT.
 *
 * The mapping stays valid as long as this process keeps the store open
 * (watch_ctx): SQLite truncates the -shm file only when it opens it with
 * no connection left anywhere. Anything unexpected (no -shm, an unknown
 * version, a header being written) answers "maybe", and the full check
 * runs. */
#define WAL_INDEX_VERSION 3007000u
#define WAL_HDR_SIZE 48
#define WAL_MAP_SIZE (2 * WAL_HDR_SIZE)

static void wal_index_open(kt_tiles_t *t)
{
	kt_err_t err = {0};
	int64_t id;
	if (kt_ctx_open(t->store, &t->watch_ctx, &err))
		return;
	/* a first read opens the WAL index in this process (and keeps it) */
	sqlite3 *db = kt_ctx_sqlite(t->watch_ctx);
	const char *file = sqlite3_db_filename(db, "main");
	if (kt_changes_last(t->watch_ctx, &id) || !file || !*file)
		return;
	char shm[4096];
	if ((size_t)snprintf(shm, sizeof shm, "%s-shm", file) >= sizeof shm)
		return;
	int fd = open(shm, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return;
	void *m = fstat(fd, &st) || st.st_size < WAL_MAP_SIZE ? MAP_FAILED
	          : mmap(NULL, WAL_MAP_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return;
	uint32_t version;
	memcpy(&version, m, sizeof version);
	if (version != WAL_INDEX_VERSION) {
		munmap(m, WAL_MAP_SIZE);
		return;
	}
	t->wal_index = m;
}

/* A stamp of the WAL index header (FNV-1a 64 of it); 0 when there is no
 * index or its two copies differ (being written: ask SQLite). */
static uint64_t wal_stamp(const kt_tiles_t *t)
{
	if (!t->wal_index)
		return 0;
	unsigned char a[WAL_HDR_SIZE], b[WAL_HDR_SIZE];
	for (int i = 0; i < WAL_HDR_SIZE; i++)
		a[i] = t->wal_index[i];
	atomic_thread_fence(memory_order_acquire);
	for (int i = 0; i < WAL_HDR_SIZE; i++)
		b[i] = t->wal_index[WAL_HDR_SIZE + i];
	if (memcmp(a, b, sizeof a) || !a[12]) /* a[12]: isInit */
		return 0;
	uint64_t h = 1469598103934665603ULL;
	for (int i = 0; i < WAL_HDR_SIZE; i++)
		h = (h ^ a[i]) * 1099511628211ULL;
	return h ? h : 1;
}

static void wal_index_close(kt_tiles_t *t)
{
	if (t->wal_index)
		munmap((void *)t->wal_index, WAL_MAP_SIZE);
	t->wal_index = NULL;
	kt_ctx_close(t->watch_ctx);
	t->watch_ctx = NULL;
}

int kt_tiles_new(kt_store_t *store, const kt_tiles_opts_t *opts, kt_tiles_t **out)
{
	kt_tiles_t *t = kt_calloc(1, sizeof *t);
	if (!t)
		return KT_ENOMEM;
	t->store = store;
	t->opts = *opts;
	pthread_mutex_init(&t->lock, NULL);
	atomic_init(&t->applied, -1);
	const kt_catalogue_t *cat = kt_store_catalogue(store);
	t->n_extents = cat ? cat->n_layers : 0;
	t->extents = kt_calloc(t->n_extents ? t->n_extents : 1, sizeof *t->extents);
	int rc = t->extents ? 0 : KT_ENOMEM;
	if (!rc && opts->cache_bytes)
		rc = kt_tilecache_new(opts->cache_bytes, &t->cache);
	if (!rc)
		wal_index_open(t); /* without it, every sync asks SQLite */
	if (rc) {
		kt_tiles_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

void kt_tiles_free(kt_tiles_t *t)
{
	if (!t)
		return;
	wal_index_close(t);
	kt_tilecache_free(t->cache);
	kt_free(t->extents);
	pthread_mutex_destroy(&t->lock);
	kt_free(t);
}

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int layer_index(const kt_tiles_t *t, const kt_layer_t *l)
{
	const kt_catalogue_t *cat = kt_store_catalogue(t->store);
	for (size_t i = 0; cat && i < cat->n_layers; i++)
		if (cat->layers[i] == l)
			return (int)i;
	return -1;
}

/* Drops the tiles of l's tilesets whose buffered bounds meet the 3857
 * bbox b, at every zoom of the layer. */
static void drop_bbox(kt_tiles_t *t, const kt_layer_t *l, const double b[4])
{
	size_t n = kt_tilecache_invalidate(t->cache, l->name, l->minzoom, l->maxzoom, b,
	                                   KT_TILE_BUFFER);
	n += kt_tilecache_invalidate(t->cache, KT_TILE_COMPOSITE, l->minzoom, l->maxzoom, b,
	                             KT_TILE_BUFFER);
	atomic_fetch_add(&t->invalidated, n);
}

static const double world[4] = {-KT_MERC_HALF, -KT_MERC_HALF, KT_MERC_HALF, KT_MERC_HALF};

static int transform_box(kt_ctx_t *ctx, int from, int to, const double in[4], double out[4]);

/* Drops the tiles a box (store CRS) touches. */
static void drop_store_box(kt_tiles_t *t, kt_ctx_t *ctx, const kt_layer_t *l, const double in[4])
{
	double b[4];
	if (transform_box(ctx, kt_store_epsg(t->store), 3857, in, b))
		memcpy(b, world, sizeof b); /* unreadable: rather all than a stale one */
	drop_bbox(t, l, b);
}

struct apply {
	kt_tiles_t *t;
	kt_ctx_t *ctx;
};

/* One change: the tiles of the old and the new geometry dropped, the
 * layer's extent marked stale. */
static int apply_change(const kt_change_t *c, void *data)
{
	struct apply *a = data;
	kt_tiles_t *t = a->t;
	const kt_layer_t *l = kt_store_layer(t->store, c->layer);
	if (!l || l->geom_type == KT_GEOM_NONE)
		return 0;
	int li = layer_index(t, l);
	if (li >= 0)
		t->extents[li].valid = 0;
	if (!t->cache || !l->is_public || li < 0)
		return 0;
	if (c->has_before)
		drop_store_box(t, a->ctx, l, c->before);
	if (c->has_after)
		drop_store_box(t, a->ctx, l, c->after);
	return 0;
}

/* Applies changes (from, to]; called under t->lock. */
static int apply_changes(kt_tiles_t *t, kt_ctx_t *ctx, int64_t from, int64_t to)
{
	if (t->cache)
		kt_tilecache_gen_bump(t->cache);
	struct apply a = {t, ctx};
	return kt_changes_list(ctx, from, to, apply_change, &a);
}

int kt_tiles_sync(kt_tiles_t *t, kt_ctx_t *ctx)
{
	if (t->opts.poll_ms) {
		int64_t now = now_us(), last = atomic_load(&t->last_poll_us);
		if (now - last < (int64_t)t->opts.poll_ms * 1000)
			return 0;
		atomic_store(&t->last_poll_us, now);
	}
	/* read before the full check: a commit racing with it moves the
	 * header past this stamp, and the next sync looks again */
	uint64_t stamp = wal_stamp(t);
	if (stamp && stamp == atomic_load(&t->seen_stamp))
		return 0; /* nothing committed since a full check */
	int64_t max;
	int rc = kt_changes_last(ctx, &max);
	if (rc)
		return rc;
	if (max <= atomic_load(&t->applied)) {
		atomic_store(&t->seen_stamp, stamp);
		return 0;
	}
	pthread_mutex_lock(&t->lock);
	int64_t applied = atomic_load(&t->applied);
	if (applied < 0) {
		/* first look at the store: nothing cached yet, nothing to drop */
		if (t->cache)
			kt_tilecache_gen_bump(t->cache);
		atomic_store(&t->applied, max);
	} else if (max > applied) {
		rc = apply_changes(t, ctx, applied, max);
		if (!rc)
			atomic_store(&t->applied, max);
	}
	if (!rc)
		atomic_store(&t->seen_stamp, stamp); /* everything up to it applied */
	pthread_mutex_unlock(&t->lock);
	return rc;
}

/* ---- extents --------------------------------------------------------------- */

static int transform_box(kt_ctx_t *ctx, int from, int to, const double in[4], double out[4])
{
	if (from == to) {
		memcpy(out, in, 4 * sizeof *out);
		return 0;
	}
	kt_transform_t *tr;
	int rc = kt_ctx_transform(ctx, from, to, &tr);
	return rc ? rc : kt_transform_bbox(ctx, tr, in, out);
}

static int compute_extent(kt_tiles_t *t, kt_ctx_t *ctx, const kt_layer_t *l,
                          struct kt_layer_extent *e)
{
	/* without condition, the engine reads it from the R*Tree */
	kt_select_t s = {.q = {.layer = l->name}};
	double b[4];
	int rc = kt_features_select_extent(ctx, &s, b);
	e->empty = rc == KT_ENOENT;
	if (e->empty)
		rc = 0;
	else if (!rc)
		rc = transform_box(ctx, kt_store_epsg(t->store), 3857, b, e->merc);
	e->valid = !rc;
	e->lonlat_valid = 0;
	return rc;
}

/* The exact lon/lat extent: every geometry transformed (SpatiaLite),
 * for TileJSON only — the R*Tree box above, transformed, encloses the
 * data but can be wider than it by tens of metres. */
static int compute_lonlat(kt_ctx_t *ctx, const kt_layer_t *l, struct kt_layer_extent *e)
{
	sqlite3 *db = kt_ctx_sqlite(ctx);
	char *sql = sqlite3_mprintf("SELECT MbrMinX(e), MbrMinY(e), MbrMaxX(e), MbrMaxY(e) FROM "
	                            "(SELECT Extent(Transform(geom, 4326)) e FROM \"%w\")", l->name);
	sqlite3_stmt *st = NULL;
	int rc = sql && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK ? 0 : KT_EIO;
	sqlite3_free(sql);
	if (!rc && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		for (int i = 0; i < 4; i++)
			e->lonlat[i] = sqlite3_column_double(st, i);
	} else if (!rc) {
		rc = KT_ECRS;
	}
	sqlite3_finalize(st);
	if (rc)
		return kt_ctx_error(ctx, rc, "%s: %s: %s", __func__, l->name, sqlite3_errmsg(db));
	e->lonlat_valid = 1;
	return 0;
}

int kt_tiles_extent(kt_tiles_t *t, kt_ctx_t *ctx, const kt_layer_t *l, double merc[4],
                    double lonlat[4], int *empty)
{
	int li = layer_index(t, l);
	if (li < 0 || (size_t)li >= t->n_extents)
		return kt_ctx_error(ctx, KT_ENOENT, "%s: no layer %s", __func__, l->name);
	pthread_mutex_lock(&t->lock);
	struct kt_layer_extent *e = &t->extents[li];
	int rc = e->valid ? 0 : compute_extent(t, ctx, l, e);
	if (!rc && lonlat && !e->empty && !e->lonlat_valid)
		rc = compute_lonlat(ctx, l, e);
	if (!rc) {
		memcpy(merc, e->merc, sizeof e->merc);
		if (lonlat)
			memcpy(lonlat, e->lonlat, sizeof e->lonlat);
		*empty = e->empty;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}
