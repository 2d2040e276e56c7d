/*
 * mvt_encode.c — a tile under construction and its serialisation to the
 * Mapbox Vector Tile 2.1 protobuf (protobuf-c, schema vector_tile.proto).
 *
 * A tile is a list of layers; a layer owns two dictionaries, keys and
 * values, in which each distinct key and each distinct typed value
 * appears once (a hash of its bytes, kind byte first, so the string "1"
 * and the integer 1 stay distinct). Features keep their tags as pairs of
 * indexes into those dictionaries and their geometry as the command
 * stream tile_geom.c produced.
 *
 * Serialisation rebuilds the dictionaries of each layer from the features
 * kept, so a value used only by dropped features is not written, and the
 * indexes written are always in range. The size cap drops features in a
 * fixed order (see kt_mvt_serialize in kt_tiles_int.h) and finds the
 * fewest to drop by bisection on the exact packed size; the same input
 * always gives the same bytes (the ETag depends on it).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kt_tiles_int.h"
#include "vector_tile.pb-c.h"

enum { V_STRING = 1, V_DOUBLE, V_SINT, V_UINT, V_BOOL };

/* Distinct byte strings, each with its index. */
typedef struct dict {
	unsigned char **items;  /* item i: 4-byte length then bytes */
	size_t n, cap;
	uint32_t *slots;        /* index + 1; 0 = free */
	size_t n_slots;
} dict_t;

typedef struct feat {
	uint64_t id;
	int type;
	uint32_t *geom;
	size_t n_geom;
	uint32_t *tags;
	size_t n_tags, cap_tags;
	double measure;
	size_t layer;
	size_t order;   /* position in the tile: ties are broken on it */
	int dropped;
} feat_t;

typedef struct layer {
	char *name;
	dict_t keys, values;
} layer_t;

struct kt_mvt {
	unsigned extent;
	layer_t *layers;
	size_t n_layers, cap_layers;
	feat_t *feats;
	size_t n_feats, cap_feats;
};

static uint64_t fnv(const unsigned char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

static size_t item_len(const unsigned char *it)
{
	uint32_t n;
	memcpy(&n, it, 4);
	return n;
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 8;
	while (c < need)
		c *= 2;
	void *q = kt_realloc(*p, c * size);
	if (!q)
		return KT_ENOMEM;
	*p = q;
	*cap = c;
	return 0;
}

static int dict_rehash(dict_t *d)
{
	size_t n = d->n_slots ? d->n_slots * 2 : 64;
	uint32_t *s = kt_calloc(n, sizeof *s);
	if (!s)
		return KT_ENOMEM;
	for (size_t i = 0; i < d->n; i++) {
		size_t k = fnv(d->items[i] + 4, item_len(d->items[i])) & (n - 1);
		while (s[k])
			k = (k + 1) & (n - 1);
		s[k] = (uint32_t)i + 1;
	}
	kt_free(d->slots);
	d->slots = s;
	d->n_slots = n;
	return 0;
}

/* The index of bytes p[0..n) in d, added if new. */
static int dict_index(dict_t *d, const unsigned char *p, size_t n, uint32_t *index)
{
	if ((d->n + 1) * 2 > d->n_slots && dict_rehash(d))
		return KT_ENOMEM;
	size_t k = fnv(p, n) & (d->n_slots - 1);
	for (; d->slots[k]; k = (k + 1) & (d->n_slots - 1)) {
		const unsigned char *it = d->items[d->slots[k] - 1];
		if (item_len(it) == n && !memcmp(it + 4, p, n)) {
			*index = d->slots[k] - 1;
			return 0;
		}
	}
	if (grow((void **)&d->items, &d->cap, d->n + 1, sizeof *d->items))
		return KT_ENOMEM;
	unsigned char *it = kt_malloc(n + 5);
	if (!it)
		return KT_ENOMEM;
	uint32_t len = (uint32_t)n;
	memcpy(it, &len, 4);
	memcpy(it + 4, p, n);
	it[n + 4] = 0; /* keys are used as C strings */
	d->items[d->n] = it;
	d->slots[k] = (uint32_t)d->n + 1;
	*index = (uint32_t)d->n++;
	return 0;
}

static void dict_release(dict_t *d)
{
	for (size_t i = 0; i < d->n; i++)
		kt_free(d->items[i]);
	kt_free(d->items);
	kt_free(d->slots);
}

kt_mvt_t *kt_mvt_new(unsigned extent)
{
	kt_mvt_t *t = kt_calloc(1, sizeof *t);
	if (t)
		t->extent = extent;
	return t;
}

void kt_mvt_free(kt_mvt_t *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_layers; i++) {
		kt_free(t->layers[i].name);
		dict_release(&t->layers[i].keys);
		dict_release(&t->layers[i].values);
	}
	for (size_t i = 0; i < t->n_feats; i++) {
		kt_free(t->feats[i].geom);
		kt_free(t->feats[i].tags);
	}
	kt_free(t->layers);
	kt_free(t->feats);
	kt_free(t);
}

int kt_mvt_layer(kt_mvt_t *t, const char *name)
{
	for (size_t i = 0; i < t->n_layers; i++)
		if (!strcmp(t->layers[i].name, name))
			return KT_EEXIST;
	if (grow((void **)&t->layers, &t->cap_layers, t->n_layers + 1, sizeof *t->layers))
		return KT_ENOMEM;
	layer_t *l = &t->layers[t->n_layers];
	memset(l, 0, sizeof *l);
	if (!(l->name = kt_strdup(name)))
		return KT_ENOMEM;
	t->n_layers++;
	return 0;
}

int kt_mvt_feature(kt_mvt_t *t, uint64_t id, const kt_tgeom_t *g)
{
	if (!t->n_layers || !g->n)
		return KT_EINVAL;
	if (grow((void **)&t->feats, &t->cap_feats, t->n_feats + 1, sizeof *t->feats))
		return KT_ENOMEM;
	feat_t *f = &t->feats[t->n_feats];
	memset(f, 0, sizeof *f);
	if (!(f->geom = kt_malloc(g->n * sizeof *f->geom)))
		return KT_ENOMEM;
	memcpy(f->geom, g->cmd, g->n * sizeof *f->geom);
	f->n_geom = g->n;
	f->id = id;
	f->type = g->type;
	f->measure = g->type == 3 ? sqrt(g->measure) : g->measure;
	f->layer = t->n_layers - 1;
	f->order = t->n_feats++;
	return 0;
}

size_t kt_mvt_feature_count(const kt_mvt_t *t)
{
	return t->n_feats;
}

static int add_tag(kt_mvt_t *t, const char *key, const unsigned char *v, size_t n)
{
	if (!t->n_feats)
		return KT_EINVAL;
	feat_t *f = &t->feats[t->n_feats - 1];
	layer_t *l = &t->layers[f->layer];
	uint32_t ki, vi;
	int rc = dict_index(&l->keys, (const unsigned char *)key, strlen(key), &ki);
	if (!rc)
		rc = dict_index(&l->values, v, n, &vi);
	if (!rc)
		rc = grow((void **)&f->tags, &f->cap_tags, f->n_tags + 2, sizeof *f->tags);
	if (rc)
		return rc;
	f->tags[f->n_tags++] = ki;
	f->tags[f->n_tags++] = vi;
	return 0;
}

static int add_number(kt_mvt_t *t, const char *key, int kind, const void *num)
{
	unsigned char b[9];
	b[0] = (unsigned char)kind;
	memcpy(b + 1, num, 8);
	return add_tag(t, key, b, 9);
}

int kt_mvt_prop_text(kt_mvt_t *t, const char *key, const char *s)
{
	unsigned char small[256]; /* most values: no allocation per property */
	size_t n = strlen(s);
	unsigned char *b = n < sizeof small ? small : kt_malloc(n + 1);
	if (!b)
		return KT_ENOMEM;
	b[0] = V_STRING;
	memcpy(b + 1, s, n);
	int rc = add_tag(t, key, b, n + 1);
	if (b != small)
		kt_free(b);
	return rc;
}

int kt_mvt_prop(kt_mvt_t *t, const char *key, const kt_value_t *v)
{
	if (v->is_null)
		return 0;
	switch (v->type) {
	case KT_ATTR_INTEGER:
		if (v->i < 0)
			return add_number(t, key, V_SINT, &v->i);
		return add_number(t, key, V_UINT, &v->i);
	case KT_ATTR_BOOLEAN: {
		int64_t b = v->i != 0;
		return add_number(t, key, V_BOOL, &b);
	}
	case KT_ATTR_REAL:
		return isfinite(v->d) ? add_number(t, key, V_DOUBLE, &v->d) : 0;
	default:
		return v->s ? kt_mvt_prop_text(t, key, v->s) : 0;
	}
}

/* ---- serialisation ------------------------------------------------------- */

/* The protobuf-c messages of the kept features, carved out of blocks
 * (thousands of small messages a tile: one allocation each would cost
 * more than the packing) listed in allocs and freed by msgs_release. */
#define MSGS_BLOCK 65536

typedef struct msgs {
	KartennMvt__Tile tile;
	void **allocs;
	size_t n_allocs, cap_allocs;
	unsigned char *block;   /* the current block, used bytes of it */
	size_t used;
} msgs_t;

static void *msgs_track(msgs_t *m, void *p)
{
	if (p && grow((void **)&m->allocs, &m->cap_allocs, m->n_allocs + 1, sizeof *m->allocs)) {
		kt_free(p);
		return NULL;
	}
	if (p)
		m->allocs[m->n_allocs++] = p;
	return p;
}

/* size zeroed bytes, aligned for any message field. */
static void *msgs_alloc(msgs_t *m, size_t size)
{
	size = (size + 15) & ~(size_t)15;
	if (size == 0)
		size = 16;
	if (size > MSGS_BLOCK / 4)
		return msgs_track(m, kt_calloc(1, size));
	if (!m->block || m->used + size > MSGS_BLOCK) {
		if (!(m->block = msgs_track(m, kt_malloc(MSGS_BLOCK))))
			return NULL;
		m->used = 0;
	}
	void *p = m->block + m->used;
	m->used += size;
	return memset(p, 0, size);
}

static void msgs_release(msgs_t *m)
{
	for (size_t i = 0; i < m->n_allocs; i++)
		kt_free(m->allocs[i]);
	kt_free(m->allocs);
	memset(m, 0, sizeof *m);
}

static void value_fill(KartennMvt__Tile__Value *v, const unsigned char *it)
{
	size_t n = item_len(it);
	const unsigned char *p = it + 4;
	kartenn_mvt__tile__value__init(v);
	int64_t i;
	double d;
	switch (p[0]) {
	case V_STRING:
		v->string_value = (char *)p + 1; /* NUL-terminated by dict_index */
		break;
	case V_DOUBLE:
		memcpy(&d, p + 1, 8);
		v->has_double_value = 1;
		v->double_value = d;
		break;
	case V_SINT:
		memcpy(&i, p + 1, 8);
		v->has_sint_value = 1;
		v->sint_value = i;
		break;
	case V_UINT:
		memcpy(&i, p + 1, 8);
		v->has_uint_value = 1;
		v->uint_value = (uint64_t)i;
		break;
	case V_BOOL:
		memcpy(&i, p + 1, 8);
		v->has_bool_value = 1;
		v->bool_value = i != 0;
		break;
	}
	(void)n;
}

/* One layer's message from its kept features; NULL layer when none. */
static int layer_msgs(kt_mvt_t *t, size_t li, msgs_t *m, KartennMvt__Tile__Layer **out)
{
	layer_t *l = &t->layers[li];
	size_t nf = 0;
	*out = NULL;
	for (size_t i = 0; i < t->n_feats; i++)
		nf += t->feats[i].layer == li && !t->feats[i].dropped;
	if (!nf)
		return 0;
	KartennMvt__Tile__Layer *lm = msgs_alloc(m, sizeof *lm);
	int64_t *kmap = msgs_alloc(m, l->keys.n * sizeof *kmap);
	int64_t *vmap = msgs_alloc(m, l->values.n * sizeof *vmap);
	if (!lm || !kmap || !vmap)
		return KT_ENOMEM;
	kartenn_mvt__tile__layer__init(lm);
	lm->has_version = 1;
	lm->version = 2;
	lm->name = l->name;
	lm->has_extent = 1;
	lm->extent = t->extent;
	lm->features = msgs_alloc(m, nf * sizeof *lm->features);
	lm->keys = msgs_alloc(m, l->keys.n * sizeof *lm->keys);
	lm->values = msgs_alloc(m, l->values.n * sizeof *lm->values);
	if (!lm->features || !lm->keys || !lm->values)
		return KT_ENOMEM;
	for (size_t i = 0; i < l->keys.n; i++)
		kmap[i] = -1;
	for (size_t i = 0; i < l->values.n; i++)
		vmap[i] = -1;
	for (size_t i = 0; i < t->n_feats; i++) {
		feat_t *f = &t->feats[i];
		if (f->layer != li || f->dropped)
			continue;
		KartennMvt__Tile__Feature *fm = msgs_alloc(m, sizeof *fm);
		uint32_t *tags = msgs_alloc(m, f->n_tags * sizeof *tags);
		if (!fm || !tags)
			return KT_ENOMEM;
		kartenn_mvt__tile__feature__init(fm);
		fm->has_id = 1;
		fm->id = f->id;
		fm->has_type = 1;
		fm->type = (KartennMvt__Tile__GeomType)f->type;
		fm->geometry = f->geom;
		fm->n_geometry = f->n_geom;
		for (size_t k = 0; k < f->n_tags; k += 2) {
			uint32_t ki = f->tags[k], vi = f->tags[k + 1];
			if (kmap[ki] < 0) {
				kmap[ki] = (int64_t)lm->n_keys;
				lm->keys[lm->n_keys++] = (char *)l->keys.items[ki] + 4;
			}
			if (vmap[vi] < 0) {
				KartennMvt__Tile__Value *v = msgs_alloc(m, sizeof *v);
				if (!v)
					return KT_ENOMEM;
				value_fill(v, l->values.items[vi]);
				vmap[vi] = (int64_t)lm->n_values;
				lm->values[lm->n_values++] = v;
			}
			tags[k] = (uint32_t)kmap[ki];
			tags[k + 1] = (uint32_t)vmap[vi];
		}
		fm->tags = tags;
		fm->n_tags = f->n_tags;
		lm->features[lm->n_features++] = fm;
	}
	*out = lm;
	return 0;
}

static int tile_msgs(kt_mvt_t *t, msgs_t *m)
{
	memset(m, 0, sizeof *m);
	kartenn_mvt__tile__init(&m->tile);
	m->tile.layers = msgs_alloc(m, t->n_layers * sizeof *m->tile.layers);
	if (!m->tile.layers)
		return KT_ENOMEM;
	for (size_t i = 0; i < t->n_layers; i++) {
		KartennMvt__Tile__Layer *lm;
		int rc = layer_msgs(t, i, m, &lm);
		if (rc)
			return rc;
		if (lm)
			m->tile.layers[m->tile.n_layers++] = lm;
	}
	return 0;
}

/* Size of the tile with the features of drop order[0..k) dropped. */
static int size_with(kt_mvt_t *t, feat_t **order, size_t k, size_t *size)
{
	for (size_t i = 0; i < t->n_feats; i++)
		t->feats[i].dropped = 0;
	for (size_t i = 0; i < k; i++)
		order[i]->dropped = 1;
	msgs_t m;
	int rc = tile_msgs(t, &m);
	if (!rc)
		*size = kartenn_mvt__tile__get_packed_size(&m.tile);
	msgs_release(&m);
	return rc;
}

/* Drop order: lines and polygons (by size) before points, smaller first,
 * later first among equals. */
static int drop_cmp(const void *a, const void *b)
{
	const feat_t *x = *(feat_t *const *)a, *y = *(feat_t *const *)b;
	int px = x->type == 1, py = y->type == 1;
	if (px != py)
		return px - py;
	if (!px && x->measure != y->measure)
		return x->measure < y->measure ? -1 : 1;
	return x->order < y->order ? 1 : x->order > y->order ? -1 : 0;
}

/* The fewest features to drop (bisection on the exact size). */
static int fit(kt_mvt_t *t, size_t max_bytes, size_t *dropped)
{
	feat_t **order = kt_malloc(t->n_feats * sizeof *order);
	if (!order)
		return KT_ENOMEM;
	for (size_t i = 0; i < t->n_feats; i++)
		order[i] = &t->feats[i];
	qsort(order, t->n_feats, sizeof *order, drop_cmp);
	size_t lo = 0, hi = t->n_feats, size; /* hi: dropping all fits */
	int rc = 0;
	while (!rc && lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		rc = size_with(t, order, mid, &size);
		if (!rc && size <= max_bytes)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (!rc)
		rc = size_with(t, order, hi, &size); /* leave the marks of hi */
	*dropped = hi;
	kt_free(order);
	return rc;
}

int kt_mvt_serialize(kt_mvt_t *t, size_t max_bytes, unsigned char **out, size_t *len,
                     size_t *dropped)
{
	*out = NULL;
	*len = 0;
	*dropped = 0;
	for (size_t i = 0; i < t->n_feats; i++)
		t->feats[i].dropped = 0;
	msgs_t m;
	int rc = tile_msgs(t, &m);
	size_t size = rc ? 0 : kartenn_mvt__tile__get_packed_size(&m.tile);
	if (!rc && max_bytes && size > max_bytes) {
		/* over the cap (rare): drop, then build the messages again */
		msgs_release(&m);
		rc = fit(t, max_bytes, dropped);
		if (!rc && !(rc = tile_msgs(t, &m)))
			size = kartenn_mvt__tile__get_packed_size(&m.tile);
	}
	if (!rc && m.tile.n_layers) {
		*out = kt_malloc(size ? size : 1);
		if (!*out)
			rc = KT_ENOMEM;
		else
			*len = kartenn_mvt__tile__pack(&m.tile, *out);
	}
	msgs_release(&m);
	return rc;
}
