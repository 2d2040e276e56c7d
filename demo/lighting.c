/*
 * lighting.c — the street-lighting network (CNIG "éclairage extérieur",
 * StaR-DT theme ELECECL): cabinets (armoires), circuits (départs),
 * supports with their light points (foyers), and cables.
 *
 * The quarter is cut into one cell per cabinet (bands of cells, so the
 * count is exact); a cabinet stands at the street corner nearest its
 * cell's centre. Supports stand on the sidewalks of every street segment
 * (the stretch between two crossings), on one side or staggered; segment
 * s holds floor((s+1)T/S) - floor(sT/S) of the T supports. The segment
 * belongs to the cabinet of its middle and to the circuit pointing from
 * the cabinet towards it (east, north, west, south: D1..D4). Cables chain
 * the segment's supports from its end nearer the cabinet; one feeder
 * cable per (corner, cabinet) runs along the streets from the cabinet to
 * that corner. A segment is one survey campaign: its supports and cables
 * share a precision, drawn so that classes A, B and C all occur.
 */
#include "demo_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct net {
	int n_arm, bands;
	int *ai, *aj;       /* crossing of each cabinet */
	int *dep_supports;  /* supports per circuit: 4 per cabinet */
	int *feeder_owner;  /* per crossing: cabinet that last fed it, -1 */
	demo_emit_t es, ef, ec;
	demo_rng_t r;
	int64_t n_support, n_cable;
};

/* A survey campaign: precision and method of a segment. */
struct survey {
	double xy_cm, z_cm;
	char date[DEMO_DATE_LEN];
	const char *method, *surveyor;
	int year; /* laying year of the segment's equipment */
};

static int band_start(const struct net *n, int b) { return (int)((int64_t)b * n->n_arm / n->bands); }

static int cabinet_of(const demo_t *d, const struct net *n, double x, double y)
{
	int b = (int)(y / d->height * n->bands);
	b = b < 0 ? 0 : b >= n->bands ? n->bands - 1 : b;
	int first = band_start(n, b), count = band_start(n, b + 1) - first;
	int k = (int)(x / d->width * count);
	k = k < 0 ? 0 : k >= count ? count - 1 : k;
	return first + k;
}

static demo_pt_t cabinet_point(const demo_t *d, const struct net *n, int a)
{
	double x = demo_street_x(d, n->ai[a]) + STREET_W / 2 - 1, y = demo_street_y(d, n->aj[a]) + STREET_W / 2 - 1;
	return (demo_pt_t){x, y, demo_ground(d, x, y)};
}

static int gen_cabinets(demo_t *d, struct net *n)
{
	demo_emit_t e;
	demo_emit_open(d, &e, "eclairage_armoire");
	static const char *const cmd[] = {"horloge astronomique", "télégestion", "cellule photoélectrique"};
	static const double cmd_w[] = {60, 30, 10};
	for (int a = 0; a < n->n_arm && !e.rc; a++) {
		int b = 0;
		while (b + 1 < n->bands && band_start(n, b + 1) <= a)
			b++;
		int first = band_start(n, b), count = band_start(n, b + 1) - first;
		double cx = (a - first + 0.5) * d->width / count, cy = (b + 0.5) * d->height / n->bands;
		n->ai[a] = (int)lround((cx - STREET_W / 2) / (BLOCK_W + STREET_W));
		n->aj[a] = (int)lround((cy - STREET_W / 2) / (BLOCK_H + STREET_W));
		demo_pt_t p = cabinet_point(d, n, a);
		char ref[32], street[128], date[DEMO_DATE_LEN];
		snprintf(ref, sizeof ref, "EP-A-%04d", a + 1);
		demo_street_name(d, 1, n->aj[a], street, sizeof street);
		demo_emit_begin(&e, ref);
		demo_emit_ascol(&e, ref);
		demo_emit_text(&e, "reference", ref);
		demo_emit_textf(&e, "nom", "Armoire %s", street);
		demo_emit_text(&e, "voie", street);
		demo_emit_text(&e, "type_commande", cmd[demo_rng_weighted(&n->r, cmd_w, 3)]);
		demo_emit_real(&e, "puissance_kva", 6 * demo_rng_int(&n->r, 1, 6));
		demo_emit_int(&e, "nb_departs", 4);
		demo_emit_textf(&e, "pdl", "%014llu", (unsigned long long)(demo_rng_next(&n->r) % 100000000000000ULL));
		demo_date(demo_day(demo_rng_int(&n->r, 1975, 2022), demo_rng_int(&n->r, 1, 12), demo_rng_int(&n->r, 1, 28)), date);
		demo_emit_text(&e, "date_pose", date);
		demo_emit_text(&e, "etat", demo_rng_chance(&n->r, 0.8) ? "bon" : "à surveiller");
		demo_emit_precision(&e, demo_rng_between(&n->r, 1.5, 5), demo_rng_between(&n->r, 2, 5), date,
		                    "GNSS RTK", "Régie éclairage public");
		demo_wkb_point(&d->wkb, demo_at(d, p.x, p.y, 0), 0);
		demo_emit_geom(&e);
		demo_emit_end(&e);
	}
	return demo_emit_close(&e);
}

static void draw_survey(struct net *n, struct survey *s)
{
	static const double w[] = {55, 30, 15};
	demo_rng_t *r = &n->r;
	int cls = demo_rng_weighted(r, w, 3);
	s->year = demo_rng_int(r, 1970, 2024);
	if (cls == 0) {
		s->xy_cm = demo_rng_between(r, 1.5, 8);
		s->z_cm = demo_rng_between(r, 2, 10);
		s->method = demo_rng_chance(r, 0.7) ? "GNSS RTK" : "station totale";
		s->surveyor = "Kerlann Géomètres (fictif)";
		demo_date(demo_day(demo_rng_int(r, 2015, 2024), demo_rng_int(r, 1, 12), demo_rng_int(r, 1, 28)), s->date);
	} else if (cls == 1) {
		s->xy_cm = demo_rng_between(r, 45, 140);
		s->z_cm = NAN;
		s->method = demo_rng_chance(r, 0.5) ? "détection géoradar" : "plan de récolement";
		s->surveyor = "Blavet Réseaux (fictif)";
		demo_date(demo_day(demo_rng_int(r, 2005, 2015), demo_rng_int(r, 1, 12), demo_rng_int(r, 1, 28)), s->date);
	} else {
		s->xy_cm = demo_rng_chance(r, 0.5) ? NAN : demo_rng_between(r, 160, 400);
		s->z_cm = NAN;
		s->method = "numérisation d'un plan ancien";
		s->surveyor = NULL;
		s->date[0] = 0;
	}
}

/* Along one segment: its crossings, its axis and its street. */
struct segment {
	int i0, j0, i1, j1; /* the two crossings */
	int horizontal, street;
	int cabinet, depart, feeder; /* feeder: 0 or 1, the end nearer the cabinet */
};

static void segment_of(const demo_t *d, const struct net *n, int64_t s, struct segment *g)
{
	int64_t sh = (int64_t)(d->rows + 1) * d->cols;
	if (s < sh) {
		g->horizontal = 1, g->j0 = g->j1 = (int)(s / d->cols), g->i0 = (int)(s % d->cols), g->i1 = g->i0 + 1;
		g->street = g->j0;
	} else {
		s -= sh;
		g->horizontal = 0, g->i0 = g->i1 = (int)(s / d->rows), g->j0 = (int)(s % d->rows), g->j1 = g->j0 + 1;
		g->street = g->i0;
	}
	double mx = (demo_street_x(d, g->i0) + demo_street_x(d, g->i1)) / 2;
	double my = (demo_street_y(d, g->j0) + demo_street_y(d, g->j1)) / 2;
	g->cabinet = cabinet_of(d, n, mx, my);
	int ai = n->ai[g->cabinet], aj = n->aj[g->cabinet];
	int d0 = abs(g->i0 - ai) + abs(g->j0 - aj), d1 = abs(g->i1 - ai) + abs(g->j1 - aj);
	g->feeder = d1 < d0;
	int dx = (g->feeder ? g->i1 : g->i0) - ai, dy = (g->feeder ? g->j1 : g->j0) - aj;
	g->depart = abs(dx) >= abs(dy) ? (dx >= 0 ? 1 : 3) : (dy > 0 ? 2 : 4);
}

static demo_pt_t crossing_point(const demo_t *d, int i, int j)
{
	double x = demo_street_x(d, i) + 1.5, y = demo_street_y(d, j) + 1.5;
	return (demo_pt_t){x, y, demo_ground(d, x, y) - 0.8};
}

static void refs(const struct segment *g, char arm[32], char dep[64])
{
	snprintf(arm, 32, "EP-A-%04d", g->cabinet + 1);
	snprintf(dep, 64, "%s-D%d", arm, g->depart);
}

struct cable_opts {
	const demo_pt_t *pts;
	size_t n;
	const char *pose;
	const struct segment *g;
	const struct survey *sv;
};

static int gen_cable(demo_t *d, struct net *n, const struct cable_opts *o)
{
	demo_emit_t *e = &n->ec;
	char ref[32], arm[32], dep[64], date[DEMO_DATE_LEN];
	snprintf(ref, sizeof ref, "EP-C-%06lld", (long long)++n->n_cable);
	refs(o->g, arm, dep);
	int buried = !strcmp(o->pose, "enterré");
	demo_emit_begin(e, ref);
	demo_emit_text(e, "reference", ref);
	demo_emit_text(e, "armoire", arm);
	demo_emit_text(e, "depart", dep);
	demo_emit_text(e, "pose", o->pose);
	demo_emit_text(e, "type_cable", buried ? "U1000 R2V" : !strcmp(o->pose, "aérien") ? "torsadé aluminium" : "U1000 R2V");
	demo_emit_real(e, "section_mm2", buried ? (demo_rng_chance(&n->r, 0.6) ? 16 : 25) : 10);
	demo_emit_int(e, "nb_conducteurs", demo_rng_chance(&n->r, 0.7) ? 4 : 2);
	if (buried) {
		demo_emit_int(e, "profondeur_cm", demo_rng_int(&n->r, 50, 90));
		demo_emit_text(e, "protection", demo_rng_chance(&n->r, 0.85) ? "fourreau TPC rouge" : "pleine terre");
	}
	demo_date(demo_day(o->sv->year, demo_rng_int(&n->r, 1, 12), demo_rng_int(&n->r, 1, 28)), date);
	demo_emit_text(e, "date_pose", date);
	demo_emit_precision(e, o->sv->xy_cm, o->sv->z_cm, o->sv->date[0] ? o->sv->date : NULL, o->sv->method,
	                    o->sv->surveyor);
	demo_pt_t pts[4];
	for (size_t i = 0; i < o->n && i < 4; i++)
		pts[i] = demo_at(d, o->pts[i].x, o->pts[i].y, o->pts[i].z);
	demo_wkb_line(&d->wkb, pts, o->n, 1);
	demo_emit_geom(e);
	return demo_emit_end(e);
}

/* The cable from the cabinet to the crossing at the segment's feeder end,
 * along the cabinet's street then the crossing's: once per pair. */
static int gen_feeder(demo_t *d, struct net *n, const struct segment *g, const struct survey *sv)
{
	int fi = g->feeder ? g->i1 : g->i0, fj = g->feeder ? g->j1 : g->j0;
	int *owner = &n->feeder_owner[(size_t)fj * (d->cols + 1) + fi];
	if (*owner == g->cabinet)
		return 0;
	*owner = g->cabinet;
	demo_pt_t a = cabinet_point(d, n, g->cabinet), c = crossing_point(d, fi, fj);
	a.z -= 0.8;
	demo_pt_t pts[3] = {a, {c.x, a.y, demo_ground(d, c.x, a.y) - 0.8}, c};
	struct cable_opts o = {.pts = pts, .n = 3, .pose = "enterré", .g = g, .sv = sv};
	return gen_cable(d, n, &o);
}

static const struct support_kind {
	const char *type, *material[2], *lantern[2];
	double weight, h_min, h_max, lantern_w; /* lantern_w: share of lantern[0] */
} support_kinds[] = {
	{"mât", {"acier galvanisé", "aluminium"}, {"LANTERNE", "PROJECTEUR"}, 55, 6, 10, 0.85},
	{"candélabre", {"fonte", "aluminium"}, {"LUMINAIRE AMBIANCE", "LANTERNE"}, 15, 3.5, 5, 0.8},
	{"console sur façade", {"acier galvanisé", "acier galvanisé"}, {"LANTERNE", "LANTERNE"}, 10, 5, 7, 1},
	{"poteau béton", {"béton", "béton"}, {"LANTERNE", "LANTERNE"}, 8, 8, 10, 1},
	{"poteau bois", {"bois", "bois"}, {"LANTERNE", "LANTERNE"}, 5, 7, 9, 1},
	{"borne", {"aluminium", "composite"}, {"BORNE COLONNE", "ENCASTRE"}, 7, 0.8, 1.2, 0.7},
};
#define N_KINDS (sizeof support_kinds / sizeof *support_kinds)

static const struct source {
	const char *name;
	double weight;
	int watts[6], n_watts, kelvin[4], n_kelvin;
} sources[] = {
	{"LED", 55, {19, 25, 32, 39, 45, 54}, 6, {2200, 2700, 3000, 4000}, 4},
	{"sodium haute pression", 30, {70, 100, 150}, 3, {2000}, 1},
	{"iodures métalliques", 10, {70, 100, 150}, 3, {3000, 4200}, 2},
	{"ballon fluorescent", 3, {125}, 1, {4100}, 1},
	{"fluocompacte", 2, {36}, 1, {2700}, 1},
};

static int gen_foyer(demo_t *d, struct net *n, const char *support, int rank, double height, const char *date)
{
	static const char *const models[] = {"Ar Mor", "Scorff", "Blavet", "Penher", "Goëland", "Heol", "Roz"};
	double w[5];
	for (int i = 0; i < 5; i++)
		w[i] = sources[i].weight;
	const struct source *s = &sources[demo_rng_weighted(&n->r, w, 5)];
	demo_emit_t *e = &n->ef;
	char ref[48];
	snprintf(ref, sizeof ref, "%s-F%d", support, rank);
	demo_emit_begin(e, ref);
	demo_emit_text(e, "reference", ref);
	demo_emit_text(e, "support", support);
	demo_emit_int(e, "rang", rank);
	demo_emit_textf(e, "lanterne", "%s %d", models[demo_rng_next(&n->r) % 7], 10 * demo_rng_int(&n->r, 2, 9));
	demo_emit_text(e, "source", s->name);
	demo_emit_int(e, "puissance", s->watts[demo_rng_next(&n->r) % (uint64_t)s->n_watts]);
	demo_emit_int(e, "temperature_couleur", s->kelvin[demo_rng_next(&n->r) % (uint64_t)s->n_kelvin]);
	demo_emit_real(e, "hauteur_feu", height > 2 ? height - 0.3 : height);
	demo_emit_bool(e, "abaissement", s->name[0] == 'L' && demo_rng_chance(&n->r, 0.8));
	demo_emit_text(e, "date_pose", date);
	return demo_emit_end(e);
}

static int gen_support(demo_t *d, struct net *n, const struct segment *g, const struct survey *sv, demo_pt_t p)
{
	double w[N_KINDS];
	for (size_t i = 0; i < N_KINDS; i++)
		w[i] = support_kinds[i].weight;
	const struct support_kind *k = &support_kinds[demo_rng_weighted(&n->r, w, (int)N_KINDS)];
	char ref[32], arm[32], dep[64], street[128], date[DEMO_DATE_LEN];
	snprintf(ref, sizeof ref, "EP-S-%06lld", (long long)++n->n_support);
	refs(g, arm, dep);
	demo_street_name(d, g->horizontal, g->street, street, sizeof street);
	double h = demo_rng_between(&n->r, k->h_min, k->h_max);
	int foyers = k->type[0] == 'b' ? 1 : 1 + demo_rng_chance(&n->r, 0.2) + demo_rng_chance(&n->r, 0.03);
	demo_date(demo_day(sv->year, demo_rng_int(&n->r, 1, 12), demo_rng_int(&n->r, 1, 28)), date);
	demo_emit_t *e = &n->es;
	demo_emit_begin(e, ref);
	demo_emit_ascol(e, ref);
	demo_emit_text(e, "reference", ref);
	demo_emit_text(e, "type_support", k->type);
	demo_emit_real(e, "hauteur", h);
	demo_emit_text(e, "materiau", k->material[demo_rng_chance(&n->r, 0.5)]);
	demo_emit_text(e, "armoire", arm);
	demo_emit_text(e, "depart", dep);
	demo_emit_text(e, "type_lante", k->lantern[!demo_rng_chance(&n->r, k->lantern_w)]);
	demo_emit_int(e, "nb_foyers", foyers);
	demo_emit_text(e, "voie", street);
	demo_emit_text(e, "date_pose", date);
	static const char *const states[] = {"bon", "à surveiller", "à remplacer"};
	static const double state_w[] = {80, 15, 5};
	demo_emit_text(e, "etat", states[demo_rng_weighted(&n->r, state_w, 3)]);
	demo_emit_precision(e, sv->xy_cm, sv->z_cm, sv->date[0] ? sv->date : NULL, sv->method, sv->surveyor);
	demo_wkb_point(&d->wkb, demo_at(d, p.x, p.y, p.z), 1);
	demo_emit_geom(e);
	int rc = demo_emit_end(e);
	n->dep_supports[g->cabinet * 4 + g->depart - 1]++;
	for (int f = 1; f <= foyers && !rc; f++)
		rc = gen_foyer(d, n, ref, f, h, date);
	return rc;
}

/* The k supports of segment s, chained by cables from the feeder end. */
static int gen_segment(demo_t *d, struct net *n, int64_t s, int k)
{
	struct segment g;
	struct survey sv;
	segment_of(d, n, s, &g);
	draw_survey(n, &sv);
	static const char *const poses[] = {"enterré", "aérien", "façade"};
	static const double pose_w[] = {80, 12, 8};
	const char *pose = poses[demo_rng_weighted(&n->r, pose_w, 3)];
	int rc = k ? gen_feeder(d, n, &g, &sv) : 0;
	double x0 = demo_street_x(d, g.i0), y0 = demo_street_y(d, g.j0);
	double len = g.horizontal ? BLOCK_W : BLOCK_H, side = STREET_W / 2 - 0.8;
	/* one sidewalk mostly; staggered on both sides for one street in five */
	int staggered = demo_rng_chance(&n->r, 0.2);
	double sign = demo_rng_chance(&n->r, 0.5) ? 1 : -1;
	demo_pt_t prev = crossing_point(d, g.feeder ? g.i1 : g.i0, g.feeder ? g.j1 : g.j0);
	for (int m = 0; m < k && !rc; m++) {
		int pos = g.feeder ? k - 1 - m : m;
		double t = STREET_W / 2 + (pos + 0.5) * len / k + demo_rng_between(&n->r, -1, 1);
		double off = staggered && m % 2 ? -sign * side : sign * side;
		demo_pt_t p = g.horizontal ? (demo_pt_t){x0 + t, y0 + off, 0} : (demo_pt_t){x0 + off, y0 + t, 0};
		p.z = demo_ground(d, p.x, p.y);
		if ((rc = gen_support(d, n, &g, &sv, p)))
			break;
		double dz = !strcmp(pose, "enterré") ? -0.8 : !strcmp(pose, "aérien") ? 7 : 4;
		demo_pt_t pts[2] = {prev, {p.x, p.y, p.z + dz}};
		struct cable_opts o = {.pts = pts, .n = 2, .pose = pose, .g = &g, .sv = &sv};
		rc = gen_cable(d, n, &o);
		prev = pts[1];
	}
	return rc;
}

static int gen_departs(demo_t *d, struct net *n)
{
	static const char *const dirs[] = {"est", "nord", "ouest", "sud"};
	static const char *const regimes[] = {"permanent", "coupure nocturne", "abaissement nocturne"};
	static const double regime_w[] = {30, 45, 25};
	demo_emit_t e;
	demo_emit_open(d, &e, "eclairage_depart");
	for (int a = 0; a < n->n_arm && !e.rc; a++)
		for (int k = 1; k <= 4; k++) {
			char arm[32], ref[64];
			snprintf(arm, sizeof arm, "EP-A-%04d", a + 1);
			snprintf(ref, sizeof ref, "%s-D%d", arm, k);
			demo_emit_begin(&e, ref);
			demo_emit_text(&e, "reference", ref);
			demo_emit_text(&e, "armoire", arm);
			demo_emit_int(&e, "numero", k);
			demo_emit_textf(&e, "nom", "Départ %s", dirs[k - 1]);
			demo_emit_int(&e, "calibre_a", demo_rng_chance(&n->r, 0.6) ? 16 : 25);
			demo_emit_text(&e, "regime", regimes[demo_rng_weighted(&n->r, regime_w, 3)]);
			demo_emit_int(&e, "nb_supports", n->dep_supports[a * 4 + k - 1]);
			demo_emit_end(&e);
		}
	return demo_emit_close(&e);
}

static int net_alloc(demo_t *d, struct net *n)
{
	memset(n, 0, sizeof *n);
	n->n_arm = (int)kt_demo_target("eclairage_armoire", d->scale);
	n->bands = (int)lround(sqrt(n->n_arm * d->height / d->width));
	n->bands = n->bands < 1 ? 1 : n->bands > n->n_arm ? n->n_arm : n->bands;
	size_t crossings = (size_t)(d->cols + 1) * (size_t)(d->rows + 1);
	n->ai = kt_calloc((size_t)n->n_arm, sizeof *n->ai);
	n->aj = kt_calloc((size_t)n->n_arm, sizeof *n->aj);
	n->dep_supports = kt_calloc((size_t)n->n_arm * 4, sizeof *n->dep_supports);
	n->feeder_owner = kt_malloc(crossings * sizeof *n->feeder_owner);
	if (!n->ai || !n->aj || !n->dep_supports || !n->feeder_owner)
		return kt_ctx_error(d->ctx, KT_ENOMEM, "%s: out of memory", __func__);
	for (size_t i = 0; i < crossings; i++)
		n->feeder_owner[i] = -1;
	demo_rng_init(&n->r, d->seed, "eclairage");
	return 0;
}

static void net_free(struct net *n)
{
	kt_free(n->ai);
	kt_free(n->aj);
	kt_free(n->dep_supports);
	kt_free(n->feeder_owner);
}

int demo_gen_lighting(demo_t *d)
{
	struct net n;
	int rc = net_alloc(d, &n);
	if (!rc)
		rc = gen_cabinets(d, &n);
	if (rc) {
		net_free(&n);
		return rc;
	}
	demo_emit_open(d, &n.es, "eclairage_support");
	demo_emit_open(d, &n.ef, "eclairage_foyer");
	demo_emit_open(d, &n.ec, "eclairage_cable");
	int64_t total = kt_demo_target("eclairage_support", d->scale);
	int64_t segs = (int64_t)(d->rows + 1) * d->cols + (int64_t)(d->cols + 1) * d->rows;
	for (int64_t s = 0; s < segs && !rc; s++)
		rc = gen_segment(d, &n, s, (int)((s + 1) * total / segs - s * total / segs));
	int rc1 = demo_emit_close(&n.es), rc2 = demo_emit_close(&n.ef), rc3 = demo_emit_close(&n.ec);
	rc = rc ? rc : rc1 ? rc1 : rc2 ? rc2 : rc3;
	if (!rc)
		rc = gen_departs(d, &n);
	d->n_armoires = n.n_arm;
	d->n_supports = n.n_support;
	net_free(&n);
	return rc;
}
