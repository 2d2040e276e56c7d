/*
 * wkb.c — a bounds-checked walker over WKB bytes (see kt_wkb_int.h).
 *
 * WKB reaches the engine from files and from the network, so every read
 * here is checked against the length first: a count is compared with what
 * the bytes left can hold before anything is done with it (so a hostile
 * count of 2^32-1 costs nothing), nesting is limited to KT_WKB_MAX_DEPTH
 * (so recursion depth is bounded), and the walk must end exactly at len.
 * The walker allocates nothing; kt__wkb_force_z allocates its output once,
 * at a size bounded from len (an XY point of 16 bytes grows to 24).
 */
#include "kt_wkb_int.h"

#include <math.h>
#include <string.h>

#include "kt_engine.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define HOST_IS_NDR 0
#else
#define HOST_IS_NDR 1
#endif

#define EWKB_Z 0x80000000u
#define EWKB_M 0x40000000u
#define EWKB_SRID 0x20000000u

enum kind { K_POINT, K_POINTS, K_RINGS, K_COLL };

struct rd {
	const unsigned char *b;
	size_t len;
	size_t pos;
};

struct hdr {
	int swap;       /* data in the other byte order than the host's */
	uint32_t base;  /* 1..17 */
	int has_z, has_m;
	int dims;
	enum kind kind;
};

static uint32_t bswap32(uint32_t v)
{
	return __builtin_bswap32(v);
}

double kt__wkb_get_double(const unsigned char *p, int swap)
{
	uint64_t u;
	double d;
	memcpy(&u, p, 8);
	if (swap)
		u = __builtin_bswap64(u);
	memcpy(&d, &u, 8);
	return d;
}

void kt__wkb_put_double(unsigned char *p, double v, int swap)
{
	uint64_t u;
	memcpy(&u, &v, 8);
	if (swap)
		u = __builtin_bswap64(u);
	memcpy(p, &u, 8);
}

static size_t left(const struct rd *r)
{
	return r->len - r->pos;
}

static int get_u32(struct rd *r, int swap, uint32_t *v)
{
	if (left(r) < 4)
		return KT_EINVAL;
	memcpy(v, r->b + r->pos, 4);
	if (swap)
		*v = bswap32(*v);
	r->pos += 4;
	return 0;
}

static int kind_of(uint32_t base, enum kind *k)
{
	switch (base) {
	case 1: *k = K_POINT; return 0;                 /* Point */
	case 2: case 8: *k = K_POINTS; return 0;        /* LineString, CircularString */
	case 3: case 17: *k = K_RINGS; return 0;        /* Polygon, Triangle */
	case 4: case 5: case 6: case 7:                 /* Multi*, GeometryCollection */
	case 9: case 10: case 11: case 12:              /* CompoundCurve … MultiSurface */
	case 15: case 16:                               /* PolyhedralSurface, TIN */
		*k = K_COLL;
		return 0;
	default:
		return KT_EINVAL;
	}
}

static int read_header(struct rd *r, struct hdr *h)
{
	if (left(r) < 5)
		return KT_EINVAL;
	unsigned char order = r->b[r->pos++];
	if (order > 1)
		return KT_EINVAL;
	h->swap = (order == 1) != HOST_IS_NDR;
	uint32_t type;
	if (get_u32(r, h->swap, &type))
		return KT_EINVAL;
	int ez = !!(type & EWKB_Z), em = !!(type & EWKB_M);
	if (type & EWKB_SRID) {
		uint32_t srid;
		if (get_u32(r, h->swap, &srid))
			return KT_EINVAL;
	}
	type &= 0x0fffffffu;
	uint32_t iso = type / 1000;
	h->base = type % 1000;
	if (iso > 3 || ((ez || em) && iso != 0))
		return KT_EINVAL;
	h->has_z = ez || iso == 1 || iso == 3;
	h->has_m = em || iso == 2 || iso == 3;
	h->dims = 2 + h->has_z + h->has_m;
	return kind_of(h->base, &h->kind);
}

/* A count followed by n points; calls cb on the run. */
static int walk_points(struct rd *r, const struct hdr *h, kt__wkb_points_cb cb, void *data)
{
	uint32_t n;
	if (get_u32(r, h->swap, &n))
		return KT_EINVAL;
	size_t psz = (size_t)h->dims * 8;
	if (n > left(r) / psz)
		return KT_EINVAL;
	if (cb && n > 0) {
		int rc = cb(r->pos, n, h->dims, h->has_z, h->has_m, h->swap, data);
		if (rc)
			return rc;
	}
	r->pos += (size_t)n * psz;
	return 0;
}

static int walk(struct rd *r, int depth, kt__wkb_points_cb cb, void *data, int *has_z)
{
	struct hdr h;
	int rc;
	if (depth > KT_WKB_MAX_DEPTH)
		return KT_EINVAL;
	if ((rc = read_header(r, &h)))
		return rc;
	if (has_z)
		*has_z = h.has_z;
	switch (h.kind) {
	case K_POINT: {
		size_t psz = (size_t)h.dims * 8;
		if (left(r) < psz)
			return KT_EINVAL;
		if (cb && (rc = cb(r->pos, 1, h.dims, h.has_z, h.has_m, h.swap, data)))
			return rc;
		r->pos += psz;
		return 0;
	}
	case K_POINTS:
		return walk_points(r, &h, cb, data);
	case K_RINGS: {
		uint32_t n;
		if (get_u32(r, h.swap, &n) || n > left(r) / 4)
			return KT_EINVAL;
		for (uint32_t i = 0; i < n; i++)
			if ((rc = walk_points(r, &h, cb, data)))
				return rc;
		return 0;
	}
	case K_COLL: {
		uint32_t n;
		if (get_u32(r, h.swap, &n) || n > left(r) / 5)
			return KT_EINVAL;
		for (uint32_t i = 0; i < n; i++)
			if ((rc = walk(r, depth + 1, cb, data, NULL)))
				return rc;
		return 0;
	}
	}
	return KT_EINTERNAL;
}

int kt__wkb_walk(const unsigned char *wkb, size_t len, kt__wkb_points_cb cb, void *data,
                 int *has_z_out)
{
	if (!wkb || len == 0)
		return KT_EINVAL;
	struct rd r = { wkb, len, 0 };
	int rc = walk(&r, 0, cb, data, has_z_out);
	if (rc)
		return rc;
	return r.pos == len ? 0 : KT_EINVAL;
}

/* ---- re-encoding as ISO NDR XYZ -------------------------------------- */

struct wr {
	unsigned char *b;
	size_t cap;
	size_t pos;
};

static int put_bytes(struct wr *w, const void *p, size_t n)
{
	if (w->cap - w->pos < n)
		return KT_EINTERNAL; /* the size bound of kt__wkb_force_z is wrong */
	memcpy(w->b + w->pos, p, n);
	w->pos += n;
	return 0;
}

static int put_u32(struct wr *w, uint32_t v)
{
	unsigned char le[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24 };
	return put_bytes(w, le, 4);
}

static int put_xyz(struct wr *w, const unsigned char *p, const struct hdr *h)
{
	double c[3];
	c[0] = kt__wkb_get_double(p, h->swap);
	c[1] = kt__wkb_get_double(p + 8, h->swap);
	c[2] = h->has_z ? kt__wkb_get_double(p + 16, h->swap) : 0.0;
	if (!isfinite(c[2]))
		c[2] = 0.0;
	unsigned char out[24];
	for (int i = 0; i < 3; i++)
		kt__wkb_put_double(out + 8 * i, c[i], !HOST_IS_NDR);
	return put_bytes(w, out, 24);
}

static int conv_points(struct rd *r, struct wr *w, const struct hdr *h)
{
	uint32_t n;
	if (get_u32(r, h->swap, &n))
		return KT_EINVAL;
	size_t psz = (size_t)h->dims * 8;
	if (n > left(r) / psz)
		return KT_EINVAL;
	int rc = put_u32(w, n);
	for (uint32_t i = 0; !rc && i < n; i++, r->pos += psz)
		rc = put_xyz(w, r->b + r->pos, h);
	return rc;
}

static int conv(struct rd *r, struct wr *w, int depth)
{
	struct hdr h;
	int rc;
	uint32_t n;
	if (depth > KT_WKB_MAX_DEPTH)
		return KT_EINVAL;
	if ((rc = read_header(r, &h)))
		return rc;
	unsigned char order = 1;
	if ((rc = put_bytes(w, &order, 1)) || (rc = put_u32(w, h.base + 1000)))
		return rc;
	switch (h.kind) {
	case K_POINT:
		if (left(r) < (size_t)h.dims * 8)
			return KT_EINVAL;
		rc = put_xyz(w, r->b + r->pos, &h);
		r->pos += (size_t)h.dims * 8;
		return rc;
	case K_POINTS:
		return conv_points(r, w, &h);
	case K_RINGS:
		if (get_u32(r, h.swap, &n) || n > left(r) / 4)
			return KT_EINVAL;
		if ((rc = put_u32(w, n)))
			return rc;
		for (uint32_t i = 0; i < n; i++)
			if ((rc = conv_points(r, w, &h)))
				return rc;
		return 0;
	case K_COLL:
		if (get_u32(r, h.swap, &n) || n > left(r) / 5)
			return KT_EINVAL;
		if ((rc = put_u32(w, n)))
			return rc;
		for (uint32_t i = 0; i < n; i++)
			if ((rc = conv(r, w, depth + 1)))
				return rc;
		return 0;
	}
	return KT_EINTERNAL;
}

int kt__wkb_force_z(const unsigned char *wkb, size_t len, unsigned char **out, size_t *out_len)
{
	if (!wkb || len == 0 || len > SIZE_MAX / 2 - 16)
		return KT_EINVAL;
	/* Each input point is >= 16 bytes and becomes 24; headers and counts
	 * never grow (an EWKB SRID shrinks). */
	struct wr w = { kt_malloc(len + len / 2 + 16), len + len / 2 + 16, 0 };
	if (!w.b)
		return KT_ENOMEM;
	struct rd r = { wkb, len, 0 };
	int rc = conv(&r, &w, 0);
	if (!rc && r.pos != len)
		rc = KT_EINVAL;
	if (rc) {
		kt_free(w.b);
		return rc;
	}
	*out = w.b;
	*out_len = w.pos;
	return 0;
}
