/*
 * styles.c — GET /styles/{name}.json: the MapLibre GL styles of
 * <web_root>/styles/, with their URLs made absolute for this server.
 *
 * A style file names this server's resources by root-relative URLs
 * ("/tiles/lanester.json", "/static/fonts/DejaVuSans.ttf"), because the
 * same file serves every deployment and the WMS renderer reads it too. The
 * answer prefixes them with the scheme and host the client reached this
 * server by (the Host header; X-Forwarded-Proto from a reverse proxy), so
 * it works on any host name and port. Only URL-valued members are
 * touched: a source's url, tiles and data, glyphs, sprite, and the urls of
 * font-faces; absolute URLs are left as they are. A Host header that is
 * not a plain host[:port] falls back to the server's own URL.
 *
 * The file is read at each request (styles are small and edited in
 * place); the ETag is a hash of the answer, so an edit shows at once.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kt_server_int.h"

#define STYLE_NAME_MAX 64
#define HOST_MAX 255

static int name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > STYLE_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_' && name[i] != '-')
			return 0;
	return 1;
}

static int host_ok(const char *h)
{
	size_t n = h ? strlen(h) : 0;
	if (n == 0 || n > HOST_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)h[i]) && !strchr(".-:[]", h[i]))
			return 0;
	return 1;
}

/* "http://host:port", without a trailing '/', in the arena. */
static const char *base_url(kt_request_t *req)
{
	const char *host = kt_req_header(req, "Host");
	if (!host_ok(host)) {
		size_t n = strlen(req->srv->url);
		return kt_arena_strndup(&req->arena, req->srv->url, n ? n - 1 : 0);
	}
	const char *proto = kt_req_header(req, "X-Forwarded-Proto");
	if (!proto || (strcmp(proto, "https") && strcmp(proto, "http")))
		proto = "http";
	return kt_arena_printf(&req->arena, "%s://%s", proto, host);
}

/* The absolute form of a root-relative URL string, or NULL to keep v. */
static json_t *absolute(const json_t *v, const char *base)
{
	const char *s = json_string_value(v);
	if (!s || s[0] != '/' || s[1] == '/')
		return NULL;
	return json_sprintf("%s%s", base, s);
}

static int fix_member(json_t *obj, const char *key, const char *base)
{
	json_t *v = json_object_get(obj, key);
	json_t *a = absolute(v, base);
	return a ? json_object_set_new(obj, key, a) : 0;
}

static int fix_array(json_t *arr, const char *base)
{
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v) {
		json_t *a = absolute(v, base);
		if (a && json_array_set_new(arr, i, a))
			return -1;
	}
	return 0;
}

/* font-faces: {"Name": "url" | [{"url": …, "unicode-range": […]}, …]} */
static int fix_font_faces(json_t *ff, const char *base)
{
	const char *name;
	json_t *decl;
	json_object_foreach(ff, name, decl) {
		if (json_is_string(decl)) {
			if (fix_member(ff, name, base))
				return -1;
			continue;
		}
		size_t i;
		json_t *face;
		json_array_foreach(decl, i, face)
			if (fix_member(face, "url", base))
				return -1;
	}
	return 0;
}

static int make_absolute(json_t *style, const char *base)
{
	const char *id;
	json_t *src;
	json_object_foreach(json_object_get(style, "sources"), id, src) {
		if (fix_member(src, "url", base) || fix_member(src, "data", base) ||
		    fix_array(json_object_get(src, "tiles"), base))
			return -1;
	}
	if (fix_member(style, "glyphs", base))
		return -1;
	json_t *sprite = json_object_get(style, "sprite");
	if (json_is_string(sprite) ? fix_member(style, "sprite", base) : 0)
		return -1;
	size_t i;
	json_t *sp;
	json_array_foreach(sprite, i, sp)
		if (fix_member(sp, "url", base))
			return -1;
	return fix_font_faces(json_object_get(style, "font-faces"), base);
}

/* FNV-1a, 64 bits: the ETag of an answer. */
static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int answer(kt_request_t *req, json_t *style)
{
	char *text = json_dumps(style, KT_JSON_FLAGS);
	if (!text)
		return KT_ENOMEM;
	size_t len = strlen(text);
	char etag[24];
	snprintf(etag, sizeof etag, "\"%016llx\"", (unsigned long long)fnv1a(text, len));
	req->cache_control = "no-cache";
	int rc;
	if (kt_etag_matches(kt_req_header(req, "If-None-Match"), etag)) {
		free(text);
		rc = kt_respond(req, 304, NULL, NULL, 0, KT_BUF_STATIC);
	} else {
		rc = kt_respond(req, 200, "application/json", text, len, KT_BUF_FREE);
	}
	return rc ? rc : kt_respond_header(req, "ETag", etag);
}

int kt_styles_get(kt_request_t *req)
{
	const char *name = kt_req_param(req, "name");
	if (!name_ok(name))
		return kt_respond_problem(req, 404, "no style named '%.64s'", name);
	char *path = kt_arena_printf(&req->arena, "%s/styles/%s.json", req->srv->web_root, name);
	if (!path)
		return KT_ENOMEM;
	if (access(path, R_OK))
		return kt_respond_problem(req, 404, "no style named '%s'", name);
	json_error_t jerr;
	json_t *style = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!style) {
		dprintf(STDERR_FILENO, "kartenn: %s: %s:%d: %s\n", __func__, path, jerr.line, jerr.text);
		return kt_respond_problem(req, 500, "the style '%s' is not valid JSON", name);
	}
	const char *base = base_url(req);
	int rc = base && !make_absolute(style, base) ? answer(req, style) : KT_ENOMEM;
	json_decref(style);
	return rc;
}
