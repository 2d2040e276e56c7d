/*
 * metrics.c — GET /metrics in the Prometheus text exposition format
 * (version 0.0.4): requests by status class, requests in flight, a
 * latency histogram, bytes sent, uptime, and the vector-tile counters
 * (kt_tiles_metrics, tiles.c). The counters are the atomics of
 * srv->metrics (written by every worker in server.c); this file only
 * reads them, so a scrape never blocks a request.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kt_server_int.h"

#define METRICS_MAX 4096

static size_t put(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static size_t put(char *buf, size_t len, const char *fmt, ...)
{
	if (len >= METRICS_MAX)
		return len;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + len, METRICS_MAX - len, fmt, ap);
	va_end(ap);
	return n < 0 ? len : len + (size_t)n;
}

static size_t put_latency(char *b, size_t n, kt_metrics_t *m)
{
	n = put(b, n, "# HELP kartenn_http_request_duration_seconds Time from request line "
	              "to the end of the response.\n"
	              "# TYPE kartenn_http_request_duration_seconds histogram\n");
	uint64_t cum = 0;
	for (int i = 0; i <= KT_LATENCY_BUCKETS; i++) {
		cum += atomic_load(&m->latency_le[i]);
		if (i < KT_LATENCY_BUCKETS)
			n = put(b, n, "kartenn_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
			        kt_latency_bounds_s[i], (unsigned long long)cum);
		else
			n = put(b, n, "kartenn_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
			        (unsigned long long)cum);
	}
	n = put(b, n, "kartenn_http_request_duration_seconds_sum %.6f\n"
	              "kartenn_http_request_duration_seconds_count %llu\n",
	        (double)atomic_load(&m->latency_us_sum) / 1e6, (unsigned long long)cum);
	return n;
}

int kt_metrics_get(kt_request_t *req)
{
	kt_server_t *srv = req->srv;
	kt_metrics_t *m = &srv->metrics;
	char *b = kt_arena_alloc(&req->arena, METRICS_MAX);
	if (!b)
		return KT_ENOMEM;
	size_t n = 0;
	n = put(b, n, "# HELP kartenn_http_requests_total HTTP requests answered, by status class.\n"
	              "# TYPE kartenn_http_requests_total counter\n");
	for (int c = 0; c < KT_STATUS_CLASSES; c++)
		n = put(b, n, "kartenn_http_requests_total{code=\"%dxx\"} %llu\n", c + 1,
		        (unsigned long long)atomic_load(&m->by_class[c]));
	/* this request is in flight too: it is counted */
	n = put(b, n, "# HELP kartenn_http_requests_in_flight Requests being answered.\n"
	              "# TYPE kartenn_http_requests_in_flight gauge\n"
	              "kartenn_http_requests_in_flight %llu\n",
	        (unsigned long long)atomic_load(&m->in_flight));
	n = put_latency(b, n, m);
	n = put(b, n, "# HELP kartenn_http_response_bytes_total Response body bytes sent.\n"
	              "# TYPE kartenn_http_response_bytes_total counter\n"
	              "kartenn_http_response_bytes_total %llu\n",
	        (unsigned long long)atomic_load(&m->bytes_out));
	n = put(b, n, "# HELP kartenn_uptime_seconds Seconds since the server started.\n"
	              "# TYPE kartenn_uptime_seconds gauge\n"
	              "kartenn_uptime_seconds %.3f\n"
	              "# HELP kartenn_start_time_seconds Start time, Unix epoch.\n"
	              "# TYPE kartenn_start_time_seconds gauge\n"
	              "kartenn_start_time_seconds %lld\n"
	              "# HELP kartenn_worker_threads Worker threads of the HTTP server.\n"
	              "# TYPE kartenn_worker_threads gauge\n"
	              "kartenn_worker_threads %u\n",
	        kt_monotonic_s() - srv->started, (long long)srv->started_wall,
	        srv->opts.threads);
	if (n < METRICS_MAX)
		n += kt_tiles_metrics(srv, b + n, METRICS_MAX - n);
	if (n >= METRICS_MAX)
		n = METRICS_MAX - 1;
	return kt_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", b, n,
	                  KT_BUF_COPY);
}
