/*
 * tiles.c — the vector-tile endpoints:
 *   GET /tiles/{tileset}/{z}/{x}/{y}.mvt   a Mapbox Vector Tile 2.1
 *   GET /tiles/{tileset}.json              its TileJSON 3.0.0
 *
 * A tileset is a public layer with a geometry, or "lanester", the
 * composite of all of them (one MVT layer each). Answers:
 *   200  the tile; gzip (Content-Encoding) when Accept-Encoding allows it;
 *        ETag (a hash of the tile's bytes), Cache-Control "public,
 *        no-cache" (or max-age, --tile-max-age), Vary: Accept-Encoding,
 *        X-Kartenn-Cache: hit|miss
 *   204  the tile holds no feature (empty area): no body, with its ETag
 *   304  If-None-Match names the current ETag
 *   400  malformed z, x or y (not a plain decimal number), or a tile
 *        outside the grid (z > 24, x or y >= 2^z)
 *   404  no such tileset — unknown and private layers answer the same —
 *        or, for a single-layer tileset, a zoom outside the layer's range
 *        (the TileJSON gives the range; the composite has every zoom 0..24
 *        and leaves out the layers whose range does not hold z)
 * Errors are JSON problems (kt_respond_problem).
 *
 * Before every tile the history is checked (kt_tiles_sync), so a tile
 * cached before an edit is never served after it; the cache is read and
 * filled here, the tile built by tile_build.c.
 *
 * A cache hit costs little: a cached entry keeps its answers ready (one
 * libmicrohttpd response for each encoding, headers included, made by
 * the first request that needs it) and every hit queues that same
 * response; the request keeps a reference on the entry until the answer
 * is sent, so eviction never frees bytes being sent. A miss is built on
 * the work pool (workpool.c), so a slow tile does not hold the cache hits
 * of its worker thread; the bytes are gzipped only when a client can use
 * them (Accept-Encoding) or the cache keeps them.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <microhttpd.h>

#include "kt_server_int.h"
#include "kt_tiles_int.h"

#define DEFAULT_CACHE_BYTES (64u * 1024 * 1024)
#define DEFAULT_TILE_MAX (500u * 1024)
#define MVT_TYPE "application/vnd.mapbox-vector-tile"

int kt_tiles_attach(kt_server_t *srv, kt_err_t *err)
{
	kt_tiles_opts_t o = {
		.cache_bytes = srv->opts.tile_cache_off ? 0
		               : srv->opts.tile_cache_bytes ? srv->opts.tile_cache_bytes
		                                            : DEFAULT_CACHE_BYTES,
		.max_tile_bytes = srv->opts.tile_max_bytes ? srv->opts.tile_max_bytes
		                                           : DEFAULT_TILE_MAX,
		.poll_ms = srv->opts.tile_poll_ms,
	};
	unsigned max_age = srv->opts.tile_max_age_s;
	if (max_age)
		snprintf(srv->tile_cache_control, sizeof srv->tile_cache_control,
		         "public, max-age=%u", max_age);
	else
		snprintf(srv->tile_cache_control, sizeof srv->tile_cache_control,
		         "public, no-cache");
	int rc = kt_tiles_new(srv->store, &o, &srv->tiles);
	if (rc && err) {
		err->code = rc;
		snprintf(err->msg, sizeof err->msg, "%s: cannot set up the tile cache: %s", __func__,
		         kt_strerror(rc));
	}
	return rc;
}

void kt_tiles_detach(kt_server_t *srv)
{
	kt_tiles_free(srv->tiles);
	srv->tiles = NULL;
}

/* 1 when the comma-separated list of entity tags inm names etag. */
static int etag_matches(const char *inm, const char *etag)
{
	size_t n = strlen(etag);
	for (const char *p = inm; p && *p;) {
		p += strspn(p, " \t,");
		if (*p == '*')
			return 1;
		if (!strncmp(p, "W/", 2))
			p += 2;
		if (!strncmp(p, etag, n))
			return 1;
		p = strchr(p, ',');
	}
	return 0;
}

/* 1 when Accept-Encoding allows gzip (a "gzip", "x-gzip" or "*" entry
 * whose q is not 0). */
static int accepts_gzip(const char *ae)
{
	for (const char *p = ae; p && *p;) {
		p += strspn(p, " \t,");
		size_t tok = strcspn(p, " \t;,");
		int match = (tok == 4 && !strncasecmp(p, "gzip", 4)) ||
		            (tok == 6 && !strncasecmp(p, "x-gzip", 6)) || (tok == 1 && *p == '*');
		const char *end = p + strcspn(p, ",");
		const char *q = strstr(p, "q=");
		int zero = 0;
		if (q && q < end) {
			double v = 1;
			sscanf(q + 2, "%lf", &v);
			zero = v <= 0;
		}
		if (match && !zero)
			return 1;
		p = end;
	}
	return 0;
}

static void entry_release(void *e)
{
	kt_tilecache_unref(e);
}

static void answer_free(void *r)
{
	MHD_destroy_response(r);
}

/* The tile's own headers on r (the common ones are added by the caller). */
static int tile_headers(struct MHD_Response *r, const kt_tile_entry_t *e, int gz, int hit)
{
	int ok = (!e->raw_len ||
	          MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, MVT_TYPE) == MHD_YES) &&
	         MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, e->etag) == MHD_YES &&
	         MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding") == MHD_YES &&
	         (!gz || MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip") ==
	                 MHD_YES) &&
	         /* for the tests and benchmarks: was the tile cached? */
	         MHD_add_response_header(r, "X-Kartenn-Cache", hit ? "hit" : "miss") == MHD_YES;
	return ok ? 0 : KT_ENOMEM;
}

/* The ready answer of a cached entry in one encoding, made on first use:
 * it points into the entry's bytes and lives as long as the entry. NULL
 * when it cannot be made (the caller answers the slow way). */
static struct MHD_Response *ready_answer(const kt_server_t *srv, kt_tile_entry_t *e, int gz)
{
	_Atomic(void *) *slot = &e->answers[gz ? KT_TILE_ANSWER_GZ : KT_TILE_ANSWER_RAW];
	struct MHD_Response *r = atomic_load(slot);
	if (r || e->answer_free != answer_free)
		return r;
	r = MHD_create_response_from_buffer(gz ? e->gz_len : e->raw_len,
	                                    gz ? e->gz : e->raw, MHD_RESPMEM_PERSISTENT);
	if (!r)
		return NULL;
	if (tile_headers(r, e, gz, 1) ||
	    kt_response_common_headers(srv, r, srv->tile_cache_control)) {
		MHD_destroy_response(r);
		return NULL;
	}
	void *none = NULL;
	if (!atomic_compare_exchange_strong(slot, &none, r)) {
		MHD_destroy_response(r); /* another request made it first */
		r = none;
	}
	return r;
}

/* Answers from e, whose reference the request takes over: 304 when the
 * client has it, 204 for an empty tile, else 200 with the bytes in the
 * encoding the client accepts — a hit with the entry's ready answer. */
static int answer_entry(kt_request_t *req, kt_tile_entry_t *e, int hit)
{
	kt_req_keep(req, e, entry_release); /* the answer points into e */
	req->cache_control = req->srv->tile_cache_control;
	const char *inm = kt_req_header(req, "If-None-Match");
	int not_modified = inm && etag_matches(inm, e->etag);
	int gz = !not_modified && e->raw_len && e->gz &&
	         accepts_gzip(kt_req_header(req, "Accept-Encoding"));
	unsigned status = not_modified ? 304 : e->raw_len ? 200 : 204;
	size_t len = status != 200 ? 0 : gz ? e->gz_len : e->raw_len;
	if (hit && !not_modified) {
		struct MHD_Response *r = ready_answer(req->srv, e, gz);
		if (r)
			return kt_respond_shared(req, status, r, len);
	}
	int rc = kt_respond(req, status, status == 200 ? MVT_TYPE : NULL,
	                    status != 200 ? NULL : gz ? e->gz : e->raw, len, KT_BUF_STATIC);
	if (!rc) /* the content type is set above (none for 204/304) */
		rc = kt_respond_header(req, "ETag", e->etag);
	if (!rc)
		rc = kt_respond_header(req, "Vary", "Accept-Encoding");
	if (!rc && gz)
		rc = kt_respond_header(req, "Content-Encoding", "gzip");
	if (!rc) /* for the tests and benchmarks: was the tile cached? */
		rc = kt_respond_header(req, "X-Kartenn-Cache", hit ? "hit" : "miss");
	return rc;
}

/* The layers of the request's tileset, or an answered 404 (*n = 0). */
static int tileset_of(kt_request_t *req, const char *tileset, const kt_layer_t ***layers,
                      size_t *n)
{
	const kt_catalogue_t *cat = kt_store_catalogue(req->srv->store);
	size_t max = cat && cat->n_layers ? cat->n_layers : 1;
	*layers = kt_arena_alloc(&req->arena, max * sizeof **layers);
	if (!*layers)
		return KT_ENOMEM;
	*n = kt_tileset_layers(req->srv->store, tileset, *layers, max);
	if (!*n)
		return kt_respond_problem(req, 404, "no tileset named '%.64s' (a public layer with a "
		                          "geometry, or '%s')", tileset, KT_TILE_COMPOSITE);
	return 0;
}

/* Parses z/x/y; answers 400 and returns 0 when they are not a tile. */
static int parse_tile(kt_request_t *req, int *z, uint32_t *x, uint32_t *y, int *rc)
{
	uint64_t zz, xx, yy;
	*rc = 0;
	if (kt_tile_parse_coord(kt_req_param(req, "z"), &zz) ||
	    kt_tile_parse_coord(kt_req_param(req, "x"), &xx) ||
	    kt_tile_parse_coord(kt_req_param(req, "y"), &yy)) {
		*rc = kt_respond_problem(req, 400, "z, x and y must be decimal numbers: "
		                         "/tiles/{tileset}/{z}/{x}/{y}.mvt");
		return 0;
	}
	if (zz > KT_TILE_ZMAX || !kt_tile_in_grid((int)zz, xx, yy)) {
		*rc = kt_respond_problem(req, 400, "tile %llu/%llu/%llu is outside the grid "
		                         "(z <= %d, x and y < 2^z)", (unsigned long long)zz,
		                         (unsigned long long)xx, (unsigned long long)yy, KT_TILE_ZMAX);
		return 0;
	}
	*z = (int)zz;
	*x = (uint32_t)xx;
	*y = (uint32_t)yy;
	return 1;
}

/* A tile to build on the work pool: what the handler found out. */
typedef struct build_job {
	const char *tileset;
	const kt_layer_t **layers;
	size_t n;
	int z;
	uint32_t x, y;
	uint64_t gen;       /* cache generation before the build */
} build_job_t;

/* Builds the tile and wraps it in an entry (cached when possible). The
 * gzip is made for the cache, or for a client that accepts it. */
static int tile_make(kt_request_t *req, kt_ctx_t *ctx, const build_job_t *j,
                     kt_tile_entry_t **e)
{
	kt_tiles_t *t = req->srv->tiles;
	unsigned char *raw = NULL;
	size_t len = 0;
	kt_tile_stats_t st;
	int rc = kt_tile_build(ctx, t, j->layers, j->n, j->z, j->x, j->y, &raw, &len, &st);
	if (rc) {
		dprintf(STDERR_FILENO, "kartenn: tiles: %s/%d/%u/%u: %s\n", j->tileset, j->z, j->x,
		        j->y, kt_errmsg(ctx));
		return rc;
	}
	atomic_fetch_add(&t->built, 1);
	atomic_fetch_add(&t->capped, st.dropped);
	if (st.dropped && !req->srv->opts.quiet)
		dprintf(STDERR_FILENO, "kartenn: tiles: %s/%d/%u/%u: size cap: %zu features dropped, "
		        "%zu kept\n", j->tileset, j->z, j->x, j->y, st.dropped, st.features);
	rc = kt_tile_entry_new_raw(j->tileset, j->z, j->x, j->y, raw, len, e);
	if (!rc && (t->cache || accepts_gzip(kt_req_header(req, "Accept-Encoding"))) &&
	    (rc = kt_tile_entry_gzip(*e))) {
		kt_tilecache_unref(*e);
		return rc;
	}
	if (!rc && t->cache) {
		(*e)->answer_free = answer_free; /* before anyone else sees it */
		kt_tilecache_put(t->cache, *e, j->gen);
	}
	return rc;
}

/* The work pool's part of a miss: build, cache, answer. */
static int tile_build_job(kt_request_t *req, kt_ctx_t *ctx, void *data)
{
	kt_tile_entry_t *e;
	int rc = tile_make(req, ctx, data, &e);
	if (rc)
		return rc == KT_ENOMEM ? rc : kt_respond_problem(req, 500, "the tile could not be "
		                                                 "built (%s)", kt_strerror(rc));
	return answer_entry(req, e, 0);
}

int kt_tiles_get(kt_request_t *req)
{
	const char *tileset = kt_req_param(req, "tileset");
	int z, rc;
	uint32_t x, y;
	if (!parse_tile(req, &z, &x, &y, &rc))
		return rc;
	const kt_layer_t **layers;
	size_t n;
	if ((rc = tileset_of(req, tileset, &layers, &n)) || !n)
		return rc;
	if (strcmp(tileset, KT_TILE_COMPOSITE) && (z < layers[0]->minzoom || z > layers[0]->maxzoom))
		return kt_respond_problem(req, 404, "layer '%s' has tiles at zooms %d to %d only",
		                          layers[0]->name, layers[0]->minzoom, layers[0]->maxzoom);
	const char *why = NULL;
	kt_ctx_t *ctx = kt_req_ctx(req, &why);
	if (!ctx)
		return kt_respond_problem(req, 503, "the store cannot be opened: %s", why);
	kt_tiles_t *t = req->srv->tiles;
	if ((rc = kt_tiles_sync(t, ctx))) {
		dprintf(STDERR_FILENO, "kartenn: tiles: %s\n", kt_errmsg(ctx));
		return kt_respond_problem(req, 503, "the store's history cannot be read");
	}
	uint64_t gen = t->cache ? kt_tilecache_gen(t->cache) : 0;
	kt_tile_entry_t *e = t->cache ? kt_tilecache_get(t->cache, tileset, z, x, y) : NULL;
	if (e) {
		atomic_fetch_add(&t->hits, 1);
		return answer_entry(req, e, 1);
	}
	build_job_t *j = kt_arena_alloc(&req->arena, sizeof *j);
	if (!j)
		return KT_ENOMEM;
	*j = (build_job_t){tileset, layers, n, z, x, y, gen};
	return kt_req_defer(req, tile_build_job, j);
}

size_t kt_tiles_metrics(const kt_server_t *srv, char *buf, size_t size)
{
	kt_tiles_t *t = srv->tiles;
	if (!t || !size)
		return 0;
	int n = snprintf(buf, size,
		"# HELP kartenn_tiles_total Vector tiles answered, by origin.\n"
		"# TYPE kartenn_tiles_total counter\n"
		"kartenn_tiles_total{from=\"cache\"} %llu\n"
		"kartenn_tiles_total{from=\"store\"} %llu\n"
		"# HELP kartenn_tiles_invalidated_total Cached tiles dropped because a feature "
		"in them changed.\n"
		"# TYPE kartenn_tiles_invalidated_total counter\n"
		"kartenn_tiles_invalidated_total %llu\n"
		"# HELP kartenn_tiles_capped_features_total Features left out of tiles by the "
		"size cap.\n"
		"# TYPE kartenn_tiles_capped_features_total counter\n"
		"kartenn_tiles_capped_features_total %llu\n"
		"# HELP kartenn_tile_cache_bytes Bytes held by the tile cache (bound %zu).\n"
		"# TYPE kartenn_tile_cache_bytes gauge\n"
		"kartenn_tile_cache_bytes %zu\n"
		"# HELP kartenn_tile_cache_tiles Tiles held by the tile cache.\n"
		"# TYPE kartenn_tile_cache_tiles gauge\n"
		"kartenn_tile_cache_tiles %zu\n",
		(unsigned long long)atomic_load(&t->hits), (unsigned long long)atomic_load(&t->built),
		(unsigned long long)atomic_load(&t->invalidated),
		(unsigned long long)atomic_load(&t->capped), t->opts.cache_bytes,
		t->cache ? kt_tilecache_bytes(t->cache) : 0,
		t->cache ? kt_tilecache_count(t->cache) : 0);
	return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

/* ---- TileJSON ---------------------------------------------------------------- */

/* "http://host" from the Host header when it is a plain host[:port],
 * else the server's own URL. */
static const char *base_url(kt_request_t *req)
{
	const char *host = kt_req_header(req, "Host");
	const char *proto = kt_req_header(req, "X-Forwarded-Proto");
	if (!proto || (strcmp(proto, "https") && strcmp(proto, "http")))
		proto = "http";
	if (host && *host && strlen(host) < 256 &&
	    strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") ==
	    strlen(host))
		return kt_arena_printf(&req->arena, "%s://%s", proto, host);
	size_t n = strlen(req->srv->url);
	return kt_arena_strndup(&req->arena, req->srv->url, n ? n - 1 : 0); /* no final '/' */
}

static const char *field_type(kt_attr_type_t t)
{
	switch (t) {
	case KT_ATTR_INTEGER:
	case KT_ATTR_REAL: return "Number";
	case KT_ATTR_BOOLEAN: return "Boolean";
	default: return "String";
	}
}

/* One entry of vector_layers: its public fields, never a private one.
 * The feature's identity is the MVT feature id (its fid), not a field. */
static json_t *vector_layer(const kt_layer_t *l)
{
	json_t *fields = json_object();
	for (size_t i = 0; fields && i < l->n_attrs; i++)
		if (l->attrs[i].is_public)
			json_object_set_new(fields, l->attrs[i].name,
			                    json_string(field_type(l->attrs[i].type)));
	if (fields && l->network != KT_NETWORK_NONE)
		json_object_set_new(fields, "dtdict_class", json_string("String"));
	return json_pack("{s:s, s:s, s:i, s:i, s:o}", "id", l->name, "description",
	                 l->title ? l->title : l->name, "minzoom", l->minzoom, "maxzoom",
	                 l->maxzoom, "fields", fields);
}

/* "© Ville de Lanester (Licence Ouverte 2.0)", each distinct one once. */
static json_t *attribution(const kt_layer_t **layers, size_t n)
{
	char buf[2048] = "";
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		char one[512];
		snprintf(one, sizeof one, "© %s (%s)", layers[i]->attribution ? layers[i]->attribution
		         : "Ville de Lanester", layers[i]->licence ? layers[i]->licence
		         : "Licence Ouverte 2.0");
		if (strstr(buf, one))
			continue;
		len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", len ? "; " : "", one);
		if (len >= sizeof buf)
			break;
	}
	return json_string(buf);
}

/* Union of the layers' lon/lat extents; the world when none has data. */
static int bounds(kt_request_t *req, kt_ctx_t *ctx, const kt_layer_t **layers, size_t n,
                  double b[4])
{
	int any = 0;
	for (size_t i = 0; i < n; i++) {
		double merc[4], ll[4];
		int empty = 0;
		int rc = kt_tiles_extent(req->srv->tiles, ctx, layers[i], merc, ll, &empty);
		if (rc)
			return rc;
		if (empty)
			continue;
		if (!any) {
			memcpy(b, ll, sizeof ll);
		} else {
			b[0] = ll[0] < b[0] ? ll[0] : b[0];
			b[1] = ll[1] < b[1] ? ll[1] : b[1];
			b[2] = ll[2] > b[2] ? ll[2] : b[2];
			b[3] = ll[3] > b[3] ? ll[3] : b[3];
		}
		any = 1;
	}
	if (!any) {
		b[0] = -180;
		b[1] = -85.0511287798066;
		b[2] = 180;
		b[3] = 85.0511287798066;
	}
	return 0;
}

int kt_tilejson_get(kt_request_t *req)
{
	const char *tileset = kt_req_param(req, "tileset");
	const kt_layer_t **layers;
	size_t n;
	int rc;
	if ((rc = tileset_of(req, tileset, &layers, &n)) || !n)
		return rc;
	const char *why = NULL;
	kt_ctx_t *ctx = kt_req_ctx(req, &why);
	if (!ctx)
		return kt_respond_problem(req, 503, "the store cannot be opened: %s", why);
	double b[4];
	if ((rc = kt_tiles_sync(req->srv->tiles, ctx)) || (rc = bounds(req, ctx, layers, n, b))) {
		dprintf(STDERR_FILENO, "kartenn: tilejson: %s\n", kt_errmsg(ctx));
		return kt_respond_problem(req, 503, "the extent of the data cannot be read");
	}
	int single = strcmp(tileset, KT_TILE_COMPOSITE) != 0;
	int zmin = KT_TILE_ZMAX, zmax = 0;
	json_t *vl = json_array();
	for (size_t i = 0; vl && i < n; i++) {
		zmin = layers[i]->minzoom < zmin ? layers[i]->minzoom : zmin;
		zmax = layers[i]->maxzoom > zmax ? layers[i]->maxzoom : zmax;
		json_array_append_new(vl, vector_layer(layers[i]));
	}
	const char *base = base_url(req);
	char *url = base ? kt_arena_printf(&req->arena, "%s/tiles/%s/{z}/{x}/{y}.mvt", base,
	                                   tileset) : NULL;
	if (!url) {
		json_decref(vl);
		return KT_ENOMEM;
	}
	int cz = zmin > 14 ? zmin : 14 < zmax ? 14 : zmax;
	json_t *j = json_pack(
		"{s:s, s:s, s:s, s:s, s:o, s:s, s:[s], s:i, s:i, s:[f,f,f,f], s:[f,f,i], s:o}",
		"tilejson", "3.0.0", "name", single ? (layers[0]->title ? layers[0]->title
		: layers[0]->name) : "Lanester", "description", single && layers[0]->abstract
		? layers[0]->abstract : "Couches publiques de la ville de Lanester", "version", "1.0.0",
		"attribution", attribution(layers, n), "scheme", "xyz", "tiles", url, "minzoom", zmin,
		"maxzoom", zmax, "bounds", b[0], b[1], b[2], b[3], "center", (b[0] + b[2]) / 2,
		(b[1] + b[3]) / 2, cz, "vector_layers", vl);
	req->cache_control = "no-cache";
	return kt_respond_json(req, 200, j);
}
