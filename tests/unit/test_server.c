/*
 * test_server.c — unit tests of the server's request machinery: path
 * decoding, route matching with captures, the route table lookup (404 vs
 * 405), the per-request arena, problem bodies, WKB to GeoJSON, shared
 * (ready) answers and objects kept alive until a request completes. The HTTP
 * behaviour itself is tested end to end by tests/integration/test_server.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <microhttpd.h>

#include "kt_server_int.h"

static int dummy_handler(kt_request_t *req)
{
	(void)req;
	return 0;
}

static int other_handler(kt_request_t *req)
{
	(void)req;
	return 1;
}

/* Splits target with a fresh arena kept by the caller. */
static char **split(kt_arena_t *a, const char *target, size_t *n)
{
	char **segs = NULL;
	const char *why = NULL;
	int rc = kt_path_split(a, target, &segs, n, &why);
	assert_int_equal(rc, 0);
	return segs;
}

static void test_server_path_split(void **state)
{
	kt_arena_t a;
	kt_arena_init(&a, NULL, 0);
	size_t n;
	char **s = split(&a, "/api/features/b%C3%A2timent/x%20y?q=%zz", &n);
	assert_int_equal(n, 4);
	assert_string_equal(s[0], "api");
	assert_string_equal(s[2], "b\xc3\xa2timent");
	assert_string_equal(s[3], "x y");
	split(&a, "/", &n);
	assert_int_equal(n, 0);
	s = split(&a, "/api/layers/", &n);
	assert_int_equal(n, 3);
	assert_string_equal(s[2], "");
	s = split(&a, "/a+b", &n); /* '+' is literal in a path */
	assert_string_equal(s[0], "a+b");

	static const char *const bad[] = {
		"api", "", "/a/%zz", "/a/%4", "/a/%", "/a/%00b", "/a%2Fb", "/a/../b",
		"/a/%2e%2E/b", "/./a", "/a/%0A", "/a/.", NULL,
	};
	for (int i = 0; bad[i]; i++) {
		char **segs;
		const char *why = NULL;
		assert_int_equal(kt_path_split(&a, bad[i], &segs, &n, &why), KT_EINVAL);
		assert_non_null(why);
	}
	kt_arena_release(&a);
}

static void test_server_percent_decode(void **state)
{
	char out[32];
	assert_int_equal(kt_percent_decode("a+b%41", 6, out, 1), 4);
	assert_string_equal(out, "a bA");
	assert_int_equal(kt_percent_decode("a+b", 3, out, 0), 3);
	assert_string_equal(out, "a+b");
	assert_int_equal(kt_percent_decode("%4g", 3, out, 0), -1);
	/* the escape must be complete within n, even if the string goes on */
	assert_int_equal(kt_percent_decode("%41", 2, out, 0), -1);
}

static void test_server_route_literal(void **state)
{
	kt_arena_t a;
	kt_arena_init(&a, NULL, 0);
	size_t n;
	char **s = split(&a, "/healthz", &n);
	assert_true(kt_route_match("/healthz", s, n, NULL, NULL, NULL));
	assert_false(kt_route_match("/health", s, n, NULL, NULL, NULL));
	assert_false(kt_route_match("/healthz/x", s, n, NULL, NULL, NULL));
	assert_false(kt_route_match("/", s, n, NULL, NULL, NULL));
	split(&a, "/", &n);
	assert_true(kt_route_match("/", NULL, n, NULL, NULL, NULL));
	assert_false(kt_route_match("/healthz", NULL, n, NULL, NULL, NULL));
	s = split(&a, "/healthz/", &n);
	assert_false(kt_route_match("/healthz", s, n, NULL, NULL, NULL));
	kt_arena_release(&a);
}

static void test_server_route_captures(void **state)
{
	kt_arena_t a;
	kt_arena_init(&a, NULL, 0);
	kt_param_t p[KT_ROUTE_PARAMS_MAX];
	size_t np = 0, n;
	char **s = split(&a, "/api/features/eclairage_support/ab%2Dcd", &n);
	assert_true(kt_route_match("/api/features/{layer}/{uid}", s, n, &a, p, &np));
	assert_int_equal(np, 2);
	assert_string_equal(p[0].name, "layer");
	assert_string_equal(p[0].value, "eclairage_support");
	assert_string_equal(p[1].name, "uid");
	assert_string_equal(p[1].value, "ab-cd");
	assert_false(kt_route_match("/api/layers/{name}", s, n, &a, p, &np));

	s = split(&a, "/tiles/lanester/14/8130/5702.mvt", &n);
	assert_true(kt_route_match("/tiles/{tileset}/{z}/{x}/{y}.mvt", s, n, &a, p, &np));
	assert_int_equal(np, 4);
	assert_string_equal(p[3].name, "y");
	assert_string_equal(p[3].value, "5702");
	assert_false(kt_route_match("/tiles/{tileset}/{z}/{x}/{y}.pbf", s, n, NULL, NULL, NULL));
	assert_false(kt_route_match("/tiles/{tileset}.json", s, n, NULL, NULL, NULL));

	s = split(&a, "/tiles/lanester.json", &n);
	assert_true(kt_route_match("/tiles/{tileset}.json", s, n, &a, p, &np));
	assert_string_equal(p[0].value, "lanester");
	/* a capture is never empty */
	s = split(&a, "/tiles/.json", &n);
	assert_false(kt_route_match("/tiles/{tileset}.json", s, n, NULL, NULL, NULL));
	s = split(&a, "/tiles/a/1/2/.mvt", &n);
	assert_false(kt_route_match("/tiles/{tileset}/{z}/{x}/{y}.mvt", s, n, NULL, NULL, NULL));
	s = split(&a, "/api/layers/", &n);
	assert_false(kt_route_match("/api/layers/{name}", s, n, NULL, NULL, NULL));
	/* prefix and suffix around the capture */
	s = split(&a, "/v12x", &n);
	assert_true(kt_route_match("/v{n}x", s, n, &a, p, &np));
	assert_string_equal(p[0].value, "12");
	kt_arena_release(&a);
}

static void test_server_route_rest(void **state)
{
	kt_arena_t a;
	kt_arena_init(&a, NULL, 0);
	kt_param_t p[KT_ROUTE_PARAMS_MAX];
	size_t np = 0, n;
	char **s = split(&a, "/static/maplibre/dist/maplibre-gl.js", &n);
	assert_true(kt_route_match("/static/{path*}", s, n, &a, p, &np));
	assert_int_equal(np, 1);
	assert_string_equal(p[0].name, "path");
	assert_string_equal(p[0].value, "maplibre/dist/maplibre-gl.js");
	s = split(&a, "/static", &n);
	assert_false(kt_route_match("/static/{path*}", s, n, NULL, NULL, NULL));
	kt_arena_release(&a);
}

static const kt_route_t table[] = {
	{KT_M_GET, "/a", dummy_handler},
	{KT_M_POST | KT_M_DELETE, "/a", other_handler},
	{KT_M_GET, "/b/{id}", dummy_handler},
	{KT_M_POST, "/c", other_handler},
	{0, NULL, other_handler},
};

static void test_server_route_find(void **state)
{
	kt_arena_t a;
	kt_arena_init(&a, NULL, 0);
	size_t n;
	unsigned allowed;
	char **s = split(&a, "/a", &n);
	assert_ptr_equal(kt_route_find(table, KT_M_GET, s, n, &allowed), &table[0]);
	assert_ptr_equal(kt_route_find(table, KT_M_HEAD, s, n, &allowed), &table[0]);
	assert_ptr_equal(kt_route_find(table, KT_M_DELETE, s, n, &allowed), &table[1]);
	assert_null(kt_route_find(table, KT_M_PUT, s, n, &allowed));
	assert_int_equal(allowed, KT_M_GET | KT_M_POST | KT_M_DELETE);
	s = split(&a, "/c", &n);
	assert_null(kt_route_find(table, KT_M_GET, s, n, &allowed));
	assert_null(kt_route_find(table, KT_M_HEAD, s, n, &allowed));
	assert_int_equal(allowed, KT_M_POST);
	s = split(&a, "/nowhere", &n);
	const kt_route_t *r = kt_route_find(table, KT_M_GET, s, n, &allowed);
	assert_ptr_equal(r, &table[4]);
	assert_null(r->pattern);
	assert_int_equal(allowed, 0);
	kt_arena_release(&a);
}

static void test_server_route_table(void **state)
{
	/* the server's own table: the endpoints of issue 2 are reachable */
	kt_arena_t a;
	kt_arena_init(&a, NULL, 0);
	size_t n;
	unsigned allowed;
	static const struct {
		const char *path;
		kt_handler_fn want;
	} cases[] = {
		{"/healthz", kt_health_get},
		{"/metrics", kt_metrics_get},
		{"/api/layers", kt_catalogue_list},
		{"/api/layers/batiment", kt_catalogue_layer},
		{"/api/features/batiment/1234", kt_catalogue_feature},
		{"/api/features/batiment", kt_not_found},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char **s = split(&a, cases[i].path, &n);
		const kt_route_t *r = kt_route_find(kt_server_routes, KT_M_GET, s, n, &allowed);
		assert_non_null(r);
		assert_ptr_equal(r->handler, cases[i].want);
	}
	kt_arena_release(&a);
}

static void test_server_methods(void **state)
{
	char buf[64];
	assert_int_equal(kt_method_bit("GET"), KT_M_GET);
	assert_int_equal(kt_method_bit("get"), KT_M_OTHER); /* methods are case-sensitive */
	assert_int_equal(kt_method_bit("BREW"), KT_M_OTHER);
	kt_methods_format(KT_M_GET, buf, sizeof buf);
	assert_string_equal(buf, "GET, HEAD");
	kt_methods_format(KT_M_POST | KT_M_DELETE | KT_M_OPTIONS, buf, sizeof buf);
	assert_string_equal(buf, "POST, DELETE, OPTIONS");
	kt_methods_format(0, buf, sizeof buf);
	assert_string_equal(buf, "");
}

static void test_server_arena(void **state)
{
	unsigned char first[256];
	kt_arena_t a;
	kt_arena_init(&a, first, sizeof first);
	char *p0 = kt_arena_alloc(&a, 10);
	assert_true(p0 >= (char *)first && p0 < (char *)first + sizeof first);
	/* many small allocations: aligned, distinct, writable */
	char *prev = NULL;
	for (int i = 0; i < 5000; i++) {
		char *p = kt_arena_alloc(&a, (size_t)(i % 97) + 1);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 16, 0);
		memset(p, 0xab, (size_t)(i % 97) + 1);
		assert_ptr_not_equal(p, prev);
		prev = p;
	}
	char *big = kt_arena_alloc(&a, 3 * 1024 * 1024);
	assert_non_null(big);
	memset(big, 1, 3 * 1024 * 1024);
	char *s = kt_arena_printf(&a, "%s-%d-%0300d", "layer", 42, 7);
	assert_non_null(s);
	assert_int_equal(strlen(s), strlen("layer-42-") + 300);
	assert_memory_equal(s, "layer-42-000", 12);
	assert_string_equal(kt_arena_strndup(&a, "abcdef", 3), "abc");
	assert_true(a.total > 3 * 1024 * 1024);
	kt_arena_release(&a);
	assert_int_equal(a.total, 0);
	assert_null(a.head);
	/* the first block is used again after release */
	char *again = kt_arena_alloc(&a, 10);
	assert_true(again >= (char *)first && again < (char *)first + sizeof first);
	kt_arena_release(&a);
}

static void test_server_arena_alloc_failure(void **state)
{
	kt_arena_t a;
	kt_arena_init(&a, NULL, 0);
	kt_alloc_fail_after(0);
	assert_null(kt_arena_alloc(&a, 100));
	assert_null(kt_arena_strdup(&a, "x"));
	kt_alloc_fail_after(-1);
	assert_non_null(kt_arena_alloc(&a, 100));
	kt_arena_release(&a);
}

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	assert_non_null(j);
	return j;
}

static void test_server_problem_body(void **state)
{
	size_t len = 0;
	char *body = kt_problem_body(404, NULL, NULL, "no layer \"x\"\n", &len);
	assert_non_null(body);
	assert_int_equal(len, strlen(body));
	json_t *j = parse(body);
	assert_string_equal(json_string_value(json_object_get(j, "type")), "about:blank");
	assert_string_equal(json_string_value(json_object_get(j, "title")), "Not Found");
	assert_int_equal(json_integer_value(json_object_get(j, "status")), 404);
	assert_string_equal(json_string_value(json_object_get(j, "detail")), "no layer \"x\"\n");
	json_decref(j);
	free(body);

	/* bad UTF-8 from a client never breaks the document */
	body = kt_problem_body(400, "https://kartenn.example/problems/x", "Mauvaise requête",
	                       "bad \xff\xfe bytes", NULL);
	assert_non_null(body);
	j = parse(body);
	assert_string_equal(json_string_value(json_object_get(j, "type")),
	                    "https://kartenn.example/problems/x");
	assert_string_equal(json_string_value(json_object_get(j, "title")), "Mauvaise requête");
	assert_string_equal(json_string_value(json_object_get(j, "detail")), "bad ?? bytes");
	json_decref(j);
	free(body);

	body = kt_problem_body(405, NULL, NULL, NULL, NULL);
	j = parse(body);
	assert_string_equal(json_string_value(json_object_get(j, "title")), "Method Not Allowed");
	assert_null(json_object_get(j, "detail"));
	json_decref(j);
	free(body);
}

/* little-endian WKB writers for the geometry tests */
static size_t put_u32(unsigned char *b, size_t o, uint32_t v)
{
	memcpy(b + o, &v, 4);
	return o + 4;
}

static size_t put_f64(unsigned char *b, size_t o, double v)
{
	memcpy(b + o, &v, 8);
	return o + 8;
}

static char *geojson_of(const unsigned char *wkb, size_t len)
{
	json_t *g = NULL;
	if (kt_wkb_to_geojson(wkb, len, &g))
		return NULL;
	char *s = json_dumps(g, JSON_COMPACT | JSON_REAL_PRECISION(12));
	json_decref(g);
	return s;
}

static void test_server_wkb_geojson(void **state)
{
	unsigned char b[256];
	size_t o = 0;
	b[o++] = 1;
	o = put_u32(b, o, 1);
	o = put_f64(b, o, -3.34);
	o = put_f64(b, o, 47.76);
	char *s = geojson_of(b, o);
	assert_string_equal(s, "{\"type\":\"Point\",\"coordinates\":[-3.34,47.76]}");
	free(s);
	for (size_t cut = 0; cut < o; cut++)
		assert_null(geojson_of(b, cut)); /* every truncation is refused */

	/* LineString Z (ISO 1002) */
	o = 0;
	b[o++] = 1;
	o = put_u32(b, o, 1002);
	o = put_u32(b, o, 2);
	for (int i = 0; i < 6; i++)
		o = put_f64(b, o, i + 0.5);
	s = geojson_of(b, o);
	assert_string_equal(s, "{\"type\":\"LineString\",\"coordinates\":[[0.5,1.5,2.5],[3.5,4.5,5.5]]}");
	free(s);

	/* MultiPolygon of one triangle */
	o = 0;
	b[o++] = 1;
	o = put_u32(b, o, 6);
	o = put_u32(b, o, 1);
	b[o++] = 1;
	o = put_u32(b, o, 3);
	o = put_u32(b, o, 1);
	o = put_u32(b, o, 4);
	double ring[] = {0, 0, 1, 0, 0, 1, 0, 0};
	for (int i = 0; i < 8; i++)
		o = put_f64(b, o, ring[i]);
	s = geojson_of(b, o);
	assert_string_equal(s, "{\"type\":\"MultiPolygon\",\"coordinates\":[[[[0.0,0.0],[1.0,0.0],[0.0,1.0],[0.0,0.0]]]]}");
	free(s);

	/* a count the bytes cannot hold */
	o = 0;
	b[o++] = 1;
	o = put_u32(b, o, 2);
	o = put_u32(b, o, 0xffffffffu);
	assert_null(geojson_of(b, o));
	/* unknown type, bad byte order */
	b[0] = 1;
	put_u32(b, 1, 17);
	assert_null(geojson_of(b, 9));
	b[0] = 7;
	assert_null(geojson_of(b, 9));
}

static int releases;

static void count_release(void *p)
{
	(*(int *)p)++;
	releases++;
}

/* A ready answer is queued as it is and never destroyed by the request:
 * replacing it leaves it whole for its owner (ASan would see a use after
 * free below), no header can be added to it through the request, and the
 * common headers are the server's (CORS, nosniff, Cache-Control). An
 * object kept for the request is released once, when replaced. */
static void test_server_shared_answer(void **state)
{
	(void)state;
	kt_server_t srv = {.cors_origin = "https://carte.example"};
	kt_request_t *req = calloc(1, sizeof *req);
	assert_non_null(req);
	req->srv = &srv;
	static char bytes[] = "tile bytes";
	struct MHD_Response *r = MHD_create_response_from_buffer(sizeof bytes - 1, bytes,
	                                                         MHD_RESPMEM_PERSISTENT);
	assert_non_null(r);
	assert_int_equal(kt_response_common_headers(&srv, r, "public, no-cache"), 0);
	assert_string_equal(MHD_get_response_header(r, "Cache-Control"), "public, no-cache");
	assert_string_equal(MHD_get_response_header(r, "Access-Control-Allow-Origin"),
	                    "https://carte.example");
	assert_string_equal(MHD_get_response_header(r, "Vary"), "Origin");
	assert_string_equal(MHD_get_response_header(r, "X-Content-Type-Options"), "nosniff");

	assert_int_equal(kt_respond(req, 200, "text/plain", "x", 1, KT_BUF_COPY), 0);
	assert_int_equal(kt_respond_shared(req, 200, r, sizeof bytes - 1), 0);
	assert_ptr_equal(req->resp, r);
	assert_true(req->resp_shared);
	assert_int_equal(req->body_bytes, sizeof bytes - 1);
	assert_int_equal(kt_respond_header(req, "X-Other", "1"), KT_EINTERNAL);
	assert_null(MHD_get_response_header(r, "X-Other"));
	/* a late error replaces the shared answer without destroying it */
	assert_int_equal(kt_respond(req, 500, "text/plain", "e", 1, KT_BUF_COPY), 0);
	assert_false(req->resp_shared);
	assert_int_equal(MHD_add_response_header(r, "X-Still", "there"), MHD_YES);
	MHD_destroy_response(r);
	MHD_destroy_response(req->resp);

	int a = 0, b = 0;
	releases = 0;
	kt_req_keep(req, &a, count_release);
	kt_req_keep(req, &b, count_release); /* releases a at once */
	assert_int_equal(a, 1);
	assert_int_equal(b, 0);
	req->release(req->release_arg); /* what the completion callback does */
	assert_int_equal(b, 1);
	assert_int_equal(releases, 2);
	free(req);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_path_split),
		cmocka_unit_test(test_server_percent_decode),
		cmocka_unit_test(test_server_route_literal),
		cmocka_unit_test(test_server_route_captures),
		cmocka_unit_test(test_server_route_rest),
		cmocka_unit_test(test_server_route_find),
		cmocka_unit_test(test_server_route_table),
		cmocka_unit_test(test_server_methods),
		cmocka_unit_test(test_server_arena),
		cmocka_unit_test(test_server_arena_alloc_failure),
		cmocka_unit_test(test_server_problem_body),
		cmocka_unit_test(test_server_wkb_geojson),
		cmocka_unit_test(test_server_shared_answer),
	};
	return cmocka_run_group_tests_name("server", tests, NULL, NULL);
}
