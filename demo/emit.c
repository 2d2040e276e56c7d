/*
 * emit.c — writes the demo's features one at a time through the engine
 * (kt_feature_insert), with the provenance of one import batch per layer.
 *
 * An emitter keeps the first error it meets and turns every later call
 * into a no-op, so a stage can chain setters and check once, at
 * demo_emit_end(). Uids derive from the seed, the layer name and the rank
 * of the feature: the same seed gives the same uids (RFC 4122 version-4
 * layout, random-looking, never equal across layers).
 */
#include "demo_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int demo_emit_open(demo_t *d, demo_emit_t *e, const char *layer)
{
	memset(e, 0, sizeof *e);
	e->d = d;
	e->layer = kt_store_layer(kt_ctx_store(d->ctx), layer);
	if (!e->layer)
		return e->rc = kt_ctx_error(d->ctx, KT_ESCHEMA, "%s: the store has no layer %s (see layers/)",
		                            __func__, layer);
	e->uid_key = d->seed ^ demo_hash(layer);
	char source[96];
	snprintf(source, sizeof source, "kartenn demo --seed %llu --scale %d", (unsigned long long)d->seed,
	         d->scale);
	e->rc = kt_batch_begin(d->ctx, layer, source, "demo", &e->batch_id);
	if (d->rep && d->rep->n_counts < KT_DEMO_MAX_LAYERS) {
		e->slot = d->rep->n_counts++;
		d->rep->counts[e->slot].layer = e->layer->name;
		d->rep->counts[e->slot].n = 0;
	} else {
		e->slot = -1;
	}
	return e->rc;
}

static void make_uid(uint64_t key, int64_t rank, char out[37])
{
	/* two splitmix64 steps per rank: ranks never share a state */
	uint64_t st = key + (uint64_t)rank * 2 * 0x9e3779b97f4a7c15ULL;
	unsigned char b[16];
	uint64_t h = demo_splitmix64(&st), l = demo_splitmix64(&st);
	for (int i = 0; i < 8; i++) {
		b[i] = (unsigned char)(h >> (8 * i));
		b[8 + i] = (unsigned char)(l >> (8 * i));
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
	         b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
	         b[15]);
}

void demo_emit_begin(demo_emit_t *e, const char *source_id)
{
	if (e->rc)
		return;
	e->f = kt_feature_new(e->layer);
	if (!e->f) {
		e->rc = kt_ctx_error(e->d->ctx, KT_ENOMEM, "%s: out of memory", __func__);
		return;
	}
	char uid[37];
	make_uid(e->uid_key, e->n, uid);
	e->f->batch_id = e->batch_id;
	if (kt_feature_set_string(&e->f->uid, uid) ||
	    (source_id && kt_feature_set_string(&e->f->source_id, source_id)))
		e->rc = kt_ctx_error(e->d->ctx, KT_ENOMEM, "%s: out of memory", __func__);
}

static int attr(demo_emit_t *e, const char *name, const char *fn)
{
	if (e->rc || !e->f)
		return -1;
	int i = kt_layer_attr_index(e->layer, name);
	if (i < 0)
		e->rc = kt_ctx_error(e->d->ctx, KT_ESCHEMA, "%s: layer %s has no attribute %s (see layers/)", fn,
		                     e->layer->name, name);
	return i;
}

static void check(demo_emit_t *e, int rc, const char *name, const char *fn)
{
	if (rc && !e->rc)
		e->rc = kt_ctx_error(e->d->ctx, rc, "%s: cannot set %s.%s: %s", fn, e->layer->name, name,
		                     kt_strerror(rc));
}

void demo_emit_text(demo_emit_t *e, const char *name, const char *s)
{
	int i = attr(e, name, __func__);
	if (i >= 0 && s)
		check(e, kt_feature_set_text(e->f, (size_t)i, s), name, __func__);
}

void demo_emit_textf(demo_emit_t *e, const char *name, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	demo_emit_text(e, name, buf);
}

void demo_emit_int(demo_emit_t *e, const char *name, int64_t v)
{
	int i = attr(e, name, __func__);
	if (i >= 0)
		check(e, kt_feature_set_int(e->f, (size_t)i, v), name, __func__);
}

void demo_emit_bool(demo_emit_t *e, const char *name, int v) { demo_emit_int(e, name, v ? 1 : 0); }

void demo_emit_real(demo_emit_t *e, const char *name, double v)
{
	int i = attr(e, name, __func__);
	if (i >= 0)
		check(e, kt_feature_set_real(e->f, (size_t)i, round(v * 100) / 100), name, __func__);
}

void demo_emit_ascol(demo_emit_t *e, const char *ref)
{
	if (!e->rc && e->f)
		check(e, kt_feature_set_string(&e->f->ascol_ref, ref), "ascol_ref", __func__);
}

void demo_emit_geom(demo_emit_t *e)
{
	if (e->rc || !e->f)
		return;
	demo_wkb_t *b = &e->d->wkb;
	if (b->err) {
		e->rc = kt_ctx_error(e->d->ctx, b->err, "%s: out of memory building a geometry", __func__);
		return;
	}
	check(e, kt_feature_set_wkb(e->f, b->p, b->len, DEMO_EPSG), "geometry", __func__);
}

void demo_emit_precision(demo_emit_t *e, double xy_cm, double z_cm, const char *date, const char *method,
                         const char *surveyor)
{
	if (e->rc || !e->f)
		return;
	kt_precision_t *p = &e->f->precision;
	p->xy_cm = round(xy_cm * 10) / 10; /* to the millimetre; NAN stays NAN */
	p->z_cm = round(z_cm * 10) / 10;
	p->transform_m = 0; /* drawn in the store CRS: no transformation */
	p->dtdict_class = kt_dtdict_class(e->layer->network, p->xy_cm, 0);
	if ((date && kt_feature_set_string(&p->survey_date, date)) ||
	    (method && kt_feature_set_string(&p->survey_method, method)) ||
	    (surveyor && kt_feature_set_string(&p->surveyor, surveyor)))
		e->rc = kt_ctx_error(e->d->ctx, KT_ENOMEM, "%s: out of memory", __func__);
}

int demo_emit_end(demo_emit_t *e)
{
	if (!e->rc && e->f) {
		int rc = kt_feature_insert(e->d->ctx, e->layer->name, e->f, &e->d->actor);
		if (rc) {
			e->rc = rc;
		} else {
			e->n++;
			demo_t *d = e->d;
			if (e->slot >= 0)
				d->rep->counts[e->slot].n = e->n;
			if (++d->written % 20000 == 0 && d->opts->on_progress)
				d->opts->on_progress(e->layer->name, d->written, d->opts->data);
		}
	}
	kt_feature_free(e->f);
	e->f = NULL;
	return e->rc;
}

int demo_emit_close(demo_emit_t *e)
{
	kt_feature_free(e->f);
	e->f = NULL;
	if (e->rc || !e->batch_id)
		return e->rc;
	char report[128];
	snprintf(report, sizeof report, "{\"inserted\": %lld}", (long long)e->n);
	return e->rc = kt_batch_finish(e->d->ctx, e->batch_id, report);
}
