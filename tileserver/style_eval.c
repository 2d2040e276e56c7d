/*
 * style_eval.c — the MapLibre GL style expressions the WMS renderer
 * needs, evaluated as MapLibre does for one feature at one zoom.
 *
 * The subset is the one kartenn's styles use, plus the operators next to
 * them (see kt_wms_int.h for the list): data access (get, has), decisions
 * (match, case, coalesce, step, comparisons, all/any/!), zoom
 * interpolation of numbers and colours (linear and exponential), string
 * building (concat, to-string, upcase) and legacy filters and zoom
 * functions. What it keeps true: an expression outside the subset is an
 * error (KT_EINVAL), never silently a wrong value, and the caller then
 * uses the property's default, as MapLibre does for a failed evaluation.
 * Not supported: feature-state, properties/id/accumulated, let/var,
 * collator, format, image, number-format, within, distance, ^, %, math
 * functions, the "property" form of legacy functions, and interpolate-hcl
 * / interpolate-lab (documented in tileserver/WMS.md).
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kt_wms_int.h"

#define MAX_DEPTH 64

static int eval(const json_t *x, const kt_style_env_t *env, kt_sval_t *out, int depth);

static void set_null(kt_sval_t *v)
{
	memset(v, 0, sizeof *v);
}

static void set_num(kt_sval_t *v, double n)
{
	set_null(v);
	v->type = KT_SV_NUM;
	v->n = n;
}

static void set_bool(kt_sval_t *v, int b)
{
	set_null(v);
	v->type = KT_SV_BOOL;
	v->b = !!b;
}

static void set_str(kt_sval_t *v, const char *s)
{
	set_null(v);
	v->type = KT_SV_STR;
	v->s = s;
}

/* ---- colours ----------------------------------------------------------- */

static int hex(int c)
{
	return isdigit(c) ? c - '0' : isxdigit(c) ? tolower(c) - 'a' + 10 : -1;
}

static int parse_hex(const char *s, double rgba[4])
{
	size_t n = strlen(s);
	int d[8];
	if (n != 3 && n != 4 && n != 6 && n != 8)
		return KT_EINVAL;
	for (size_t i = 0; i < n; i++)
		if ((d[i] = hex((unsigned char)s[i])) < 0)
			return KT_EINVAL;
	rgba[3] = 1;
	for (int c = 0; c < (int)(n == 3 || n == 4 ? n : n / 2); c++)
		rgba[c] = (n <= 4 ? d[c] * 17 : d[2 * c] * 16 + d[2 * c + 1]) / 255.0;
	return 0;
}

static double hue(double p, double q, double t)
{
	if (t < 0)
		t += 1;
	if (t > 1)
		t -= 1;
	if (t < 1.0 / 6)
		return p + (q - p) * 6 * t;
	if (t < 0.5)
		return q;
	if (t < 2.0 / 3)
		return p + (q - p) * (2.0 / 3 - t) * 6;
	return p;
}

/* rgb(), rgba(), hsl(), hsla(): up to 4 numbers, '%' allowed. */
static int parse_func(const char *s, double rgba[4])
{
	int is_hsl = !strncasecmp(s, "hsl", 3);
	const char *p = strchr(s, '(');
	double v[4] = {0, 0, 0, 1};
	int n = 0;
	if (!p || s[strlen(s) - 1] != ')')
		return KT_EINVAL;
	for (p++; n < 4; n++) {
		char *end;
		v[n] = strtod(p, &end);
		if (end == p)
			return KT_EINVAL;
		if (*end == '%') {
			v[n] = is_hsl || n == 3 ? v[n] / 100 : v[n] * 2.55;
			end++;
		}
		while (isspace((unsigned char)*end))
			end++;
		p = end + 1;
		if (*end == ')')
			break;
		if (*end != ',')
			return KT_EINVAL;
	}
	if (n < 2 || n > 3)
		return KT_EINVAL;
	if (is_hsl) {
		double h = fmod(v[0], 360) / 360, sat = v[1], l = v[2];
		double q = l < 0.5 ? l * (1 + sat) : l + sat - l * sat, pp = 2 * l - q;
		rgba[0] = hue(pp, q, h + 1.0 / 3);
		rgba[1] = hue(pp, q, h);
		rgba[2] = hue(pp, q, h - 1.0 / 3);
	} else {
		for (int i = 0; i < 3; i++)
			rgba[i] = v[i] / 255;
	}
	rgba[3] = n == 3 ? v[3] : 1;
	for (int i = 0; i < 4; i++)
		rgba[i] = rgba[i] < 0 ? 0 : rgba[i] > 1 ? 1 : rgba[i];
	return 0;
}

int kt_color_parse(const char *s, double rgba[4])
{
	static const struct {
		const char *name;
		const char *hex;
	} names[] = {
		{"black", "000000"}, {"white", "ffffff"}, {"red", "ff0000"}, {"green", "008000"},
		{"blue", "0000ff"},  {"yellow", "ffff00"}, {"gray", "808080"}, {"grey", "808080"},
		{"orange", "ffa500"}, {"purple", "800080"}, {"transparent", "00000000"},
	};
	if (!s)
		return KT_EINVAL;
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '#')
		return parse_hex(s + 1, rgba);
	if (!strncasecmp(s, "rgb", 3) || !strncasecmp(s, "hsl", 3))
		return parse_func(s, rgba);
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcasecmp(s, names[i].name))
			return parse_hex(names[i].hex, rgba);
	return KT_EINVAL;
}

/* ---- conversions -------------------------------------------------------- */

const char *kt_sval_string(const kt_sval_t *v, kt_arena_t *a)
{
	switch (v->type) {
	case KT_SV_NULL: return "";
	case KT_SV_BOOL: return v->b ? "true" : "false";
	case KT_SV_STR: return v->s;
	case KT_SV_NUM: return kt_arena_printf(a, "%.15g", v->n);
	case KT_SV_COLOR:
		return kt_arena_printf(a, "rgba(%d,%d,%d,%g)", (int)lround(v->rgba[0] * 255),
		                       (int)lround(v->rgba[1] * 255), (int)lround(v->rgba[2] * 255),
		                       v->rgba[3]);
	}
	return "";
}

/* Strict equality as MapLibre's == (same type and value). */
static int same(const kt_sval_t *a, const kt_sval_t *b)
{
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case KT_SV_NULL: return 1;
	case KT_SV_BOOL: return a->b == b->b;
	case KT_SV_NUM: return a->n == b->n;
	case KT_SV_STR: return !strcmp(a->s, b->s);
	case KT_SV_COLOR: return !memcmp(a->rgba, b->rgba, sizeof a->rgba);
	}
	return 0;
}

static int from_json(const json_t *x, kt_sval_t *out)
{
	if (json_is_string(x))
		set_str(out, json_string_value(x));
	else if (json_is_number(x))
		set_num(out, json_number_value(x));
	else if (json_is_boolean(x))
		set_bool(out, json_is_true(x));
	else if (json_is_null(x))
		set_null(out);
	else
		return KT_EINVAL;
	return 0;
}

/* ---- operators ---------------------------------------------------------- */

static const char *op_name(const json_t *x)
{
	return json_is_array(x) ? json_string_value(json_array_get(x, 0)) : NULL;
}

static int arg(const json_t *x, size_t i, const kt_style_env_t *env, kt_sval_t *out, int depth)
{
	const json_t *a = json_array_get(x, i);
	return a ? eval(a, env, out, depth + 1) : KT_EINVAL;
}

static int op_get(const json_t *x, const kt_style_env_t *env, kt_sval_t *out, int depth, int has)
{
	kt_sval_t k;
	int rc;
	if (json_array_size(x) != 2)
		return KT_EINVAL; /* the object form ["get", key, obj] is not supported */
	if ((rc = arg(x, 1, env, &k, depth)))
		return rc;
	if (k.type != KT_SV_STR)
		return KT_EINVAL;
	kt_sval_t v;
	int found = env->get && env->get(env->feature, k.s, &v);
	if (has)
		set_bool(out, found);
	else if (found)
		*out = v;
	else
		set_null(out);
	return 0;
}

/* ["match", input, label(s), out, …, fallback] */
static int op_match(const json_t *x, const kt_style_env_t *env, kt_sval_t *out, int depth)
{
	size_t n = json_array_size(x);
	kt_sval_t in, lab;
	int rc;
	if (n < 5 || n % 2 == 0)
		return KT_EINVAL;
	if ((rc = arg(x, 1, env, &in, depth)))
		return rc;
	for (size_t i = 2; i + 1 < n; i += 2) {
		const json_t *labels = json_array_get(x, i);
		size_t nl = json_is_array(labels) ? json_array_size(labels) : 1;
		for (size_t k = 0; k < nl; k++) {
			if (from_json(json_is_array(labels) ? json_array_get(labels, k) : labels, &lab))
				return KT_EINVAL;
			if (same(&in, &lab))
				return arg(x, i + 1, env, out, depth);
		}
	}
	return arg(x, n - 1, env, out, depth);
}

/* ["case", cond, out, …, fallback] */
static int op_case(const json_t *x, const kt_style_env_t *env, kt_sval_t *out, int depth)
{
	size_t n = json_array_size(x);
	kt_sval_t c;
	int rc;
	if (n < 4 || n % 2)
		return KT_EINVAL;
	for (size_t i = 1; i + 1 < n; i += 2) {
		if ((rc = arg(x, i, env, &c, depth)))
			return rc;
		if (c.type != KT_SV_BOOL)
			return KT_EINVAL;
		if (c.b)
			return arg(x, i + 1, env, out, depth);
	}
	return arg(x, n - 1, env, out, depth);
}

static int op_coalesce(const json_t *x, const kt_style_env_t *env, kt_sval_t *out, int depth)
{
	set_null(out);
	for (size_t i = 1; i < json_array_size(x); i++) {
		int rc = arg(x, i, env, out, depth);
		if (rc)
			return rc;
		if (out->type != KT_SV_NULL)
			return 0;
	}
	return 0;
}

/* Converts a string value to a colour (MapLibre coerces paint colours). */
static int to_color(kt_sval_t *v)
{
	if (v->type == KT_SV_COLOR)
		return 0;
	double c[4];
	if (v->type != KT_SV_STR || kt_color_parse(v->s, c))
		return KT_EINVAL;
	set_null(v);
	v->type = KT_SV_COLOR;
	memcpy(v->rgba, c, sizeof c);
	return 0;
}

static int lerp(const kt_sval_t *a, const kt_sval_t *b, double t, kt_sval_t *out)
{
	kt_sval_t ca = *a, cb = *b;
	if (a->type == KT_SV_NUM && b->type == KT_SV_NUM) {
		set_num(out, a->n + (b->n - a->n) * t);
		return 0;
	}
	if (to_color(&ca) || to_color(&cb))
		return KT_EINVAL;
	*out = ca;
	for (int i = 0; i < 4; i++)
		out->rgba[i] = ca.rgba[i] + (cb.rgba[i] - ca.rgba[i]) * t;
	return 0;
}

/* Where x sits between stops x0 and x1 (0..1) for an exponential base. */
static double ratio(double base, double x, double x0, double x1)
{
	double d = x1 - x0, p = x - x0;
	if (d == 0)
		return 0;
	if (base == 1)
		return p / d;
	return (pow(base, p) - 1) / (pow(base, d) - 1);
}

/* Stops of interpolate/step from index first: input_i, output_i pairs.
 * Finds the pair at or below x. */
static size_t stop_below(const json_t *x, size_t first, double in)
{
	size_t n = json_array_size(x), k = first;
	for (size_t i = first; i + 1 < n; i += 2)
		if (json_number_value(json_array_get(x, i)) <= in)
			k = i;
	return k;
}

/* ["interpolate", [type…], input, stop, out, stop, out, …] */
static int op_interpolate(const json_t *x, const kt_style_env_t *env, kt_sval_t *out, int depth)
{
	size_t n = json_array_size(x);
	const json_t *how = json_array_get(x, 1);
	const char *kind = op_name(how);
	double base = 1;
	kt_sval_t in, a, b;
	int rc;
	if (n < 5 || n % 2 == 0 || !kind)
		return KT_EINVAL;
	if (!strcmp(kind, "exponential"))
		base = json_number_value(json_array_get(how, 1));
	else if (strcmp(kind, "linear"))
		return KT_EINVAL; /* cubic-bezier is not supported */
	if ((rc = arg(x, 2, env, &in, depth)))
		return rc;
	if (in.type != KT_SV_NUM)
		return KT_EINVAL;
	for (size_t i = 3; i < n; i += 2)
		if (!json_is_number(json_array_get(x, i)))
			return KT_EINVAL;
	double first = json_number_value(json_array_get(x, 3));
	double last = json_number_value(json_array_get(x, n - 2));
	if (in.n <= first)
		return arg(x, 4, env, out, depth);
	if (in.n >= last)
		return arg(x, n - 1, env, out, depth);
	size_t k = stop_below(x, 3, in.n);
	double x0 = json_number_value(json_array_get(x, k));
	double x1 = json_number_value(json_array_get(x, k + 2));
	if ((rc = arg(x, k + 1, env, &a, depth)) || (rc = arg(x, k + 3, env, &b, depth)))
		return rc;
	return lerp(&a, &b, ratio(base, in.n, x0, x1), out);
}

/* ["step", input, out0, stop1, out1, …] */
static int op_step(const json_t *x, const kt_style_env_t *env, kt_sval_t *out, int depth)
{
	size_t n = json_array_size(x);
	kt_sval_t in;
	int rc;
	if (n < 3 || n % 2 == 0)
		return KT_EINVAL;
	if ((rc = arg(x, 1, env, &in, depth)))
		return rc;
	if (in.type != KT_SV_NUM)
		return KT_EINVAL;
	size_t k = 2;
	for (size_t i = 3; i + 1 < n; i += 2)
		if (json_number_value(json_array_get(x, i)) <= in.n)
			k = i + 1;
	return arg(x, k, env, out, depth);
}

static int op_concat(const json_t *x, const kt_style_env_t *env, kt_sval_t *out, int depth)
{
	const char *acc = "";
	for (size_t i = 1; i < json_array_size(x); i++) {
		kt_sval_t v;
		int rc = arg(x, i, env, &v, depth);
		if (rc)
			return rc;
		acc = kt_arena_printf(env->arena, "%s%s", acc, kt_sval_string(&v, env->arena));
		if (!acc)
			return KT_ENOMEM;
	}
	set_str(out, acc);
	return 0;
}

static int op_case_fold(const json_t *x, const kt_style_env_t *env, kt_sval_t *out, int depth,
                        int upper)
{
	kt_sval_t v;
	int rc = arg(x, 1, env, &v, depth);
	if (rc)
		return rc;
	if (v.type != KT_SV_STR)
		return KT_EINVAL;
	char *s = kt_arena_strdup(env->arena, v.s);
	if (!s)
		return KT_ENOMEM;
	for (char *p = s; *p; p++) /* ASCII only; UTF-8 bytes are left as they are */
		if (!((unsigned char)*p & 0x80))
			*p = (char)(upper ? toupper((unsigned char)*p) : tolower((unsigned char)*p));
	set_str(out, s);
	return 0;
}

static int compare(const kt_sval_t *a, const kt_sval_t *b, const char *op, int *res)
{
	if (!strcmp(op, "==") || !strcmp(op, "!=")) {
		*res = same(a, b) == !strcmp(op, "==");
		return 0;
	}
	int c;
	if (a->type == KT_SV_NUM && b->type == KT_SV_NUM)
		c = a->n < b->n ? -1 : a->n > b->n;
	else if (a->type == KT_SV_STR && b->type == KT_SV_STR)
		c = strcmp(a->s, b->s);
	else
		return KT_EINVAL; /* MapLibre: a type error */
	*res = !strcmp(op, "<") ? c < 0 : !strcmp(op, "<=") ? c <= 0 : !strcmp(op, ">") ? c > 0 : c >= 0;
	return 0;
}

static int op_compare(const json_t *x, const kt_style_env_t *env, kt_sval_t *out, int depth,
                      const char *op)
{
	kt_sval_t a, b;
	int rc, res;
	if (json_array_size(x) != 3)
		return KT_EINVAL; /* the collator argument is not supported */
	if ((rc = arg(x, 1, env, &a, depth)) || (rc = arg(x, 2, env, &b, depth)))
		return rc;
	if ((rc = compare(&a, &b, op, &res)))
		return rc;
	set_bool(out, res);
	return 0;
}

/* all, any, none, ! */
static int op_logic(const json_t *x, const kt_style_env_t *env, kt_sval_t *out, int depth,
                    const char *op)
{
	size_t n = json_array_size(x);
	int any = !strcmp(op, "any"), none = !strcmp(op, "none"), not = !strcmp(op, "!");
	if (not && n != 2)
		return KT_EINVAL;
	int res = !any && !none ? 1 : 0;
	for (size_t i = 1; i < n; i++) {
		kt_sval_t v;
		int rc = arg(x, i, env, &v, depth);
		if (rc)
			return rc;
		if (v.type != KT_SV_BOOL)
			return KT_EINVAL;
		if (not)
			res = !v.b;
		else if (any || none)
			res |= v.b;
		else
			res &= v.b;
	}
	set_bool(out, none ? !res : res);
	return 0;
}

static int op_arith(const json_t *x, const kt_style_env_t *env, kt_sval_t *out, int depth,
                    char op)
{
	size_t n = json_array_size(x);
	double acc = op == '*' ? 1 : 0;
	if (n < 2 || ((op == '/' || op == '-') && n > 3))
		return KT_EINVAL;
	for (size_t i = 1; i < n; i++) {
		kt_sval_t v;
		int rc = arg(x, i, env, &v, depth);
		if (rc)
			return rc;
		if (v.type != KT_SV_NUM)
			return KT_EINVAL;
		if (i == 1 && (op == '-' || op == '/'))
			acc = n == 2 && op == '-' ? -v.n : v.n;
		else
			acc = op == '+' ? acc + v.n : op == '*' ? acc * v.n : op == '-' ? acc - v.n : acc / v.n;
	}
	set_num(out, acc);
	return 0;
}

static int op_convert(const json_t *x, const kt_style_env_t *env, kt_sval_t *out, int depth,
                      const char *op)
{
	kt_sval_t v;
	int rc = op_coalesce(x, env, &v, depth); /* the first non-null argument */
	if (rc)
		return rc;
	if (!strcmp(op, "to-string")) {
		const char *s = kt_sval_string(&v, env->arena);
		if (!s)
			return KT_ENOMEM;
		set_str(out, s);
	} else if (!strcmp(op, "to-boolean")) {
		set_bool(out, v.type == KT_SV_BOOL ? v.b : v.type == KT_SV_NUM ? v.n != 0 && v.n == v.n
		              : v.type == KT_SV_STR ? *v.s != 0 : v.type == KT_SV_COLOR);
	} else if (!strcmp(op, "to-number")) {
		char *end = NULL;
		double d = v.type == KT_SV_NUM ? v.n : v.type == KT_SV_BOOL ? v.b : v.type == KT_SV_NULL ? 0
		         : v.type == KT_SV_STR ? strtod(v.s, &end) : NAN;
		if ((v.type == KT_SV_STR && (end == v.s || *end)) || d != d)
			return KT_EINVAL;
		set_num(out, d);
	} else { /* to-color */
		*out = v;
		return to_color(out);
	}
	return 0;
}

/* ["in", needle, haystack]: a substring, or an element of a literal array. */
static int op_in(const json_t *x, const kt_style_env_t *env, kt_sval_t *out, int depth)
{
	kt_sval_t needle, hay;
	int rc;
	if (json_array_size(x) != 3)
		return KT_EINVAL;
	if ((rc = arg(x, 1, env, &needle, depth)))
		return rc;
	const json_t *h = json_array_get(x, 2);
	if (op_name(h) && !strcmp(op_name(h), "literal") && json_is_array(json_array_get(h, 1))) {
		const json_t *arr = json_array_get(h, 1), *e;
		size_t i;
		int found = 0;
		json_array_foreach(arr, i, e) {
			kt_sval_t v;
			if (!from_json(e, &v) && same(&v, &needle))
				found = 1;
		}
		set_bool(out, found);
		return 0;
	}
	if ((rc = eval(h, env, &hay, depth + 1)))
		return rc;
	if (hay.type != KT_SV_STR || needle.type != KT_SV_STR)
		return KT_EINVAL;
	set_bool(out, strstr(hay.s, needle.s) != NULL);
	return 0;
}

/* A legacy zoom function {"stops": [[z, v], …], "base": b, "type": …}. */
static int legacy_function(const json_t *x, const kt_style_env_t *env, kt_sval_t *out)
{
	const json_t *stops = json_object_get(x, "stops");
	const char *type = json_string_value(json_object_get(x, "type"));
	double base = json_is_number(json_object_get(x, "base"))
	              ? json_number_value(json_object_get(x, "base")) : 1;
	size_t n = json_array_size(stops);
	if (!n || json_object_get(x, "property"))
		return KT_EINVAL;
	int step = type && !strcmp(type, "interval");
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (json_number_value(json_array_get(json_array_get(stops, i), 0)) <= env->zoom)
			k = i;
	kt_sval_t a, b;
	const json_t *sa = json_array_get(stops, k), *sb = json_array_get(stops, k + 1);
	if (from_json(json_array_get(sa, 1), &a))
		return KT_EINVAL;
	double z0 = json_number_value(json_array_get(sa, 0));
	if (step || !sb || env->zoom <= z0) {
		*out = a;
		return 0;
	}
	if (from_json(json_array_get(sb, 1), &b))
		return KT_EINVAL;
	return lerp(&a, &b, ratio(base, env->zoom, z0, json_number_value(json_array_get(sb, 0))), out);
}

static int eval_op(const json_t *x, const char *op, const kt_style_env_t *env, kt_sval_t *out,
                   int depth)
{
	if (!strcmp(op, "literal")) {
		if (json_array_size(x) != 2)
			return KT_EINVAL;
		return from_json(json_array_get(x, 1), out);
	}
	if (!strcmp(op, "get") || !strcmp(op, "has"))
		return op_get(x, env, out, depth, op[0] == 'h');
	if (!strcmp(op, "!has")) {
		int rc = op_get(x, env, out, depth, 1);
		out->b = !out->b;
		return rc;
	}
	if (!strcmp(op, "zoom")) {
		set_num(out, env->zoom);
		return 0;
	}
	if (!strcmp(op, "geometry-type")) {
		set_str(out, env->geometry_type ? env->geometry_type : "Unknown");
		return 0;
	}
	if (!strcmp(op, "match"))
		return op_match(x, env, out, depth);
	if (!strcmp(op, "case"))
		return op_case(x, env, out, depth);
	if (!strcmp(op, "coalesce"))
		return op_coalesce(x, env, out, depth);
	if (!strcmp(op, "interpolate"))
		return op_interpolate(x, env, out, depth);
	if (!strcmp(op, "step"))
		return op_step(x, env, out, depth);
	if (!strcmp(op, "concat"))
		return op_concat(x, env, out, depth);
	if (!strcmp(op, "upcase") || !strcmp(op, "downcase"))
		return op_case_fold(x, env, out, depth, op[0] == 'u');
	if (!strcmp(op, "==") || !strcmp(op, "!=") || !strcmp(op, "<") || !strcmp(op, "<=") ||
	    !strcmp(op, ">") || !strcmp(op, ">="))
		return op_compare(x, env, out, depth, op);
	if (!strcmp(op, "all") || !strcmp(op, "any") || !strcmp(op, "none") || !strcmp(op, "!"))
		return op_logic(x, env, out, depth, op);
	if (!strcmp(op, "+") || !strcmp(op, "-") || !strcmp(op, "*") || !strcmp(op, "/"))
		return op_arith(x, env, out, depth, op[0]);
	if (!strcmp(op, "to-string") || !strcmp(op, "to-number") || !strcmp(op, "to-boolean") ||
	    !strcmp(op, "to-color"))
		return op_convert(x, env, out, depth, op);
	if (!strcmp(op, "in"))
		return op_in(x, env, out, depth);
	return KT_EINVAL;
}

static int eval(const json_t *x, const kt_style_env_t *env, kt_sval_t *out, int depth)
{
	set_null(out);
	if (depth > MAX_DEPTH)
		return KT_EINVAL;
	if (json_is_object(x))
		return legacy_function(x, env, out);
	if (!json_is_array(x))
		return from_json(x, out);
	const char *op = op_name(x);
	return op ? eval_op(x, op, env, out, depth) : KT_EINVAL;
}

int kt_style_eval(const json_t *expr, const kt_style_env_t *env, kt_sval_t *out)
{
	int rc = eval(expr, env, out, 0);
	if (rc)
		set_null(out);
	return rc;
}

/* ---- filters ------------------------------------------------------------ */

/* MapLibre's isExpressionFilter: which arrays are in the legacy syntax. */
static int is_expression_filter(const json_t *f)
{
	const char *op = op_name(f);
	size_t n = json_array_size(f);
	if (!op)
		return 0;
	if (!strcmp(op, "has"))
		return n >= 2 && strcmp(json_string_value(json_array_get(f, 1)) ?
		                        json_string_value(json_array_get(f, 1)) : "", "$type") &&
		       strcmp(json_string_value(json_array_get(f, 1)) ?
		              json_string_value(json_array_get(f, 1)) : "", "$id");
	if (!strcmp(op, "in"))
		return n >= 3 && (!json_is_string(json_array_get(f, 1)) || json_is_array(json_array_get(f, 2)));
	if (!strcmp(op, "!in") || !strcmp(op, "!has") || !strcmp(op, "none"))
		return 0;
	if (!strcmp(op, "==") || !strcmp(op, "!=") || !strcmp(op, ">") || !strcmp(op, ">=") ||
	    !strcmp(op, "<") || !strcmp(op, "<="))
		return n != 3 || json_is_array(json_array_get(f, 1)) || json_is_array(json_array_get(f, 2));
	if (!strcmp(op, "any") || !strcmp(op, "all")) {
		for (size_t i = 1; i < n; i++)
			if (!is_expression_filter(json_array_get(f, i)) && !json_is_boolean(json_array_get(f, i)))
				return 0;
		return 1;
	}
	return 1;
}

/* The value a legacy filter compares: a property, $type or $id. */
static int legacy_key(const json_t *k, const kt_style_env_t *env, kt_sval_t *v)
{
	const char *key = json_string_value(k);
	if (!key)
		return KT_EINVAL;
	if (!strcmp(key, "$type"))
		set_str(v, env->geometry_type ? env->geometry_type : "Unknown");
	else if (!(env->get && env->get(env->feature, key, v)))
		set_null(v);
	return 0;
}

static int legacy_filter(const json_t *f, const kt_style_env_t *env)
{
	const char *op = op_name(f);
	size_t n = json_array_size(f);
	kt_sval_t v, lit;
	if (!op)
		return 0;
	if (!strcmp(op, "all") || !strcmp(op, "any") || !strcmp(op, "none")) {
		int any = 0, all = 1;
		for (size_t i = 1; i < n; i++) {
			int r = kt_style_filter(json_array_get(f, i), env);
			any |= r;
			all &= r;
		}
		return op[1] == 'l' ? all : op[1] == 'n' ? any : !any;
	}
	if ((!strcmp(op, "has") || !strcmp(op, "!has")) && n == 2) {
		int has = !legacy_key(json_array_get(f, 1), env, &v) && v.type != KT_SV_NULL;
		return op[0] == '!' ? !has : has;
	}
	if (n < 2 || legacy_key(json_array_get(f, 1), env, &v))
		return 0;
	if (!strcmp(op, "in") || !strcmp(op, "!in")) {
		int found = 0;
		for (size_t i = 2; i < n; i++)
			if (!from_json(json_array_get(f, i), &lit) && same(&v, &lit))
				found = 1;
		return op[0] == '!' ? !found : found;
	}
	int res = 0;
	if (n != 3 || from_json(json_array_get(f, 2), &lit))
		return 0;
	if (compare(&v, &lit, op, &res))
		return 0; /* legacy filters: a type mismatch is false */
	return res;
}

int kt_style_filter(const json_t *filter, const kt_style_env_t *env)
{
	if (!filter)
		return 1;
	if (json_is_boolean(filter))
		return json_is_true(filter);
	if (!is_expression_filter(filter))
		return legacy_filter(filter, env);
	kt_sval_t v;
	if (kt_style_eval(filter, env, &v) || v.type != KT_SV_BOOL)
		return 0;
	return v.b;
}

/* ---- typed reads ------------------------------------------------------- */

double kt_style_num(const json_t *expr, const kt_style_env_t *env, double dflt)
{
	kt_sval_t v;
	if (!expr || kt_style_eval(expr, env, &v) || v.type != KT_SV_NUM || v.n != v.n)
		return dflt;
	return v.n;
}

int kt_style_color(const json_t *expr, const kt_style_env_t *env, const double dflt[4],
                   double out[4])
{
	kt_sval_t v;
	if (!expr || kt_style_eval(expr, env, &v) || to_color(&v)) {
		memcpy(out, dflt, 4 * sizeof *out);
		return expr ? KT_EINVAL : 0;
	}
	memcpy(out, v.rgba, 4 * sizeof *out);
	return 0;
}

const char *kt_style_str(const json_t *expr, const kt_style_env_t *env, const char *dflt)
{
	kt_sval_t v;
	if (!expr || kt_style_eval(expr, env, &v) || v.type == KT_SV_NULL)
		return dflt;
	return kt_sval_string(&v, env->arena);
}
