/*
 * kt_tiles_int.h — the vector-tile pipeline's private interface, shared by
 * its files and the unit tests (tests/unit/test_tiles.c):
 *
 *   tile_grid.c    Web Mercator XYZ grid: tile bounds, tile ranges, keys
 *   tile_geom.c    one feature's geometry (WKB, EPSG:3857) -> MVT command
 *                  stream in integer tile coordinates: clip, simplify,
 *                  quantise, winding, validity
 *   mvt_encode.c   layers, key/value dictionaries, size cap, protobuf-c
 *   tile_build.c   a whole tile of a tileset from the store
 *   tilecache.c    the in-memory cache, bounded in bytes, sharded
 *   tile_watch.c   kt_history polling: exact invalidation, layer extents
 *   tiles.c        the HTTP endpoints (tiles, TileJSON)
 *   mvt_validate.c `kartenn tiles validate` (declared in kt_server.h)
 *
 * Coordinates: "world" is EPSG:3857 metres; "tile" is MVT integer space,
 * x to the east, y downwards, 0..extent inside the tile, the buffer beyond.
 */
#ifndef KT_TILES_INT_H
#define KT_TILES_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "kt_engine.h"

#define KT_TILE_EXTENT 4096
#define KT_TILE_BUFFER 64          /* tile units around the tile */
#define KT_TILE_ZMAX 24
#define KT_MERC_HALF 20037508.342789244 /* half the width of EPSG:3857 */
#define KT_TILE_COMPOSITE "lanester"    /* every public layer in one tile */

/* ---- tile_grid.c ------------------------------------------------------- */

/* Bounds of tile z/x/y in EPSG:3857 (minx, miny, maxx, maxy), grown on each
 * side by buffer tile units (of an extent-4096 tile). */
void kt_tile_bounds(int z, uint32_t x, uint32_t y, double buffer, double out[4]);
/* The tiles of zoom z whose bounds grown by buffer units intersect the
 * world bbox b (3857): r = x0, y0, x1, y1 inclusive. Returns 0 when no tile
 * does (b outside the world or empty), 1 otherwise. */
int kt_tile_range(int z, const double b[4], double buffer, uint32_t r[4]);
/* 1 when z, x, y name a tile of the grid (z <= KT_TILE_ZMAX, x, y < 2^z). */
int kt_tile_in_grid(int z, uint64_t x, uint64_t y);
/* Parses a decimal tile coordinate: digits only, no sign, no leading
 * zero (except "0"), at most 10 digits. Returns 0 or -1. */
int kt_tile_parse_coord(const char *s, uint64_t *out);

/* Store CRS -> tile coordinates around one tile, without PROJ per point:
 * bilinear interpolation in a grid of n x n cells whose (n+1)² nodes were
 * transformed exactly (tile_build.c builds it, and keeps it only when the
 * interpolation error measured at cell centres is within KT_TILE_GRID_TOL
 * tile units). */
#define KT_TILE_GRID_TOL 0.002

typedef struct kt_tile_grid {
	double x0, y0, dx, dy;  /* origin and cell size, store CRS */
	int n;                  /* cells per side */
	double *t;              /* node (i, j) at t[2 * (j * (n + 1) + i)]: tile x, y */
} kt_tile_grid_t;

/* World -> tile transformation of one tile. */
typedef struct kt_tile_xf {
	double minx, maxy;   /* top-left corner of the tile, 3857 */
	double scale;        /* tile units per metre */
	int extent, buffer;  /* tile units */
	int z;
	const kt_tile_grid_t *grid; /* NULL: the input is EPSG:3857 (affine);
	                      * else the input is in the store CRS and lies
	                      * in the grid */
} kt_tile_xf_t;

/* Tile coordinates of a world point under xf (affine, or the grid's
 * interpolation). */
void kt_tile_xf_apply(const kt_tile_xf_t *xf, double *x, double *y);

void kt_tile_xf_init(kt_tile_xf_t *xf, int z, uint32_t x, uint32_t y);

/* ---- tile_geom.c ------------------------------------------------------- */

/* A feature's geometry encoded as an MVT command stream. */
typedef struct kt_tgeom {
	int type;            /* 1 point, 2 linestring, 3 polygon (MVT) */
	uint32_t *cmd;       /* command and parameter integers (kt_malloc) */
	size_t n, cap;
	double measure;      /* area (polygons, tile units²), length (lines),
	                      * 0 (points): the size-cap drop order */
	int repaired;        /* make-valid had to repair it after quantising */
	struct kt_tgeom_scratch *scratch; /* buffers reused from feature to
	                      * feature (tile_geom.c); NULL in a fresh one */
} kt_tgeom_t;

void kt_tgeom_reset(kt_tgeom_t *g);   /* empties, keeps the buffer */
void kt_tgeom_release(kt_tgeom_t *g); /* frees the buffer */

/* Encodes an ISO WKB geometry into tile coordinates of xf (the WKB is in
 * EPSG:3857, or in the store CRS when xf has a grid). Points, and polygons
 * of one part (most features), are read straight from the WKB without
 * GEOS: points are rounded, points outside the buffered tile dropped;
 * each ring is clipped to the buffered tile (Sutherland-Hodgman),
 * simplified to half a tile unit (Douglas-Peucker) and rounded, and the
 * polygon is kept when its rings are still simple and apart (checked
 * exactly on the integers), which makes it valid. Lines, multipolygons and
 * every polygon the fast path declines are clipped to the buffered tile
 * (GEOSClipByRect), simplified to half a tile unit (polygons:
 * topology-preserving), snapped to the integer grid with GEOS's precision
 * reducer when rounding breaks them (it keeps polygons valid and removes
 * collapsed parts). Either way they are written with repeated points and
 * zero-length segments removed, exterior rings clockwise on screen
 * (positive surveyor's area with y down), each followed by its holes
 * (negative area). A polygon that is still invalid (GEOSisValid) after
 * that is repaired with make-valid and snapped again, and dropped if that
 * fails too.
 * Returns 1 with g filled, 0 when nothing is left in the tile (g->n == 0),
 * or a negative KT_E* code. geos is a GEOSContextHandle_t. */
int kt_tile_geom_encode(void *geos, const kt_tile_xf_t *xf, const unsigned char *wkb,
                        size_t len, kt_tgeom_t *g);

/* The bounds (minx, miny, maxx, maxy) of the coordinates of a WKB
 * geometry. Returns 0, or KT_EGEOM when it is malformed or empty. */
int kt_wkb_bounds(const unsigned char *wkb, size_t len, double out[4]);

/* Signed surveyor's area of a ring of n points (x0,y0,x1,y1…), not
 * repeating the first point: > 0 clockwise on screen (y down). */
double kt_ring_area(const int64_t *xy, size_t n);

/* ---- mvt_encode.c ------------------------------------------------------ */

typedef struct kt_mvt kt_mvt_t;

/* A tile under construction: layers, features, dictionaries. */
kt_mvt_t *kt_mvt_new(unsigned extent);
void kt_mvt_free(kt_mvt_t *t);
/* Starts a new layer (names must be unique in a tile; KT_EEXIST). */
int kt_mvt_layer(kt_mvt_t *t, const char *name);
/* Adds a feature to the current layer; copies g's commands. */
int kt_mvt_feature(kt_mvt_t *t, uint64_t id, const kt_tgeom_t *g);
/* Adds a property to the last feature (deduplicated keys and values).
 * A NULL value (kt_value_t is_null) is not written: MVT has no null. */
int kt_mvt_prop(kt_mvt_t *t, const char *key, const kt_value_t *v);
int kt_mvt_prop_text(kt_mvt_t *t, const char *key, const char *s);
size_t kt_mvt_feature_count(const kt_mvt_t *t);
/* Serialises the tile; when it would exceed max_bytes (0 = no cap),
 * features are dropped first: lines and polygons before points, smaller
 * before larger (length for lines, square root of the area for polygons,
 * so both compare as lengths in tile units), and among equals the later
 * one in the layer first; points go last, the later first. *dropped
 * receives how many were dropped. *out is kt_malloc'd; an empty tile (no
 * feature) gives *out NULL and *len 0. */
int kt_mvt_serialize(kt_mvt_t *t, size_t max_bytes, unsigned char **out, size_t *len,
                     size_t *dropped);

/* ---- tile_build.c ------------------------------------------------------ */

typedef struct kt_tiles kt_tiles_t;

typedef struct kt_tile_stats {
	size_t features;   /* features in the tile */
	size_t dropped;    /* dropped by the size cap */
	size_t repaired;   /* geometries repaired after quantisation */
	size_t invalid;    /* geometries dropped as unrepairable */
} kt_tile_stats_t;

/* The layers of a tileset: a public layer, or the composite (every public
 * layer with a geometry). Returns the count (0: unknown or private);
 * layers receives at most max pointers. */
size_t kt_tileset_layers(const kt_store_t *store, const char *tileset,
                         const kt_layer_t **layers, size_t max);

/* Builds tile z/x/y of the given layers (those whose zoom range holds z).
 * *out (kt_malloc'd) is NULL with *len 0 when the tile has no feature. */
int kt_tile_build(kt_ctx_t *ctx, kt_tiles_t *tiles, const kt_layer_t *const *layers,
                  size_t n_layers, int z, uint32_t x, uint32_t y, unsigned char **out,
                  size_t *len, kt_tile_stats_t *stats);


/* ---- tilecache.c ------------------------------------------------------- */

typedef struct kt_tilecache kt_tilecache_t;

/* Answers an entry can keep ready (tiles.c): identity and gzip. */
enum { KT_TILE_ANSWER_RAW, KT_TILE_ANSWER_GZ, KT_TILE_ANSWERS };

/* A cached tile: raw bytes, gzipped bytes, ETag. Refcounted: an entry
 * found by kt_tilecache_get stays valid until kt_tilecache_unref. */
typedef struct kt_tile_entry {
	char tileset[128];
	int z;
	uint32_t x, y;
	unsigned char *raw;  /* NULL/0 for an empty tile (204) */
	size_t raw_len;
	unsigned char *gz;   /* gzip of raw; NULL when raw is, or when the
	                      * entry was made without it */
	size_t gz_len;
	char etag[24];       /* "\"<16 hex digits>\"" */
	atomic_int refs;
	/* ready HTTP answers of this tile, made once by their first user and
	 * shared (tiles.c); answer_free releases them when the entry goes */
	_Atomic(void *) answers[KT_TILE_ANSWERS];
	void (*answer_free)(void *answer);
	/* cache bookkeeping */
	struct kt_tile_entry *hnext, *prev, *next;
	uint64_t hash;
	size_t bytes;
} kt_tile_entry_t;

/* A cache of at most max_bytes (entries, their bytes and overhead). */
int kt_tilecache_new(size_t max_bytes, kt_tilecache_t **out);
void kt_tilecache_free(kt_tilecache_t *c);
/* A new entry (refs 1) owning raw (kt_malloc'd, may be NULL) — computes
 * the gzip and the ETag. */
int kt_tile_entry_new(const char *tileset, int z, uint32_t x, uint32_t y, unsigned char *raw,
                      size_t raw_len, kt_tile_entry_t **out);
/* The same without the gzip (gz NULL): for a tile answered once, to a
 * client that may not want it. */
int kt_tile_entry_new_raw(const char *tileset, int z, uint32_t x, uint32_t y,
                          unsigned char *raw, size_t raw_len, kt_tile_entry_t **out);
/* Adds the gzip to an entry made by kt_tile_entry_new_raw, before anyone
 * else sees it (not in a cache yet). No-op when it has one or is empty. */
int kt_tile_entry_gzip(kt_tile_entry_t *e);
void kt_tilecache_unref(kt_tile_entry_t *e);
/* The entry of a tile with one more reference, or NULL. */
kt_tile_entry_t *kt_tilecache_get(kt_tilecache_t *c, const char *tileset, int z, uint32_t x,
                                  uint32_t y);
/* Inserts e (the cache takes a reference of its own) unless the cache's
 * generation moved past gen (an invalidation ran while the tile was being
 * built: it may be stale) or e alone exceeds the bound. Evicts least
 * recently used entries to stay within max_bytes. Returns 1 inserted, 0
 * not. */
int kt_tilecache_put(kt_tilecache_t *c, kt_tile_entry_t *e, uint64_t gen);
/* Generation: incremented before each invalidation. */
uint64_t kt_tilecache_gen(kt_tilecache_t *c);
void kt_tilecache_gen_bump(kt_tilecache_t *c);
/* Drops the cached tiles of tileset at zooms zmin..zmax whose bounds,
 * grown by buffer units, intersect the world bbox b. Returns how many. */
size_t kt_tilecache_invalidate(kt_tilecache_t *c, const char *tileset, int zmin, int zmax,
                               const double b[4], double buffer);
size_t kt_tilecache_bytes(kt_tilecache_t *c);
size_t kt_tilecache_count(kt_tilecache_t *c);

/* ---- tile_watch.c: the server's tile state ----------------------------- */

typedef struct kt_tiles_opts {
	size_t cache_bytes;     /* 0: no cache */
	size_t max_tile_bytes;  /* size cap of a tile */
	unsigned poll_ms;       /* history poll at most every poll_ms (0: each
	                         * request) */
} kt_tiles_opts_t;

struct kt_tiles {
	kt_store_t *store;      /* borrowed */
	kt_tiles_opts_t opts;
	kt_tilecache_t *cache;  /* NULL when disabled */
	pthread_mutex_t lock;   /* serialises invalidation and extents */
	atomic_int_fast64_t applied;   /* last change id applied (kt_changes_last) */
	atomic_int_fast64_t last_poll_us;
	/* the store's WAL index, read to tell in a few nanoseconds that no
	 * transaction committed since the last look (tile_watch.c) */
	kt_ctx_t *watch_ctx;            /* holds the WAL index open; NULL: none */
	const volatile unsigned char *wal_index; /* mmap of its header, or NULL */
	atomic_uint_fast64_t seen_stamp; /* header stamp of the last full check */
	/* extents per catalogue layer (index as in the catalogue) */
	struct kt_layer_extent {
		int valid;      /* computed since the last change */
		int empty;      /* no feature */
		double merc[4]; /* EPSG:3857 */
		int lonlat_valid; /* lonlat computed since merc was */
		double lonlat[4];
	} *extents;
	size_t n_extents;
	atomic_uint_fast64_t invalidated; /* tiles dropped by edits (metrics) */
	atomic_uint_fast64_t hits;        /* tiles answered from the cache */
	atomic_uint_fast64_t built;       /* tiles built from the store */
	atomic_uint_fast64_t capped;      /* features dropped by the size cap */
};

int kt_tiles_new(kt_store_t *store, const kt_tiles_opts_t *opts, kt_tiles_t **out);
void kt_tiles_free(kt_tiles_t *t);
/* Applies the changes recorded in kt_history since the last call (every
 * poll_ms at most): drops the cached tiles each change touched, at every
 * zoom, for the old and the new geometry, and marks the layer's extent for
 * recomputation. Cheap when nothing changed: a read of the store's WAL
 * index header (no transaction committed since the last full check), else
 * one indexed SELECT max(id). */
int kt_tiles_sync(kt_tiles_t *t, kt_ctx_t *ctx);
/* The extent of a layer in EPSG:3857 (enclosing) and, when lonlat is not
 * NULL, in lon/lat (exact, costlier); *empty when it has no feature. */
int kt_tiles_extent(kt_tiles_t *t, kt_ctx_t *ctx, const kt_layer_t *l, double merc[4],
                    double lonlat[4], int *empty);

#endif /* KT_TILES_INT_H */
