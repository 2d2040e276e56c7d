/*
 * kvp.c — the key-value-pair encoding of OGC requests: a query string or
 * an application/x-www-form-urlencoded body into decoded pairs, plus the
 * small value grammars the services share (comma lists, BBOX).
 *
 * This parser reads untrusted bytes (it has a fuzz target): every byte is
 * checked once, decoding is strict (a bad %-escape or an encoded NUL is
 * refused, never passed on), and the result lives in the request arena.
 * Keys are case-insensitive as OGC asks, so a key given twice under two
 * spellings is refused rather than silently choosing one.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kt_ows_int.h"

#define KVP_MAX_PAIRS 256

static char *decode(kt_arena_t *a, const char *s, size_t n, int *bad)
{
	char *out = kt_arena_alloc(a, n + 1);
	if (!out)
		return NULL;
	long len = kt_percent_decode(s, n, out, 1);
	*bad = len < 0 || memchr(out, 0, (size_t)len) != NULL;
	return out;
}

int kt_kvp_parse(kt_arena_t *a, const char *s, size_t n, kt_kvp_t *out, const char **why,
                 const char **bad_key)
{
	out->v = NULL;
	out->n = 0;
	*bad_key = NULL;
	size_t max = 1;
	for (size_t i = 0; i < n; i++)
		max += s[i] == '&';
	if (max > KVP_MAX_PAIRS) {
		*why = "too many parameters";
		return KT_EINVAL;
	}
	out->v = kt_arena_alloc(a, max * sizeof *out->v);
	if (!out->v)
		return KT_ENOMEM;
	const char *p = s, *end = s + n;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;
		if (stop > p) {
			const char *eq = memchr(p, '=', (size_t)(stop - p));
			const char *kend = eq ? eq : stop;
			int bad1 = 0, bad2 = 0;
			char *k = decode(a, p, (size_t)(kend - p), &bad1);
			char *v = eq ? decode(a, eq + 1, (size_t)(stop - eq - 1), &bad2)
			             : kt_arena_strdup(a, "");
			if (!k || !v)
				return KT_ENOMEM;
			if (bad1 || bad2) {
				*why = "bad percent-encoding or NUL byte in a parameter";
				*bad_key = bad1 ? NULL : k;
				return KT_EINVAL;
			}
			if (!*k) {
				*why = "a parameter has an empty name";
				return KT_EINVAL;
			}
			if (kt_kvp_get(out, k)) {
				*why = kt_arena_printf(a, "parameter %s is given more than once", k);
				*bad_key = k;
				return KT_EINVAL;
			}
			out->v[out->n].key = k;
			out->v[out->n].value = v;
			out->n++;
		}
		p = stop + 1;
	}
	return 0;
}

const char *kt_kvp_get(const kt_kvp_t *k, const char *key)
{
	for (size_t i = 0; k && i < k->n; i++)
		if (!strcasecmp(k->v[i].key, key))
			return k->v[i].value;
	return NULL;
}

static char *trimmed(kt_arena_t *a, const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return kt_arena_strndup(a, s, n);
}

long kt_kvp_split(kt_arena_t *a, const char *s, char sep, char ***items, size_t max)
{
	size_t count = 1;
	for (const char *p = s; *p; p++)
		count += *p == sep;
	if (count > max)
		count = max;
	char **v = kt_arena_alloc(a, count * sizeof *v);
	if (!v)
		return -1;
	size_t k = 0;
	const char *p = s;
	while (k < count) {
		const char *q = strchr(p, sep);
		size_t n = q ? (size_t)(q - p) : strlen(p);
		if (!(v[k++] = trimmed(a, p, n)))
			return -1;
		if (!q)
			break;
		p = q + 1;
	}
	*items = v;
	return (long)k;
}

static int parse_double(const char *s, double *v)
{
	char *end;
	errno = 0;
	*v = strtod(s, &end);
	return (end == s || *end || errno || !isfinite(*v)) ? -1 : 0;
}

int kt_kvp_bbox(kt_arena_t *a, const char *s, double v[4], const char **crs)
{
	char **it;
	long n = kt_kvp_split(a, s, ',', &it, 6);
	*crs = NULL;
	if (n < 0)
		return KT_ENOMEM;
	if (n != 4 && n != 5)
		return KT_EINVAL;
	for (int i = 0; i < 4; i++)
		if (parse_double(it[i], &v[i]))
			return KT_EINVAL;
	if (n == 5)
		*crs = it[4];
	return v[0] <= v[2] && v[1] <= v[3] ? 0 : KT_EINVAL;
}
