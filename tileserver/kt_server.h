/*
 * kt_server.h — the public interface of kartenn's HTTP server.
 *
 * The server is a libmicrohttpd thread pool (epoll) sized to the cores.
 * It serves one open kt_store_t: each worker thread opens its own kt_ctx_t
 * on the store the first time it answers a request, and closes it when the
 * thread ends (at kt_server_stop); so does each thread of the pool that
 * builds tiles that are not cached (build_threads). Endpoints (health, catalogue, metrics,
 * and later tiles, OGC services, pages) live in the module, one family per
 * file, behind a route table; nothing here needs to change to add one.
 *
 * Ownership: the caller opens the store, starts the server on it, stops
 * the server, then closes the store. The store must outlive the server.
 */
#ifndef KT_SERVER_H
#define KT_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "kt_engine.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kt_server kt_server_t;

/* Options of a server; zero fields take the default shown. */
typedef struct kt_server_opts {
	const char *bind;          /* address to listen on; "127.0.0.1". IPv4 or
	                            * IPv6 literal, or a host name */
	int port;                  /* TCP port, 0..65535; -1 = 8080. 0 picks a
	                            * free port (see kt_server_port) */
	unsigned threads;          /* worker threads; 0 = number of cores */
	unsigned build_threads;    /* threads building tiles (the work pool),
	                            * each with its own store context, while
	                            * the workers answer cache hits; 0 =
	                            * number of cores */
	const char *cors_origin;   /* Access-Control-Allow-Origin value ("*" or
	                            * an origin); NULL = no CORS headers */
	unsigned conn_limit;       /* concurrent connections; 1024 */
	unsigned conn_timeout_s;   /* idle connection timeout; 30 s */
	size_t conn_memory;        /* per-connection memory (headers, URL);
	                            * 64 KiB */
	size_t url_max;            /* longest request target accepted; 16 KiB.
	                            * Longer gets a 414 problem */
	size_t body_max;           /* largest request body; 1 MiB (413 above) */
	unsigned drain_timeout_ms; /* at stop, wait this long for requests in
	                            * flight; 5000 */
	int quiet;                 /* no request log on stderr */
	const char *web_root;      /* folder holding web/ (the map page),
	                            * styles/ and node_modules/maplibre-gl/dist:
	                            * the source tree or an installed
	                            * share/kartenn; NULL = KT_WEB_ROOT, the
	                            * source tree kartenn was built from */
	const char *fonts_dir;     /* font files served under /static/fonts/
	                            * (label fonts of the styles); NULL =
	                            * /usr/share/fonts/truetype/dejavu (Debian
	                            * fonts-dejavu-core) */
	/* vector tiles (tiles.c) */
	size_t tile_cache_bytes;   /* in-memory tile cache budget; 64 MiB */
	int tile_cache_off;        /* no tile cache at all */
	size_t tile_max_bytes;     /* size cap of one tile (uncompressed); 500
	                            * KB. Over it, the smallest features are
	                            * dropped (kt_mvt_serialize) */
	unsigned tile_poll_ms;     /* look for edits (kt_history) at most every
	                            * tile_poll_ms; 0 = before every tile */
	unsigned tile_max_age_s;   /* Cache-Control max-age of tiles; 0 =
	                            * "no-cache" (revalidate with the ETag) */
	/* WMS (wms*.c) */
	unsigned wms_max_size;     /* most pixels a side of a GetMap; 4096.
	                            * Larger WIDTH/HEIGHT get an exception */
} kt_server_opts_t;

/* Starts listening and serving store. On failure returns a negative KT_E*
 * code with a message in err: KT_EEXIST when the address is in use,
 * KT_EINVAL for a bad option or address, KT_EIO for other socket or
 * libmicrohttpd failures. */
int kt_server_start(kt_store_t *store, const kt_server_opts_t *opts,
                    kt_server_t **out, kt_err_t *err);

/* The port actually listened on (useful with port 0). */
int kt_server_port(const kt_server_t *srv);

/* "http://127.0.0.1:8080/" — the base URL of the server (owned by srv). */
const char *kt_server_url(const kt_server_t *srv);

/* ---- vector tiles ------------------------------------------------------
 * Checks a Mapbox Vector Tile 2.1 (raw or gzipped bytes) against the
 * specification: decodable protobuf, layer version (1 or 2) and name present,
 * unique layer names, extent, values with exactly one known field, tag
 * pairs even and in range, feature type present, geometry commands
 * well-formed for the type (counts, parameters, ClosePath only in
 * polygons), no zero-length segment, ring closure and area, polygon
 * starting with an exterior ring (positive area, clockwise on screen),
 * and polygon features valid (GEOS) when geos is not NULL (a
 * GEOSContextHandle_t). Each problem found is passed to report (at most
 * max_problems, 0 = no limit). Returns the number of problems (0: valid),
 * or a negative KT_E* code when the check itself could not run. */
typedef void (*kt_mvt_report_fn)(const char *problem, void *data);
long kt_mvt_validate(const unsigned char *bytes, size_t len, void *geos,
                     kt_mvt_report_fn report, void *data, long max_problems);

/* Stops accepting connections, waits up to drain_timeout_ms for the
 * requests in flight, stops the workers (closing their contexts) and frees
 * srv. NULL is accepted. */
void kt_server_stop(kt_server_t *srv);

#ifdef __cplusplus
}
#endif
#endif /* KT_SERVER_H */
