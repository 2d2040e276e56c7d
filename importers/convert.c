/*
 * convert.c — conversion of source values into layer attribute types.
 *
 * Sources hold text (CSV, DXF), typed numbers (Shapefile, GeoPackage) or
 * both. A value either converts exactly into the attribute type or is
 * refused with a reason that quotes it: nothing is rounded, truncated or
 * guessed silently. Conversion allocates nothing: text results point into
 * the input, or into the value's own small buffer for normalised dates.
 */
#include "kt_import.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int fail(char *why, size_t n, const char *fmt, const char *text)
{
	if (why && n)
		snprintf(why, n, fmt, text);
	return KT_EINVAL;
}

/* Copies text without surrounding blanks into buf (NUL-terminated);
 * returns 0, or -1 when it does not fit. */
static int trim_into(const char *text, char *buf, size_t n)
{
	while (isspace((unsigned char)*text))
		text++;
	size_t len = strlen(text);
	while (len > 0 && isspace((unsigned char)text[len - 1]))
		len--;
	if (len >= n)
		return -1;
	memcpy(buf, text, len);
	buf[len] = 0;
	return 0;
}

static int parse_integer(const char *t, kt_import_value_t *out)
{
	errno = 0;
	char *end;
	long long v = strtoll(t, &end, 10);
	if (end != t && *end == 0 && errno == 0) {
		out->i = v;
		return 0;
	}
	/* "12.0" or "1e3": a real that is whole */
	double d = strtod(t, &end);
	if (end == t || *end != 0 || !isfinite(d) || d != floor(d) || fabs(d) > 9007199254740992.0)
		return -1;
	out->i = (int64_t)d;
	return 0;
}

static int parse_real(const char *t, kt_import_value_t *out)
{
	char tmp[64];
	const char *comma = strchr(t, ',');
	if (comma && !strchr(t, '.') && !strchr(comma + 1, ',') && strlen(t) < sizeof tmp) {
		strcpy(tmp, t); /* decimal comma, as French spreadsheets write */
		tmp[comma - t] = '.';
		t = tmp;
	}
	char *end;
	errno = 0;
	double d = strtod(t, &end);
	if (end == t || *end != 0 || !isfinite(d) || errno == ERANGE)
		return -1;
	out->d = d;
	return 0;
}

static int parse_boolean(const char *t, kt_import_value_t *out)
{
	static const char *yes[] = {"1", "true", "t", "yes", "y", "oui", "o", "vrai", "v", NULL};
	static const char *no[] = {"0", "false", "f", "no", "n", "non", "faux", NULL};
	for (const char **w = yes; *w; w++)
		if (!strcasecmp(t, *w)) {
			out->i = 1;
			return 0;
		}
	for (const char **w = no; *w; w++)
		if (!strcasecmp(t, *w)) {
			out->i = 0;
			return 0;
		}
	return -1;
}

static int valid_date(int y, int m, int d)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1)
		return 0;
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return d <= days[m - 1] + (m == 2 && leap);
}

/* Parses a date at the start of t; returns the characters consumed or 0. */
static size_t scan_date(const char *t, int *y, int *m, int *d)
{
	int n = 0;
	if (sscanf(t, "%4d-%2d-%2d%n", y, m, d, &n) == 3 && n == 10)
		return (size_t)n;
	if (sscanf(t, "%2d/%2d/%4d%n", d, m, y, &n) == 3 && n == 10)
		return (size_t)n;
	if (strlen(t) >= 8 && strspn(t, "0123456789") == 8 && sscanf(t, "%4d%2d%2d", y, m, d) == 3)
		return 8;
	return 0;
}

static int parse_date(const char *t, kt_import_value_t *out)
{
	int y, m, d;
	size_t n = scan_date(t, &y, &m, &d);
	if (n == 0 || !valid_date(y, m, d))
		return -1;
	/* a date-time at midnight is a date; any other time is not */
	if (t[n] && strcmp(t + n, "T00:00:00") && strcmp(t + n, " 00:00:00") &&
	    strcmp(t + n, "T00:00:00Z"))
		return -1;
	snprintf(out->buf, sizeof out->buf, "%04d-%02d-%02d", y, m, d);
	out->s = out->buf;
	return 0;
}

static int parse_datetime(const char *t, kt_import_value_t *out)
{
	int y, m, d, hh = 0, mi = 0, n = 0;
	double ss = 0;
	size_t k = scan_date(t, &y, &m, &d);
	if (k == 0 || !valid_date(y, m, d))
		return -1;
	const char *p = t + k;
	char zone[16] = "";
	if (*p == 'T' || *p == ' ') {
		p++;
		if (sscanf(p, "%2d:%2d%n", &hh, &mi, &n) != 2 || n != 5)
			return -1;
		p += n;
		if (*p == ':') {
			char *end;
			ss = strtod(p + 1, &end);
			if (end == p + 1 || ss < 0 || ss >= 61)
				return -1;
			p = end;
		}
		if (*p == 'Z' && p[1] == 0)
			strcpy(zone, "Z");
		else if ((*p == '+' || *p == '-') && strlen(p) <= 6 && strspn(p + 1, "0123456789:") == strlen(p + 1))
			snprintf(zone, sizeof zone, "%s", p);
		else if (*p)
			return -1;
	} else if (*p) {
		return -1;
	}
	if (hh > 23 || mi > 59)
		return -1;
	int ms = (int)lround(ss * 1000) % 61000; /* ss < 61 */
	char tmp[160]; /* ample for any int: the compiler cannot see the bounds above */
	if (ms % 1000 == 0)
		snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d%s", y, m, d, hh, mi, ms / 1000, zone);
	else
		snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%03d%s", y, m, d, hh, mi, ms / 1000,
		         ms % 1000, zone);
	snprintf(out->buf, sizeof out->buf, "%.39s", tmp);
	out->s = out->buf;
	return 0;
}

int kt_import_convert_text(kt_attr_type_t type, const char *text, kt_import_value_t *out,
                           char *why, size_t why_size)
{
	memset(out, 0, sizeof *out);
	const char *p = text ? text : "";
	while (isspace((unsigned char)*p))
		p++;
	if (*p == 0) {
		out->is_null = 1;
		return 0;
	}
	if (type == KT_ATTR_TEXT) {
		out->s = text; /* text is kept as written */
		return 0;
	}
	char t[64];
	if (trim_into(p, t, sizeof t) < 0)
		return fail(why, why_size, "'%.40s…' is too long for a number or a date", p);
	switch (type) {
	case KT_ATTR_INTEGER:
		return parse_integer(t, out) ? fail(why, why_size, "'%s' is not an integer", t) : 0;
	case KT_ATTR_REAL:
		return parse_real(t, out) ? fail(why, why_size, "'%s' is not a number", t) : 0;
	case KT_ATTR_BOOLEAN:
		return parse_boolean(t, out) ? fail(why, why_size, "'%s' is not a boolean", t) : 0;
	case KT_ATTR_DATE:
		return parse_date(t, out) ? fail(why, why_size, "'%s' is not a date (YYYY-MM-DD)", t) : 0;
	case KT_ATTR_DATETIME:
		return parse_datetime(t, out) ? fail(why, why_size, "'%s' is not an ISO 8601 date-time", t) : 0;
	default:
		return fail(why, why_size, "unknown attribute type for '%s'", t);
	}
}

int kt_import_convert_number(kt_attr_type_t type, double d, int is_integer, int64_t i,
                             kt_import_value_t *out, char *why, size_t why_size)
{
	memset(out, 0, sizeof *out);
	char shown[40];
	if (is_integer)
		snprintf(shown, sizeof shown, "%lld", (long long)i);
	else
		snprintf(shown, sizeof shown, "%.17g", d);
	switch (type) {
	case KT_ATTR_INTEGER:
		if (is_integer) {
			out->i = i;
			return 0;
		}
		if (!isfinite(d) || d != floor(d) || fabs(d) > 9007199254740992.0)
			return fail(why, why_size, "%s is not an integer", shown);
		out->i = (int64_t)d;
		return 0;
	case KT_ATTR_REAL:
		if (!is_integer && !isfinite(d))
			return fail(why, why_size, "%s is not a finite number", shown);
		out->d = is_integer ? (double)i : d;
		return 0;
	case KT_ATTR_BOOLEAN: {
		double v = is_integer ? (double)i : d;
		if (v != 0 && v != 1)
			return fail(why, why_size, "%s is not a boolean (0 or 1)", shown);
		out->i = v != 0;
		return 0;
	}
	case KT_ATTR_DATE:
	case KT_ATTR_DATETIME:
		/* EDIGEO and some DBF files write dates as the integer YYYYMMDD */
		if (is_integer && i >= 10000101 && i <= 99991231)
			return kt_import_convert_text(type, shown, out, why, why_size) == 0
			               ? 0
			               : fail(why, why_size, "%s is not a date", shown);
		return fail(why, why_size, "%s is not a date", shown);
	case KT_ATTR_TEXT:
	default:
		/* the caller keeps number text for TEXT attributes */
		return fail(why, why_size, "%s: a number cannot fill this attribute", shown);
	}
}
