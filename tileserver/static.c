/*
 * static.c — files served as they are, each family from one fixed folder:
 *
 *   GET /                          <web_root>/web/index.html (the map page)
 *   GET /static/maplibre-gl/{p*}   <web_root>/node_modules/maplibre-gl/dist/p
 *   GET /static/fonts/{p*}         <fonts_dir>/p (label fonts of the styles)
 *   GET /static/{p*}               <web_root>/web/p
 *
 * What it keeps true: a file is served only when its real path (symbolic
 * links resolved) lies inside the real path of its folder, it is a regular
 * file, no segment of the request names a hidden file (".x"; "." and ".."
 * are refused earlier by kt_path_split, encoded ones included), and its
 * extension is in the type table below, which gives its Content-Type.
 * Anything else answers one and the same 404 problem, so that nothing can
 * be learnt about the rest of the disk. Answers carry a strong ETag (size
 * and modification time) and If-None-Match gives 304. Files are sent from
 * their descriptor (sendfile), never read into memory.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kt_server_int.h"

#define MAPLIBRE_DIST "node_modules/maplibre-gl/dist"

/* What may be served, by extension. Anything else is a 404: a stray
 * file in a served folder (a source map is fine, a .d.ts or a backup is
 * not) stays private. */
static const struct {
	const char *ext;
	const char *type;
} types[] = {
	{".html", "text/html; charset=utf-8"},
	{".js", "text/javascript; charset=utf-8"},
	{".mjs", "text/javascript; charset=utf-8"},
	{".css", "text/css; charset=utf-8"},
	{".json", "application/json"},
	{".map", "application/json"},
	{".svg", "image/svg+xml"},
	{".png", "image/png"},
	{".ico", "image/x-icon"},
	{".ttf", "font/ttf"},
	{".otf", "font/otf"},
	{".woff2", "font/woff2"},
	{".txt", "text/plain; charset=utf-8"},
};

static const char *content_type(const char *rel)
{
	const char *base = strrchr(rel, '/');
	base = base ? base + 1 : rel;
	const char *dot = strrchr(base, '.');
	if (!dot)
		return NULL;
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (!strcmp(dot, types[i].ext))
			return types[i].type;
	return NULL;
}

/* rel is made of '/'-joined decoded segments: refuses empty ones, hidden
 * names and anything a file name should not hold. */
static int rel_ok(const char *rel)
{
	if (!*rel)
		return 0;
	for (const char *s = rel;;) {
		size_t n = strcspn(s, "/");
		if (n == 0 || s[0] == '.')
			return 0;
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)s[i] < 0x20 || s[i] == '\\')
				return 0;
		if (!s[n])
			return 1;
		s += n + 1;
	}
}

/* 1 when the If-None-Match list holds etag (or is "*"). Weak tags
 * compare equal to their strong form, as RFC 9110 asks for GET. */
int kt_etag_matches(const char *inm, const char *etag)
{
	if (!inm)
		return 0;
	size_t elen = strlen(etag);
	for (const char *s = inm; *s;) {
		s += strspn(s, " \t,");
		size_t n = strcspn(s, ",");
		size_t m = n;
		while (m && (s[m - 1] == ' ' || s[m - 1] == '\t'))
			m--;
		const char *t = s;
		if (m >= 2 && !memcmp(t, "W/", 2)) {
			t += 2;
			m -= 2;
		}
		if ((m == 1 && *t == '*') || (m == elen && !memcmp(t, etag, elen)))
			return 1;
		s += n;
	}
	return 0;
}

/* The real path of path (malloc'd) when it lies inside the real path of
 * dir, else NULL. */
static char *resolve_inside(const char *dir, const char *path)
{
	char *rd = realpath(dir, NULL), *rp = rd ? realpath(path, NULL) : NULL;
	if (rd && rp) {
		size_t n = strlen(rd);
		if (strncmp(rp, rd, n) || (rp[n] != '/' && !(n == 1 && rd[0] == '/'))) {
			free(rp);
			rp = NULL;
		}
	}
	free(rd);
	return rp;
}

static int not_found(kt_request_t *req)
{
	return kt_respond_problem(req, 404, "no file at this path");
}

/* Serves dir/rel. cache_control applies to 200 and 304 answers. */
static int serve_file(kt_request_t *req, const char *dir, const char *rel,
                      const char *cache_control)
{
	const char *type = content_type(rel);
	if (!rel_ok(rel) || !type)
		return not_found(req);
	char *path = kt_arena_printf(&req->arena, "%s/%s", dir, rel);
	if (!path)
		return KT_ENOMEM;
	char *real = resolve_inside(dir, path);
	if (!real)
		return not_found(req);
	/* the resolved path holds no link: one swapped in meanwhile fails */
	int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(real);
	struct stat st;
	if (fd < 0)
		return not_found(req);
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return not_found(req);
	}
	char etag[64];
	snprintf(etag, sizeof etag, "\"%llx-%llx%09ld\"", (unsigned long long)st.st_size,
	         (unsigned long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
	req->cache_control = cache_control;
	int rc;
	if (kt_etag_matches(kt_req_header(req, "If-None-Match"), etag)) {
		close(fd);
		rc = kt_respond(req, 304, NULL, NULL, 0, KT_BUF_STATIC);
	} else {
		rc = kt_respond_fd(req, 200, type, fd, (uint64_t)st.st_size);
	}
	return rc ? rc : kt_respond_header(req, "ETag", etag);
}

static char *web_dir(kt_request_t *req, const char *sub)
{
	return kt_arena_printf(&req->arena, "%s/%s", req->srv->web_root, sub);
}

int kt_static_page(kt_request_t *req)
{
	char *dir = web_dir(req, "web");
	if (!dir)
		return KT_ENOMEM;
	int rc = serve_file(req, dir, "index.html", "no-cache");
	if (!rc && req->status == 404)
		return kt_respond_problem(req, 404, "the map page is not installed here "
		                          "(kartenn serve --web-root)");
	return rc;
}

int kt_static_web(kt_request_t *req)
{
	char *dir = web_dir(req, "web");
	return dir ? serve_file(req, dir, kt_req_param(req, "path"), "no-cache") : KT_ENOMEM;
}

int kt_static_maplibre(kt_request_t *req)
{
	char *dir = web_dir(req, MAPLIBRE_DIST);
	return dir ? serve_file(req, dir, kt_req_param(req, "path"), "public, max-age=86400")
	           : KT_ENOMEM;
}

int kt_static_fonts(kt_request_t *req)
{
	return serve_file(req, req->srv->fonts_dir, kt_req_param(req, "path"),
	                  "public, max-age=604800");
}
