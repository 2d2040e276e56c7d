/*
 * route.c — from a raw request target to a route: strict path decoding,
 * pattern matching with captures, and the table lookup that tells a 404
 * (no pattern matches) from a 405 (a pattern matches, not the method).
 *
 * Invariants: a path is split and decoded once, before any matching, so
 * every pattern sees the same segments and no handler ever sees an
 * undecodable, dot-dot, NUL or encoded-slash segment. Matching allocates
 * nothing unless captures are asked for; the table is read-only.
 */
#include <string.h>

#include "kt_server_int.h"

static const struct {
	const char *name;
	unsigned bit;
} methods[] = {
	{"GET", KT_M_GET},       {"HEAD", KT_M_HEAD},   {"POST", KT_M_POST},
	{"PUT", KT_M_PUT},       {"DELETE", KT_M_DELETE}, {"PATCH", KT_M_PATCH},
	{"OPTIONS", KT_M_OPTIONS},
};

unsigned kt_method_bit(const char *method)
{
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (!strcmp(method, methods[i].name))
			return methods[i].bit;
	return KT_M_OTHER;
}

void kt_methods_format(unsigned mask, char *buf, size_t size)
{
	size_t len = 0;
	if (size == 0)
		return;
	buf[0] = 0;
	if (mask & KT_M_GET)
		mask |= KT_M_HEAD;
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		if (!(mask & methods[i].bit))
			continue;
		size_t n = strlen(methods[i].name);
		if (len + n + 3 > size)
			break;
		if (len) {
			memcpy(buf + len, ", ", 2);
			len += 2;
		}
		memcpy(buf + len, methods[i].name, n + 1);
		len += n;
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long kt_percent_decode(const char *s, size_t n, char *out, int plus_as_space)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			if (i + 2 >= n)
				return -1;
			int h = hexval((unsigned char)s[i + 1]);
			int l = hexval((unsigned char)s[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			out[o++] = (char)(h * 16 + l);
			i += 2;
		} else if (plus_as_space && s[i] == '+') {
			out[o++] = ' ';
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = 0;
	return (long)o;
}

/* Decodes one raw segment into the arena and checks it. */
static int segment_decode(kt_arena_t *a, const char *raw, size_t n, char **out,
                          const char **reason)
{
	char *seg = kt_arena_alloc(a, n + 1);
	if (!seg)
		return KT_ENOMEM;
	long len = kt_percent_decode(raw, n, seg, 0);
	if (len < 0) {
		*reason = "bad percent-encoding in the path";
		return KT_EINVAL;
	}
	for (long i = 0; i < len; i++) {
		unsigned char c = (unsigned char)seg[i];
		if (c == 0 || c == '/') {
			*reason = "encoded NUL or '/' in the path";
			return KT_EINVAL;
		}
		if (c < 0x20 || c == 0x7f) {
			*reason = "control character in the path";
			return KT_EINVAL;
		}
	}
	if (!strcmp(seg, ".") || !strcmp(seg, "..")) {
		*reason = "dot segment ('.' or '..') in the path";
		return KT_EINVAL;
	}
	*out = seg;
	return 0;
}

int kt_path_split(kt_arena_t *a, const char *target, char ***segs,
                  size_t *n_segs, const char **reason)
{
	const char *reason_local = NULL;
	if (!reason)
		reason = &reason_local;
	*segs = NULL;
	*n_segs = 0;
	if (!target || target[0] != '/') {
		*reason = "the path must start with '/'";
		return KT_EINVAL;
	}
	size_t plen = strcspn(target, "?#");
	size_t count = 0;
	for (size_t i = 0; i < plen; i++)
		count += target[i] == '/';
	if (plen == 1)
		return 0; /* "/" */
	char **v = kt_arena_alloc(a, count * sizeof *v);
	if (!v)
		return KT_ENOMEM;
	const char *p = target + 1, *end = target + plen;
	for (size_t k = 0; k < count; k++) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		const char *stop = slash ? slash : end;
		int rc = segment_decode(a, p, (size_t)(stop - p), &v[k], reason);
		if (rc)
			return rc;
		p = stop + 1;
	}
	*segs = v;
	*n_segs = count;
	return 0;
}

/* One pattern segment: [pat, pat_end). Matches seg; on a capture, sets
 * name and value span. */
static int segment_match(const char *pat, size_t plen, const char *seg,
                         const char **name, size_t *name_len,
                         const char **val, size_t *val_len)
{
	const char *open = memchr(pat, '{', plen);
	*name = NULL;
	if (!open)
		return strlen(seg) == plen && !memcmp(pat, seg, plen);
	const char *close = memchr(open, '}', plen - (size_t)(open - pat));
	if (!close)
		return 0; /* malformed pattern never matches */
	size_t pre = (size_t)(open - pat);
	size_t suf = plen - (size_t)(close + 1 - pat);
	size_t slen = strlen(seg);
	if (slen <= pre + suf)
		return 0; /* the capture must not be empty */
	if (memcmp(seg, pat, pre) || memcmp(seg + slen - suf, close + 1, suf))
		return 0;
	*name = open + 1;
	*name_len = (size_t)(close - open - 1);
	*val = seg + pre;
	*val_len = slen - pre - suf;
	return 1;
}

static int add_param(kt_arena_t *a, kt_param_t *params, size_t *n,
                     const char *name, size_t name_len, const char *val,
                     size_t val_len)
{
	if (*n >= KT_ROUTE_PARAMS_MAX)
		return 0;
	params[*n].name = kt_arena_strndup(a, name, name_len);
	params[*n].value = kt_arena_strndup(a, val, val_len);
	if (!params[*n].name || !params[*n].value)
		return 0;
	(*n)++;
	return 1;
}

/* "{name*}" as the whole last pattern segment: captures segs[i..]. */
static int match_rest(const char *pat, size_t plen, char *const *segs,
                      size_t i, size_t n_segs, kt_arena_t *a,
                      kt_param_t *params, size_t *n_params)
{
	if (i >= n_segs)
		return 0;
	if (!params)
		return 1;
	size_t total = 0;
	for (size_t k = i; k < n_segs; k++)
		total += strlen(segs[k]) + 1;
	char *joined = kt_arena_alloc(a, total);
	if (!joined)
		return 0;
	size_t o = 0;
	for (size_t k = i; k < n_segs; k++) {
		size_t l = strlen(segs[k]);
		memcpy(joined + o, segs[k], l);
		o += l;
		joined[o++] = k + 1 < n_segs ? '/' : 0;
	}
	return add_param(a, params, n_params, pat + 1, plen - 3, joined, o - 1);
}

int kt_route_match(const char *pattern, char *const *segs, size_t n_segs,
                   kt_arena_t *a, kt_param_t *params, size_t *n_params)
{
	if (!pattern || pattern[0] != '/')
		return 0;
	if (n_params)
		*n_params = 0;
	size_t dummy = 0;
	if (!n_params)
		n_params = &dummy;
	const char *p = pattern + 1;
	size_t i = 0;
	if (!*p)
		return n_segs == 0;
	for (;;) {
		size_t plen = strcspn(p, "/");
		int last = p[plen] == 0;
		if (last && plen >= 4 && p[0] == '{' && !memcmp(p + plen - 2, "*}", 2))
			return match_rest(p, plen, segs, i, n_segs, a, params, n_params);
		if (i >= n_segs)
			return 0;
		const char *name, *val;
		size_t name_len = 0, val_len = 0;
		if (!segment_match(p, plen, segs[i], &name, &name_len, &val, &val_len))
			return 0;
		if (name && params &&
		    !add_param(a, params, n_params, name, name_len, val, val_len))
			return 0;
		i++;
		if (last)
			return i == n_segs;
		p += plen + 1;
	}
}

const kt_route_t *kt_route_find(const kt_route_t *table, unsigned method,
                                char *const *segs, size_t n_segs,
                                unsigned *allowed)
{
	unsigned want = method == KT_M_HEAD ? KT_M_GET | KT_M_HEAD : method;
	const kt_route_t *r = table;
	*allowed = 0;
	for (; r->pattern; r++) {
		if (!kt_route_match(r->pattern, segs, n_segs, NULL, NULL, NULL))
			continue;
		if (r->methods & want)
			return r;
		*allowed |= r->methods;
	}
	return *allowed ? NULL : r;
}
