/*
 * server.c — the libmicrohttpd daemon and the life of a request.
 *
 * The daemon runs a pool of worker threads (epoll, one per core by
 * default) on a listening socket opened here, so that "address in use"
 * and the port actually bound can be reported precisely. A request goes:
 *
 *   URI callback      allocates kt_request_t (its arena inline), keeps the
 *                     raw target, starts the clock;
 *   access handler    1st call (headers complete: now in flight): checks
 *                     the target (414/400) and finds the route (404/405/
 *                     OPTIONS; these answers are queued on the next call,
 *                     to keep the connection alive); 413 at once past
 *                     body_max; later calls collect the body (POST, PUT,
 *                     PATCH); the last one dispatches;
 *   dispatch          runs the handler, which leaves a response on the
 *                     request; common headers are added and it is queued
 *                     (a ready, shared answer is queued as it is); or the
 *                     handler defers the work to the pool (workpool.c):
 *                     the connection is suspended, and resumed with the
 *                     response left on the request, queued on the next
 *                     call;
 *   completion        counts the status class and latency, writes the log
 *                     line, frees body, arena and request.
 *
 * Invariants: every request allocated in the URI callback is freed in the
 * completion callback, exactly once (libmicrohttpd calls it for every
 * request it called the URI callback for). A request belongs to one
 * thread at a time: its libmicrohttpd worker, or while it is suspended
 * the pool thread doing its job. The only mutable state shared
 * between threads is the atomic counters of srv->metrics; each worker's
 * kt_ctx_t is thread-specific data, opened lazily and closed by the key's
 * destructor when the thread ends (MHD_stop_daemon joins the workers).
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <microhttpd.h>

#include "kt_server_int.h"

#define DEFAULT_PORT 8080
#define DEFAULT_CONN_LIMIT 1024
#define DEFAULT_TIMEOUT_S 30
/* Per-connection memory: libmicrohttpd zeroes the whole of it after every
 * request, so it is kept to what a long target (url_max) and ordinary
 * headers need. */
#define DEFAULT_CONN_MEMORY (32 * 1024)
#define DEFAULT_URL_MAX (16 * 1024)
#define DEFAULT_BODY_MAX (1024 * 1024)
#define DEFAULT_DRAIN_MS 5000
#define LISTEN_BACKLOG 1024
#define LOG_TARGET_MAX 512

const double kt_latency_bounds_s[KT_LATENCY_BUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
};

struct kt_worker {
	kt_ctx_t *ctx;
};

double kt_monotonic_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- per-thread context ---------------------------------------------- */

static void worker_free(void *p)
{
	struct kt_worker *w = p;
	if (w) {
		kt_ctx_close(w->ctx);
		kt_free(w);
	}
}

kt_ctx_t *kt_server_thread_ctx(kt_server_t *srv, kt_err_t *err)
{
	struct kt_worker *w = pthread_getspecific(srv->worker_key);
	if (w)
		return w->ctx;
	kt_ctx_t *ctx = NULL;
	if (kt_ctx_open(srv->store, &ctx, err))
		return NULL;
	w = kt_calloc(1, sizeof *w);
	if (!w || pthread_setspecific(srv->worker_key, w)) {
		kt_ctx_close(ctx);
		kt_free(w);
		err->code = KT_ENOMEM;
		snprintf(err->msg, sizeof err->msg, "out of memory");
		return NULL;
	}
	w->ctx = ctx;
	return ctx;
}

kt_ctx_t *kt_req_ctx(kt_request_t *req, const char **why)
{
	kt_err_t err = {0};
	kt_ctx_t *ctx = kt_server_thread_ctx(req->srv, &err);
	if (!ctx && why) {
		const char *m = err.msg[0] ? err.msg : kt_strerror(err.code);
		*why = kt_arena_strdup(&req->arena, m);
		if (!*why)
			*why = kt_strerror(err.code);
	}
	return ctx;
}

void kt_req_keep(kt_request_t *req, void *obj, void (*release)(void *))
{
	if (req->release)
		req->release(req->release_arg);
	req->release = release;
	req->release_arg = obj;
}

/* ---- request accessors ----------------------------------------------- */

const char *kt_req_param(const kt_request_t *req, const char *name)
{
	for (size_t i = 0; i < req->n_params; i++)
		if (!strcmp(req->params[i].name, name))
			return req->params[i].value;
	return NULL;
}

const char *kt_req_arg(const kt_request_t *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *kt_req_header(const kt_request_t *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

/* ---- answering ------------------------------------------------------- */

/* Queues the pending response (or a last-resort 500). */
static enum MHD_Result finish(kt_request_t *req)
{
	req->deferred = 0;
	if (!req->resp &&
	    kt_respond_problem(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "the handler gave no answer")) {
		req->status = 0;
		return MHD_NO; /* out of memory: let MHD close the connection */
	}
	if (req->resp_shared) {
		/* a ready answer: its maker keeps it, headers included */
		enum MHD_Result ok = MHD_queue_response(req->conn, req->status, req->resp);
		req->resp = NULL;
		req->resp_shared = 0;
		req->answered = 1;
		return ok;
	}
	kt_response_common_headers(req->srv, req->resp, req->cache_control);
	enum MHD_Result ok = MHD_queue_response(req->conn, req->status, req->resp);
	MHD_destroy_response(req->resp);
	req->resp = NULL;
	req->answered = 1;
	return ok;
}

static enum MHD_Result dispatch(kt_request_t *req)
{
	int rc = req->route->handler(req);
	if (req->deferred && !rc)
		return MHD_YES; /* suspended: the pool answers, and resumes it */
	if (rc < 0) {
		unsigned status = rc == KT_ENOMEM ? MHD_HTTP_SERVICE_UNAVAILABLE
		                                  : MHD_HTTP_INTERNAL_SERVER_ERROR;
		kt_respond_problem(req, status, "%s", kt_strerror(rc));
	}
	return finish(req);
}

/* The answers below are prepared on the first call of the access handler
 * and queued on the next one: libmicrohttpd 0.9.75 closes the connection
 * after a response queued on the first call (it cannot know whether a
 * body follows), and keep-alive matters for tile clients. */

static int prepare_options(kt_request_t *req, unsigned allowed)
{
	char allow[96];
	kt_methods_format(allowed | KT_M_OPTIONS, allow, sizeof allow);
	int rc = kt_respond(req, MHD_HTTP_NO_CONTENT, NULL, NULL, 0, KT_BUF_STATIC);
	if (rc)
		return rc;
	kt_respond_header(req, MHD_HTTP_HEADER_ALLOW, allow);
	if (req->srv->cors_origin) {
		kt_respond_header(req, "Access-Control-Allow-Methods", allow);
		kt_respond_header(req, "Access-Control-Allow-Headers",
		                  "Content-Type, If-None-Match, Authorization");
		kt_respond_header(req, "Access-Control-Max-Age", "86400");
	}
	req->cache_control = "public, max-age=86400";
	return 0;
}

static int prepare_405(kt_request_t *req, unsigned allowed)
{
	char allow[96];
	kt_methods_format(allowed, allow, sizeof allow);
	int rc = kt_respond_problem(req, MHD_HTTP_METHOD_NOT_ALLOWED,
	                            "method %s is not allowed here; allowed: %s",
	                            req->method_bit == KT_M_OTHER ? "(other)" : req->method,
	                            allow);
	return rc ? rc : kt_respond_header(req, MHD_HTTP_HEADER_ALLOW, allow);
}

/* Checks the target and finds the route. A refusal is left pending on
 * req->resp; a route is left in req->route. Returns 0, or KT_ENOMEM. */
static int prepare(kt_request_t *req)
{
	kt_server_t *srv = req->srv;
	req->method_bit = kt_method_bit(req->method);
	if (!req->target || strlen(req->target) > srv->opts.url_max)
		return kt_respond_problem(req, MHD_HTTP_URI_TOO_LONG,
		                          "the request target is longer than %zu bytes",
		                          srv->opts.url_max);
	const char *why = NULL;
	int rc = kt_path_split(&req->arena, req->target, &req->segs, &req->n_segs, &why);
	if (rc == KT_ENOMEM)
		return rc;
	if (rc)
		return kt_respond_problem(req, MHD_HTTP_BAD_REQUEST, "%s", why ? why : kt_strerror(rc));
	unsigned allowed = 0;
	req->route = kt_route_find(kt_server_routes, req->method_bit, req->segs,
	                           req->n_segs, &allowed);
	if (!req->route)
		return req->method_bit == KT_M_OPTIONS ? prepare_options(req, allowed)
		                                       : prepare_405(req, allowed);
	if (req->route->pattern &&
	    !kt_route_match(req->route->pattern, req->segs, req->n_segs, &req->arena,
	                    req->params, &req->n_params))
		return KT_ENOMEM; /* matched a moment ago: only memory can fail */
	return 0;
}

static int has_body(const kt_request_t *req)
{
	const char *cl = kt_req_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
	return (cl && strcmp(cl, "0")) ||
	       kt_req_header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

/* The first call of the access handler. */
static enum MHD_Result first_call(kt_request_t *req)
{
	if (prepare(req)) {
		req->status = 0;
		return MHD_NO; /* out of memory: close the connection */
	}
	if (req->resp && has_body(req))
		return finish(req); /* refused: do not read a body for nothing */
	if (!req->resp && (req->method_bit & (KT_M_POST | KT_M_PUT | KT_M_PATCH))) {
		const char *cl = kt_req_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > req->srv->opts.body_max) {
			/* answered now, on purpose: the connection closes and the
			 * body is never read */
			if (kt_respond_problem(req, MHD_HTTP_CONTENT_TOO_LARGE,
			                       "the request body is larger than %zu bytes",
			                       req->srv->opts.body_max))
				return MHD_NO;
			return finish(req);
		}
		req->wants_body = 1;
	}
	return MHD_YES;
}

static void collect_body(kt_request_t *req, const char *data, size_t n)
{
	if (req->body_too_large)
		return;
	if (req->body_len + n > req->srv->opts.body_max) {
		req->body_too_large = 1;
		return;
	}
	if (req->body_len + n + 1 > req->body_cap) {
		size_t cap = req->body_cap ? req->body_cap * 2 : 8192;
		while (cap < req->body_len + n + 1)
			cap *= 2;
		char *b = kt_realloc(req->body, cap);
		if (!b) {
			req->body_too_large = 1;
			return;
		}
		req->body = b;
		req->body_cap = cap;
	}
	memcpy(req->body + req->body_len, data, n);
	req->body_len += n;
	req->body[req->body_len] = 0;
}

static enum MHD_Result answer_no_state(struct MHD_Connection *conn)
{
	static const char body[] = "{\"type\":\"about:blank\",\"title\":\"Service Unavailable\","
	                           "\"status\":503,\"detail\":\"out of memory\"}";
	struct MHD_Response *r = MHD_create_response_from_buffer(
		sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/problem+json");
	enum MHD_Result ok = MHD_queue_response(conn, MHD_HTTP_SERVICE_UNAVAILABLE, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn,
                                 const char *url, const char *method,
                                 const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **req_cls)
{
	kt_request_t *req = *req_cls;
	if (!req)
		return answer_no_state(conn); /* the URI callback ran out of memory */
	if (req->answered) {
		*upload_data_size = 0; /* drop what still arrives */
		return MHD_YES;
	}
	if (!req->started) {
		/* in flight from complete headers: a client that never ends its
		 * headers does not hold the shutdown drain */
		req->started = 1;
		atomic_fetch_add(&req->srv->metrics.in_flight, 1);
		req->conn = conn;
		req->method = method;
		return first_call(req);
	}
	if (*upload_data_size) {
		if (req->wants_body)
			collect_body(req, upload_data, *upload_data_size);
		*upload_data_size = 0; /* a body nobody asked for is dropped */
		return MHD_YES;
	}
	if (req->resp || req->deferred)
		return finish(req); /* prepared on the first call, or by the pool */
	if (req->body_too_large) {
		if (kt_respond_problem(req, MHD_HTTP_CONTENT_TOO_LARGE,
		                       "the request body is larger than %zu bytes",
		                       req->srv->opts.body_max))
			return MHD_NO;
		return finish(req);
	}
	return dispatch(req);
}

/* ---- request start and end ------------------------------------------- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	kt_server_t *srv = cls;
	kt_request_t *req = kt_malloc(sizeof *req);
	if (!req)
		return NULL;
	memset(req, 0, offsetof(kt_request_t, inline_arena));
	req->srv = srv;
	req->conn = conn;
	req->t0 = kt_monotonic_s();
	kt_arena_init(&req->arena, req->inline_arena, sizeof req->inline_arena);
	/* kept whole even when too long: the access handler answers 414 */
	req->target = kt_arena_strdup(&req->arena, uri ? uri : "");
	return req;
}

/* Writes s into out escaping what a terminal or a log parser would
 * misread; truncates at LOG_TARGET_MAX. Returns the length. */
static size_t log_escape(const char *s, char *out, size_t size)
{
	size_t o = 0;
	for (size_t i = 0; s[i] && o + 5 < size; i++) {
		unsigned char c = (unsigned char)s[i];
		if (i >= LOG_TARGET_MAX) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = 0;
	return o;
}

static void log_request(const kt_request_t *req, double ms,
                        enum MHD_RequestTerminationCode toe)
{
	char ip[INET6_ADDRSTRLEN] = "-";
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof ip);
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof ip);
	}
	char when[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	char target[LOG_TARGET_MAX * 4 + 8], method[24];
	log_escape(req->target ? req->target : "-", target, sizeof target);
	log_escape(req->method ? req->method : "-", method, sizeof method);
	char line[sizeof target + 256];
	int n = snprintf(line, sizeof line, "%s %s \"%s %s\" %u %zu %.3fms%s\n", when, ip,
	                 method, target, req->status, req->body_bytes, ms,
	                 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted");
	if (n > 0) {
		/* one write per line: lines of concurrent workers never mix */
		ssize_t w = write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
		(void)w;
	}
}

static void count_request(kt_metrics_t *m, unsigned status, double s, size_t bytes)
{
	if (status >= 100 && status < 600)
		atomic_fetch_add(&m->by_class[status / 100 - 1], 1);
	size_t b = 0;
	while (b < KT_LATENCY_BUCKETS && s > kt_latency_bounds_s[b])
		b++;
	atomic_fetch_add(&m->latency_le[b], 1);
	atomic_fetch_add(&m->latency_us_sum, (uint_fast64_t)(s * 1e6));
	atomic_fetch_add(&m->bytes_out, bytes);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
	kt_server_t *srv = cls;
	kt_request_t *req = *req_cls;
	if (!req)
		return;
	*req_cls = NULL;
	double s = kt_monotonic_s() - req->t0;
	size_t bytes = req->method_bit == KT_M_HEAD ? 0 : req->body_bytes;
	count_request(&srv->metrics, req->status, s, bytes);
	if (!srv->opts.quiet)
		log_request(req, s * 1000.0, toe);
	if (req->resp && !req->resp_shared)
		MHD_destroy_response(req->resp);
	if (req->release)
		req->release(req->release_arg); /* the answer is sent: its bytes may go */
	kt_free(req->body);
	if (req->started)
		atomic_fetch_sub(&srv->metrics.in_flight, 1);
	kt_arena_release(&req->arena);
	kt_free(req);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	const kt_server_t *srv = cls;
	if (srv->opts.quiet)
		return;
	char line[512];
	int n = snprintf(line, sizeof line, "kartenn: http: ");
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	size_t len = strlen(line);
	if (len && line[len - 1] != '\n' && len + 1 < sizeof line) {
		line[len++] = '\n';
		line[len] = 0;
	}
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}

/* ---- start and stop -------------------------------------------------- */

static int set_err(kt_err_t *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int set_err(kt_err_t *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
		err->code = code;
	}
	return code;
}

static int opts_resolve(kt_server_t *srv, const kt_server_opts_t *in, kt_err_t *err)
{
	kt_server_opts_t o = in ? *in : (kt_server_opts_t){.port = -1};
	if (o.port < 0)
		o.port = DEFAULT_PORT;
	if (o.port > 65535)
		return set_err(err, KT_EINVAL, "%s: port %d is out of range 0..65535", __func__, o.port);
	if (!o.threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		o.threads = n > 0 ? (unsigned)n : 1;
	}
	if (o.threads > 256)
		return set_err(err, KT_EINVAL, "%s: %u threads is more than 256", __func__, o.threads);
	if (!o.build_threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		o.build_threads = n > 0 ? (unsigned)n : 1;
	}
	if (o.build_threads > 256)
		return set_err(err, KT_EINVAL, "%s: %u build threads is more than 256", __func__,
		               o.build_threads);
	if (!o.conn_limit)
		o.conn_limit = DEFAULT_CONN_LIMIT;
	if (o.conn_limit < o.threads)
		o.conn_limit = o.threads;
	if (!o.conn_timeout_s)
		o.conn_timeout_s = DEFAULT_TIMEOUT_S;
	if (!o.conn_memory)
		o.conn_memory = DEFAULT_CONN_MEMORY;
	if (!o.url_max)
		o.url_max = DEFAULT_URL_MAX;
	if (o.url_max + 1024 > o.conn_memory)
		return set_err(err, KT_EINVAL, "%s: url_max %zu does not fit in conn_memory %zu",
		               __func__, o.url_max, o.conn_memory);
	if (!o.body_max)
		o.body_max = DEFAULT_BODY_MAX;
	if (!o.drain_timeout_ms)
		o.drain_timeout_ms = DEFAULT_DRAIN_MS;
	srv->bind = kt_strdup(o.bind ? o.bind : "127.0.0.1");
	srv->cors_origin = o.cors_origin && *o.cors_origin ? kt_strdup(o.cors_origin) : NULL;
	if (!srv->bind || (o.cors_origin && *o.cors_origin && !srv->cors_origin))
		return set_err(err, KT_ENOMEM, "%s: out of memory", __func__);
	if (srv->cors_origin && strpbrk(srv->cors_origin, "\r\n"))
		return set_err(err, KT_EINVAL, "%s: bad CORS origin", __func__);
	srv->web_root = kt_strdup(o.web_root && *o.web_root ? o.web_root : KT_WEB_ROOT);
	srv->fonts_dir = kt_strdup(o.fonts_dir && *o.fonts_dir ? o.fonts_dir : KT_FONTS_DIR);
	if (!srv->web_root || !srv->fonts_dir)
		return set_err(err, KT_ENOMEM, "%s: out of memory", __func__);
	o.bind = srv->bind;
	o.cors_origin = srv->cors_origin;
	o.web_root = srv->web_root;
	o.fonts_dir = srv->fonts_dir;
	srv->opts = o;
	return 0;
}

/* Opens, binds and listens; fills srv->port and srv->url. */
static int listen_socket(kt_server_t *srv, int *fd_out, kt_err_t *err)
{
	char port[8];
	snprintf(port, sizeof port, "%d", srv->opts.port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	int gai = getaddrinfo(srv->bind, port, &hints, &ai);
	if (gai)
		return set_err(err, KT_EINVAL, "cannot use address '%s': %s", srv->bind,
		               gai_strerror(gai));
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
	                ai->ai_protocol);
	int one = 1, rc = 0;
	if (fd < 0) {
		rc = set_err(err, KT_EIO, "socket: %s", strerror(errno));
	} else if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
	           bind(fd, ai->ai_addr, ai->ai_addrlen)) {
		int e = errno;
		rc = set_err(err, e == EADDRINUSE ? KT_EEXIST : e == EADDRNOTAVAIL ? KT_EINVAL : KT_EIO,
		             "cannot listen on %s port %s: %s%s", srv->bind, port, strerror(e),
		             e == EADDRINUSE ? " (another server is using it: choose --port)"
		             : e == EACCES ? " (ports below 1024 need privileges)" : "");
	} else if (listen(fd, LISTEN_BACKLOG)) {
		rc = set_err(err, errno == EADDRINUSE ? KT_EEXIST : KT_EIO,
		             "cannot listen on %s port %s: %s", srv->bind, port, strerror(errno));
	}
	int family = ai->ai_family;
	freeaddrinfo(ai);
	if (rc) {
		if (fd >= 0)
			close(fd);
		return rc;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	srv->port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
	                                     : ((struct sockaddr_in *)&ss)->sin_port);
	int v6 = strchr(srv->bind, ':') != NULL;
	snprintf(srv->url, sizeof srv->url, "http://%s%s%s:%d/", v6 ? "[" : "", srv->bind,
	         v6 ? "]" : "", srv->port);
	*fd_out = fd;
	return 0;
}

static void server_free(kt_server_t *srv)
{
	kt_workpool_free(srv);
	kt_tiles_detach(srv);
	if (srv->worker_key_ok)
		pthread_key_delete(srv->worker_key);
	kt_free(srv->bind);
	kt_free(srv->cors_origin);
	kt_free(srv->web_root);
	kt_free(srv->fonts_dir);
	kt_free(srv);
}

static struct MHD_Daemon *daemon_start(kt_server_t *srv, int fd)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
	                 MHD_USE_TURBO | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	return MHD_start_daemon(
		flags, 0, NULL, NULL, on_access, srv,
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv, /* first, as MHD asks */
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
		MHD_OPTION_THREAD_POOL_SIZE, srv->opts.threads,
		MHD_OPTION_CONNECTION_LIMIT, srv->opts.conn_limit,
		MHD_OPTION_CONNECTION_TIMEOUT, srv->opts.conn_timeout_s,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, srv->opts.conn_memory,
		MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
		MHD_OPTION_END);
}

int kt_server_start(kt_store_t *store, const kt_server_opts_t *opts,
                    kt_server_t **out, kt_err_t *err)
{
	*out = NULL;
	if (!store)
		return set_err(err, KT_EINVAL, "%s: no store", __func__);
	kt_server_t *srv = kt_calloc(1, sizeof *srv);
	if (!srv)
		return set_err(err, KT_ENOMEM, "%s: out of memory", __func__);
	srv->store = store;
	int rc = opts_resolve(srv, opts, err);
	if (!rc)
		rc = kt_tiles_attach(srv, err);
	if (rc) {
		server_free(srv);
		return rc;
	}
	if (pthread_key_create(&srv->worker_key, worker_free)) {
		server_free(srv);
		return set_err(err, KT_EIO, "%s: pthread_key_create failed", __func__);
	}
	srv->worker_key_ok = 1;
	json_object_seed(0); /* jansson's hash seed, once, before the workers */
	if ((rc = kt_workpool_start(srv, srv->opts.build_threads, err))) {
		server_free(srv);
		return rc;
	}
	int fd = -1;
	rc = listen_socket(srv, &fd, err);
	if (rc) {
		server_free(srv);
		return rc;
	}
	srv->started = kt_monotonic_s();
	srv->started_wall = time(NULL);
	srv->daemon = daemon_start(srv, fd);
	if (!srv->daemon) {
		close(fd);
		kt_workpool_stop(srv);
		server_free(srv);
		return set_err(err, KT_EIO, "%s: libmicrohttpd could not start (threads, epoll)",
		               __func__);
	}
	*out = srv;
	return 0;
}

int kt_server_port(const kt_server_t *srv)
{
	return srv->port;
}

const char *kt_server_url(const kt_server_t *srv)
{
	return srv->url;
}

void kt_server_stop(kt_server_t *srv)
{
	if (!srv)
		return;
	MHD_socket lfd = MHD_quiesce_daemon(srv->daemon);
	if (lfd != MHD_INVALID_SOCKET)
		close(lfd);
	double deadline = kt_monotonic_s() + srv->opts.drain_timeout_ms / 1000.0;
	while (atomic_load(&srv->metrics.in_flight) > 0 && kt_monotonic_s() < deadline) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	/* no connection may stay suspended past this: the pool answers what
	 * is left (503) and resumes it; later jobs run inline */
	kt_workpool_stop(srv);
	MHD_stop_daemon(srv->daemon); /* joins the workers: their ctx close */
	server_free(srv);
}
