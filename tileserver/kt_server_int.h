/*
 * kt_server_int.h — the server module's private interface: what the
 * endpoint files (health.c, catalogue.c, metrics.c, later tiles.c, ows.c…)
 * share with server.c. Outside tileserver/ include kt_server.h only; the
 * unit tests of the module include this one too.
 *
 * A request lives from the URI callback to the completion callback of
 * libmicrohttpd. Everything a handler allocates for it comes from its arena
 * (req->arena), freed at once at completion: handlers never free.
 *
 * A handler receives the request with its route parameters, and answers
 * through one of the kt_respond_* helpers, exactly once. It returns 0, or a
 * negative KT_E* code when it could not answer: server.c then answers a
 * 500 problem (KT_ENOMEM gives 503).
 */
#ifndef KT_SERVER_INT_H
#define KT_SERVER_INT_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include <jansson.h>

#include "kt_engine.h"
#include "kt_server.h"

struct MHD_Connection;
struct MHD_Response;
struct MHD_Daemon;

/* ---- per-request arena ------------------------------------------------
 * A bump allocator over a chain of blocks. The first block may be given by
 * the caller (inside the request struct, so most requests allocate
 * nothing); later blocks come from kt_malloc and are freed by
 * kt_arena_release. Allocations are aligned to 16 bytes and live until
 * release. Returns NULL when kt_malloc fails. */
typedef struct kt_arena_block kt_arena_block_t;

typedef struct kt_arena {
	kt_arena_block_t *head;  /* blocks from kt_malloc, newest first */
	unsigned char *cur, *end;
	size_t next_size;        /* size of the next block */
	size_t total;            /* bytes handed out */
	unsigned char *first;    /* the caller's first block, or NULL */
	size_t first_size;
} kt_arena_t;

void kt_arena_init(kt_arena_t *a, void *first, size_t first_size);
void *kt_arena_alloc(kt_arena_t *a, size_t n);
char *kt_arena_strdup(kt_arena_t *a, const char *s);
char *kt_arena_strndup(kt_arena_t *a, const char *s, size_t n);
char *kt_arena_printf(kt_arena_t *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
char *kt_arena_vprintf(kt_arena_t *a, const char *fmt, va_list ap);
/* Frees the blocks from kt_malloc; the arena is empty again (the caller's
 * first block is reused). */
void kt_arena_release(kt_arena_t *a);

/* ---- paths and routes ------------------------------------------------ */

/* HTTP methods as bits, so a route can accept several. */
enum {
	KT_M_GET = 1 << 0,
	KT_M_HEAD = 1 << 1,
	KT_M_POST = 1 << 2,
	KT_M_PUT = 1 << 3,
	KT_M_DELETE = 1 << 4,
	KT_M_PATCH = 1 << 5,
	KT_M_OPTIONS = 1 << 6,
	KT_M_OTHER = 1 << 7,
};
unsigned kt_method_bit(const char *method);
/* "GET, HEAD, POST" for a mask (HEAD is added where GET is); into buf. */
void kt_methods_format(unsigned mask, char *buf, size_t size);

/* Splits the path of a raw request target ("/a/b%20c?x=1": the query is
 * ignored) into percent-decoded segments allocated in a. Refuses with
 * KT_EINVAL (and a reason) a path that does not start with '/', a bad or
 * truncated %-escape, an encoded NUL or '/', a control character, and the
 * dot segments "." and ".." (also when encoded). "/" gives 0 segments; a
 * trailing '/' gives a last empty segment. */
int kt_path_split(kt_arena_t *a, const char *target, char ***segs,
                  size_t *n_segs, const char **reason);

/* Strict percent-decoding of s[0..n) into out (at least n+1 bytes), NUL
 * terminated. plus_as_space for query strings. Returns the decoded length
 * or -1 on a bad escape. */
long kt_percent_decode(const char *s, size_t n, char *out, int plus_as_space);

#define KT_ROUTE_PARAMS_MAX 8

typedef struct kt_param {
	const char *name;   /* in the arena */
	const char *value;  /* decoded, in the arena */
} kt_param_t;

/* Matches a route pattern against decoded segments. A pattern is a
 * '/'-separated list of segments; a segment is a literal ("api"), or a
 * capture with an optional literal prefix and suffix ("{layer}",
 * "{y}.mvt", "v{n}"), capturing a non-empty value; a last segment
 * "{name*}" captures the rest of the path (one or more segments, joined
 * by '/'). Returns 1 on a match, 0 otherwise. When params is not NULL,
 * the captures go there (names and values in a), at most
 * KT_ROUTE_PARAMS_MAX. */
int kt_route_match(const char *pattern, char *const *segs, size_t n_segs,
                   kt_arena_t *a, kt_param_t *params, size_t *n_params);

typedef struct kt_request kt_request_t;
typedef int (*kt_handler_fn)(kt_request_t *req);

typedef struct kt_route {
	unsigned methods;      /* KT_M_* bits; GET implies HEAD */
	const char *pattern;   /* NULL ends the table: its handler answers
	                        * when no pattern matched (404) */
	kt_handler_fn handler;
} kt_route_t;

/* The route for method and segments: the first entry whose pattern and
 * method match. When the path matches entries but not the method, returns
 * NULL and *allowed holds the methods those entries accept; when nothing
 * matches, returns the final not-found entry and *allowed is 0. */
const kt_route_t *kt_route_find(const kt_route_t *table, unsigned method,
                                char *const *segs, size_t n_segs,
                                unsigned *allowed);

/* The server's table (routes.c). */
extern const kt_route_t kt_server_routes[];

/* ---- the server and its requests ------------------------------------- */

enum { KT_STATUS_CLASSES = 5 };   /* 1xx .. 5xx */
enum { KT_LATENCY_BUCKETS = 10 };

/* Counters read by /metrics, written by every worker: atomics only. */
typedef struct kt_metrics {
	atomic_uint_fast64_t by_class[KT_STATUS_CLASSES];
	atomic_uint_fast64_t in_flight;
	atomic_uint_fast64_t latency_le[KT_LATENCY_BUCKETS + 1]; /* +Inf last */
	atomic_uint_fast64_t latency_us_sum;
	atomic_uint_fast64_t bytes_out;
} kt_metrics_t;

extern const double kt_latency_bounds_s[KT_LATENCY_BUCKETS];

struct kt_server {
	kt_store_t *store;           /* borrowed */
	kt_server_opts_t opts;       /* strings below are owned copies */
	char *bind;
	char *cors_origin;
	char *web_root;              /* opts.web_root or KT_WEB_ROOT */
	char *fonts_dir;             /* opts.fonts_dir or KT_FONTS_DIR */
	char url[128];
	int port;
	struct kt_tiles *tiles;      /* tile cache and edit watch (tiles.c) */
	char tile_cache_control[48]; /* Cache-Control of tiles (tiles.c) */
	struct kt_workpool *pool;    /* threads for slow work (workpool.c) */
	struct MHD_Daemon *daemon;
	pthread_key_t worker_key;    /* -> struct kt_worker (one per thread) */
	int worker_key_ok;
	kt_metrics_t metrics;
	double started;              /* monotonic seconds at start */
	time_t started_wall;
};

/* Defaults of the folders the server reads pages, styles and fonts from
 * (CMake sets KT_WEB_ROOT to the source tree). */
#ifndef KT_WEB_ROOT
#define KT_WEB_ROOT "."
#endif
#ifndef KT_FONTS_DIR
#define KT_FONTS_DIR "/usr/share/fonts/truetype/dejavu"
#endif

#define KT_REQ_INLINE_ARENA 4096

struct kt_request {
	kt_server_t *srv;
	struct MHD_Connection *conn;
	const char *method;          /* as sent */
	unsigned method_bit;
	char *target;                /* raw request target, in the arena */
	char **segs;                 /* decoded path segments */
	size_t n_segs;
	kt_param_t params[KT_ROUTE_PARAMS_MAX];
	size_t n_params;
	const kt_route_t *route;
	int started;                 /* the access handler has run once */
	int answered;                /* a response has been queued */
	unsigned status;             /* status answered, 0 if none */
	size_t body_bytes;           /* response body size */
	char *body;                  /* request body (POST…), kt_malloc'd */
	size_t body_len, body_cap;
	int body_too_large;
	int wants_body;              /* the route takes a body (POST…) */
	double t0;                   /* monotonic seconds at the URI callback */
	const char *cache_control;   /* set by handlers; default no-store */
	struct MHD_Response *resp;   /* set by kt_respond_*, queued by server */
	int resp_shared;             /* resp is a ready answer owned elsewhere
	                              * (kt_respond_shared): queued as it is,
	                              * never changed nor destroyed here */
	int deferred;                /* handed to the work pool (kt_req_defer) */
	void (*release)(void *);     /* kt_req_keep: called with release_arg */
	void *release_arg;           /*   at completion */
	kt_arena_t arena;
	unsigned char inline_arena[KT_REQ_INLINE_ARENA];
};

/* The route parameter name, or NULL. */
const char *kt_req_param(const kt_request_t *req, const char *name);
/* A query argument (decoded by libmicrohttpd; key case-insensitive). */
const char *kt_req_arg(const kt_request_t *req, const char *name);
/* A request header (case-insensitive). */
const char *kt_req_header(const kt_request_t *req, const char *name);
/* The calling thread's context on the store (a libmicrohttpd worker or a
 * work-pool thread), opened on first use and closed when the thread ends.
 * NULL if it could not be opened (message in *why, static or arena). */
kt_ctx_t *kt_req_ctx(kt_request_t *req, const char **why);
/* The same, without a request: NULL and err filled on failure. */
kt_ctx_t *kt_server_thread_ctx(kt_server_t *srv, kt_err_t *err);
/* Keeps obj alive until the request completes (its answer sent or the
 * connection gone): release(obj) is called then. One object a request;
 * a second call releases the first at once. */
void kt_req_keep(kt_request_t *req, void *obj, void (*release)(void *));

/* ---- the work pool (workpool.c) ----------------------------------------
 * Slow work (building a tile) runs on a few threads of its own, each with
 * its own kt_ctx_t, so that the libmicrohttpd worker that received the
 * request goes on answering its other connections (cache hits) meanwhile.
 * A handler calls kt_req_defer and returns its result at once, touching
 * the request no more: the connection is suspended, fn runs on a pool
 * thread and answers through kt_respond_* as a handler does (a negative
 * return is answered as a handler's is), then the connection is resumed
 * and the answer queued. When the pool is stopping (or absent), fn runs
 * at once on the calling thread, with its context. job lives as long as
 * the request (its arena). */
typedef int (*kt_job_fn)(kt_request_t *req, kt_ctx_t *ctx, void *job);
int kt_req_defer(kt_request_t *req, kt_job_fn fn, void *job);
/* Starts threads pool threads (server.c, before the daemon). */
int kt_workpool_start(kt_server_t *srv, unsigned threads, kt_err_t *err);
/* Answers the jobs still queued with 503, resumes their connections and
 * joins the threads; from then on kt_req_defer runs jobs inline. Called
 * before MHD_stop_daemon, which must find no suspended connection. */
void kt_workpool_stop(kt_server_t *srv);
/* Frees the pool (after kt_workpool_stop and MHD_stop_daemon). */
void kt_workpool_free(kt_server_t *srv);

/* ---- responses ------------------------------------------------------- */

/* Who owns a response body. */
typedef enum kt_buf_owner {
	KT_BUF_STATIC,   /* lives forever (a literal): not copied, not freed */
	KT_BUF_COPY,     /* copied now */
	KT_BUF_FREE,     /* malloc'd: the server frees it with free() */
	KT_BUF_KT_FREE,  /* from kt_malloc: freed with kt_free() */
} kt_buf_owner_t;

/* Answers status with body (may be NULL/0) of content_type. On a creation
 * failure a body with KT_BUF_FREE / KT_BUF_KT_FREE is freed anyway. */
int kt_respond(kt_request_t *req, unsigned status, const char *content_type,
               void *body, size_t len, kt_buf_owner_t owner);
/* Answers status with json serialised compactly; takes the reference. */
int kt_respond_json(kt_request_t *req, unsigned status, json_t *json);
/* Answers an RFC 9457 problem (application/problem+json): type
 * "about:blank", title the reason phrase of status, detail formatted. */
int kt_respond_problem(kt_request_t *req, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Answers status with the size bytes of the open file fd (sent with
 * sendfile where possible). Takes fd: it is closed when the response is
 * done, also on failure. */
int kt_respond_fd(kt_request_t *req, unsigned status, const char *content_type,
                  int fd, uint64_t size);
/* 1 when an If-None-Match header value (a list, "*", weak tags) matches
 * the strong etag (quotes included). inm may be NULL. */
int kt_etag_matches(const char *inm, const char *etag);
/* Adds a header to the response queued by kt_respond* (not to a shared
 * one: KT_EINTERNAL). */
int kt_respond_header(kt_request_t *req, const char *name, const char *value);
/* Answers with r, a ready response made and owned by the caller, that
 * already carries every header (kt_response_common_headers included):
 * it is queued as it is, and may be queued for many requests at once. The
 * caller keeps r, and the body it points to, alive until the request
 * completes (kt_req_keep). body_len is what the metrics count. */
int kt_respond_shared(kt_request_t *req, unsigned status, struct MHD_Response *r,
                      size_t body_len);
/* Adds to r the headers server.c adds to every answer: Cache-Control
 * (cache_control, NULL = no-store), nosniff, CORS. For ready answers. */
int kt_response_common_headers(const kt_server_t *srv, struct MHD_Response *r,
                               const char *cache_control);

/* The problem document as JSON text (malloc'd, free()); NULL on failure.
 * type NULL means "about:blank"; title NULL means the reason phrase. */
char *kt_problem_body(unsigned status, const char *type, const char *title,
                      const char *detail, size_t *len);

/* Serialisation flags for every JSON answer (12 significant digits keep
 * 0.01 mm in degrees). */
#define KT_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(12))

/* ---- GeoJSON --------------------------------------------------------- */

/* The GeoJSON geometry of an ISO WKB geometry (2D or Z, any of the seven
 * OGC types). KT_EINVAL on truncated or unknown WKB. */
int kt_wkb_to_geojson(const unsigned char *wkb, size_t len, json_t **out);

/* ---- endpoint handlers (one family per file) ------------------------- */

int kt_health_get(kt_request_t *req);          /* health.c */
int kt_catalogue_list(kt_request_t *req);      /* catalogue.c */
int kt_catalogue_layer(kt_request_t *req);
int kt_catalogue_feature(kt_request_t *req);
int kt_metrics_get(kt_request_t *req);         /* metrics.c */
int kt_not_found(kt_request_t *req);           /* routes.c */
int kt_ows_handle(kt_request_t *req);          /* ows.c: /ows?SERVICE=… */
int kt_ows_wfs(kt_request_t *req);             /* ows.c: /wfs */
int kt_ows_wms(kt_request_t *req);             /* ows.c: /wms (wms*.c) */
int kt_ogcapi_landing(kt_request_t *req);      /* ogcapi.c */
int kt_ogcapi_conformance(kt_request_t *req);
int kt_ogcapi_api(kt_request_t *req);
int kt_ogcapi_collections(kt_request_t *req);
int kt_ogcapi_collection(kt_request_t *req);
int kt_ogcapi_items(kt_request_t *req);        /* ogcapi_items.c */
int kt_ogcapi_item(kt_request_t *req);
int kt_tiles_get(kt_request_t *req);           /* tiles.c */
int kt_tilejson_get(kt_request_t *req);
/* Creates / frees the server's tile state (called by server.c). */
int kt_tiles_attach(kt_server_t *srv, kt_err_t *err);
void kt_tiles_detach(kt_server_t *srv);
/* The tile counters in Prometheus text (metrics.c); returns the length. */
size_t kt_tiles_metrics(const kt_server_t *srv, char *buf, size_t size);
int kt_static_page(kt_request_t *req);         /* static.c: the map page */
int kt_static_web(kt_request_t *req);          /*   /static/{path*} */
int kt_static_maplibre(kt_request_t *req);     /*   MapLibre GL JS dist */
int kt_static_fonts(kt_request_t *req);        /*   label fonts */
int kt_styles_get(kt_request_t *req);          /* styles.c */

/* JSON description of one public layer (public attributes only). */
json_t *kt_catalogue_layer_json(kt_ctx_t *ctx, const kt_layer_t *layer);
/* The layer name if it exists and is public, else NULL. */
const kt_layer_t *kt_catalogue_public_layer(const kt_store_t *store,
                                            const char *name);

double kt_monotonic_s(void);

#endif /* KT_SERVER_INT_H */
