/*
 * tile_watch.c — the server's tile state: the cache, and how it learns
 * that features changed.
 *
 * Every change made through kartenn — API, `kartenn history --restore`,
 * `kartenn import`, in this process or another — goes through the engine,
 * which appends one row to kt_history (ids increase; the row holds the
 * state the change replaced: the old geometry, none for an insert).
 * Before it answers a tile, a worker calls kt_tiles_sync: one indexed
 * `SELECT max(id) FROM kt_history` (a per-thread prepared statement)
 * tells whether anything happened since the last id applied. When
 * something did, one worker at a time (under t->lock) reads the new rows;
 * for each, the old geometry is the row's, the new one the state the next
 * change of the same feature replaced, or else the feature's current row
 * (none once deleted). It drops from the cache the tiles of the layer's
 * tileset and of the composite, at every zoom of the layer's range, whose
 * buffered bounds meet the old or the new geometry's bbox (EPSG:3857).
 * This reads the engine's kt_history and layer tables through the ctx's
 * SQLite handle: a change of their layout must be reflected here (and is
 * caught by tests/integration/test_tiles.sh). Only then is the id marked applied: a worker that saw
 * the new id waits for the invalidation before it looks in the cache, so
 * no tile older than an edit committed before the request began is
 * served. The generation bump before the drop keeps tiles built during
 * the invalidation out of the cache (tilecache.c).
 *
 * Layer extents are computed on first use and again after a change to
 * the layer: in EPSG:3857 from the layer's R*Tree (cheap; encloses the
 * data; cuts down tile queries in tile_build.c), and in lon/lat exactly,
 * from every geometry, only when a TileJSON asks for its bounds.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <geos_c.h>
#include <sqlite3.h>

#include "kt_tiles_int.h"

/* The per-thread statement of the cheap check. */
struct tstate {
	sqlite3 *db;
	sqlite3_stmt *max_id;
};

static void tstate_free(void *p)
{
	struct tstate *s = p;
	if (s) {
		sqlite3_finalize(s->max_id);
		kt_free(s);
	}
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
	if (!rc && pthread_key_create(&t->key, tstate_free))
		rc = KT_EIO;
	else if (!rc)
		t->key_ok = 1;
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
	if (t->key_ok)
		pthread_key_delete(t->key);
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

/* max(id) of kt_history through the thread's cached statement. */
static int history_max(kt_tiles_t *t, kt_ctx_t *ctx, int64_t *max)
{
	sqlite3 *db = kt_ctx_sqlite(ctx);
	struct tstate *s = pthread_getspecific(t->key);
	if (s && s->db != db) {
		tstate_free(s);
		pthread_setspecific(t->key, NULL);
		s = NULL;
	}
	if (!s) {
		s = kt_calloc(1, sizeof *s);
		if (!s)
			return KT_ENOMEM;
		s->db = db;
		if (sqlite3_prepare_v3(db, "SELECT coalesce(max(id), 0) FROM kt_history", -1,
		                       SQLITE_PREPARE_PERSISTENT, &s->max_id, NULL) != SQLITE_OK ||
		    pthread_setspecific(t->key, s)) {
			tstate_free(s);
			return kt_ctx_error(ctx, KT_EIO, "%s: %s", __func__, sqlite3_errmsg(db));
		}
	}
	int rc = sqlite3_step(s->max_id) == SQLITE_ROW ? 0 : KT_EIO;
	*max = sqlite3_column_int64(s->max_id, 0);
	sqlite3_reset(s->max_id);
	return rc ? kt_ctx_error(ctx, rc, "%s: %s", __func__, sqlite3_errmsg(db)) : 0;
}

static int layer_index(const kt_tiles_t *t, const kt_layer_t *l)
{
	const kt_catalogue_t *cat = kt_store_catalogue(t->store);
	for (size_t i = 0; cat && i < cat->n_layers; i++)
		if (cat->layers[i] == l)
			return (int)i;
	return -1;
}

/* bbox of a WKB in EPSG:3857 (geometry transformed, then its envelope). */
static int wkb_bbox_3857(kt_ctx_t *ctx, const void *blob, int len, int epsg, double b[4])
{
	unsigned char *wkb = kt_malloc((size_t)len);
	if (!wkb)
		return KT_ENOMEM;
	memcpy(wkb, blob, (size_t)len);
	int rc = 0;
	if (epsg != 3857) {
		kt_transform_t *tr;
		rc = kt_ctx_transform(ctx, epsg, 3857, &tr);
		if (!rc)
			rc = kt_transform_wkb(ctx, tr, wkb, (size_t)len);
	}
	GEOSContextHandle_t h = kt_ctx_geos(ctx);
	GEOSGeometry *g = rc ? NULL : GEOSGeomFromWKB_buf_r(h, wkb, (size_t)len);
	if (!rc && (!g || GEOSisEmpty_r(h, g) ||
	            !GEOSGeom_getExtent_r(h, g, &b[0], &b[1], &b[2], &b[3])))
		rc = KT_EGEOM;
	if (g)
		GEOSGeom_destroy_r(h, g);
	kt_free(wkb);
	return rc;
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

/* Drops the tiles one geometry (a history row's WKB blob) touched. */
static void drop_wkb(kt_tiles_t *t, kt_ctx_t *ctx, const kt_layer_t *l, const void *blob,
                     int len, int epsg)
{
	double b[4];
	if (!blob || len <= 0)
		return;
	if (wkb_bbox_3857(ctx, blob, len, epsg ? epsg : kt_store_epsg(t->store), b))
		memcpy(b, world, sizeof b); /* unreadable: rather all than a stale one */
	drop_bbox(t, l, b);
}

static int transform_box(kt_ctx_t *ctx, int from, int to, const double in[4], double out[4]);

/* Drops the tiles the current geometry of uid touches (nothing when the
 * feature no longer exists). cur caches one statement per layer. */
static int drop_current(kt_tiles_t *t, kt_ctx_t *ctx, const kt_layer_t *l, int li,
                        const char *uid, sqlite3_stmt **cur)
{
	sqlite3 *db = kt_ctx_sqlite(ctx);
	if (!cur[li]) {
		char *sql = sqlite3_mprintf("SELECT MbrMinX(geom), MbrMinY(geom), MbrMaxX(geom), "
		                            "MbrMaxY(geom) FROM \"%w\" WHERE uid = ?", l->name);
		int ok = sql && sqlite3_prepare_v2(db, sql, -1, &cur[li], NULL) == SQLITE_OK;
		sqlite3_free(sql);
		if (!ok)
			return KT_EIO;
	}
	sqlite3_stmt *st = cur[li];
	sqlite3_bind_text(st, 1, uid, -1, SQLITE_TRANSIENT);
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		double in[4], b[4];
		for (int i = 0; i < 4; i++)
			in[i] = sqlite3_column_double(st, i);
		if (transform_box(ctx, kt_store_epsg(t->store), 3857, in, b))
			memcpy(b, world, sizeof b);
		drop_bbox(t, l, b);
	}
	sqlite3_reset(st);
	return step == SQLITE_ROW || step == SQLITE_DONE ? 0 : KT_EIO;
}

/* The engine's kt_history keeps, in each row, the state the change
 * replaced (none for an insert); the state after a change is the one the
 * next change of the same feature replaced, or the current row. */
static const char rows_sql[] =
	"SELECT id, layer, uid, geom, epsg FROM kt_history WHERE id > ? AND id <= ? ORDER BY id";
static const char next_sql[] =
	"SELECT geom, epsg FROM kt_history WHERE layer = ? AND uid = ? AND id > ? "
	"ORDER BY id LIMIT 1";

/* One history row: the tiles of the old and the new geometry dropped,
 * the layer's extent marked stale. */
static int apply_row(kt_tiles_t *t, kt_ctx_t *ctx, sqlite3_stmt *row, sqlite3_stmt *next,
                     sqlite3_stmt **cur)
{
	const char *name = (const char *)sqlite3_column_text(row, 1);
	const char *uid = (const char *)sqlite3_column_text(row, 2);
	const kt_layer_t *l = name ? kt_store_layer(t->store, name) : NULL;
	if (!l || !uid || l->geom_type == KT_GEOM_NONE)
		return 0;
	int li = layer_index(t, l);
	if (li >= 0)
		t->extents[li].valid = 0;
	if (!t->cache || !l->is_public || li < 0)
		return 0;
	/* before the change */
	drop_wkb(t, ctx, l, sqlite3_column_blob(row, 3), sqlite3_column_bytes(row, 3),
	         sqlite3_column_int(row, 4));
	/* after it: replaced by the next change, or current */
	sqlite3_bind_text(next, 1, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(next, 2, uid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(next, 3, sqlite3_column_int64(row, 0));
	int step = sqlite3_step(next), rc = 0;
	if (step == SQLITE_ROW)
		drop_wkb(t, ctx, l, sqlite3_column_blob(next, 0), sqlite3_column_bytes(next, 0),
		         sqlite3_column_int(next, 1));
	else if (step == SQLITE_DONE)
		rc = drop_current(t, ctx, l, li, uid, cur);
	else
		rc = KT_EIO;
	sqlite3_reset(next);
	return rc;
}

/* Applies rows (from, to]; called under t->lock. */
static int apply_changes(kt_tiles_t *t, kt_ctx_t *ctx, int64_t from, int64_t to)
{
	sqlite3 *db = kt_ctx_sqlite(ctx);
	sqlite3_stmt *row = NULL, *next = NULL;
	sqlite3_stmt **cur = kt_calloc(t->n_extents ? t->n_extents : 1, sizeof *cur);
	if (!cur)
		return kt_ctx_error(ctx, KT_ENOMEM, "%s: out of memory", __func__);
	if (sqlite3_prepare_v2(db, rows_sql, -1, &row, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, next_sql, -1, &next, NULL) != SQLITE_OK) {
		sqlite3_finalize(row);
		kt_free(cur);
		return kt_ctx_error(ctx, KT_EIO, "%s: %s", __func__, sqlite3_errmsg(db));
	}
	if (t->cache)
		kt_tilecache_gen_bump(t->cache);
	sqlite3_bind_int64(row, 1, from);
	sqlite3_bind_int64(row, 2, to);
	int rc = 0, step;
	while (!rc && (step = sqlite3_step(row)) == SQLITE_ROW)
		rc = apply_row(t, ctx, row, next, cur);
	if (!rc && step != SQLITE_DONE)
		rc = KT_EIO;
	if (rc)
		kt_ctx_error(ctx, rc, "%s: %s", __func__, sqlite3_errmsg(db));
	sqlite3_finalize(row);
	sqlite3_finalize(next);
	for (size_t i = 0; i < t->n_extents; i++)
		sqlite3_finalize(cur[i]);
	kt_free(cur);
	return rc;
}

int kt_tiles_sync(kt_tiles_t *t, kt_ctx_t *ctx)
{
	if (t->opts.poll_ms) {
		int64_t now = now_us(), last = atomic_load(&t->last_poll_us);
		if (now - last < (int64_t)t->opts.poll_ms * 1000)
			return 0;
		atomic_store(&t->last_poll_us, now);
	}
	int64_t max;
	int rc = history_max(t, ctx, &max);
	if (rc || max <= atomic_load(&t->applied))
		return rc;
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
	sqlite3 *db = kt_ctx_sqlite(ctx);
	char *sql = sqlite3_mprintf("SELECT min(xmin), min(ymin), max(xmax), max(ymax) "
	                            "FROM \"idx_%w_geom\"", l->name);
	sqlite3_stmt *st = NULL;
	int rc = sql && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK ? 0 : KT_EIO;
	sqlite3_free(sql);
	if (rc)
		return kt_ctx_error(ctx, rc, "%s: %s: %s", __func__, l->name, sqlite3_errmsg(db));
	double b[4] = {0};
	e->empty = 1;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		for (int i = 0; i < 4; i++)
			b[i] = sqlite3_column_double(st, i);
		e->empty = 0;
	}
	sqlite3_finalize(st);
	if (!e->empty)
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
