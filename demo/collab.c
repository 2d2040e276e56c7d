/*
 * collab.c — the four collaborative maps (public toilets, parking, shops,
 * public equipment): points on the sidewalks of the quarter, in every
 * moderation state. Contributors are fictional pseudonymous addresses
 * (private attribute); moderation date and reason exist once a moderator
 * has acted (every state but "proposed").
 */
#include "demo_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

enum theme { T_TOILETTES, T_STATIONNEMENT, T_COMMERCE, T_EQUIPEMENT, T_COUNT };
static const char *const layers[T_COUNT] = {"collab_toilettes", "collab_stationnement", "collab_commerce",
                                            "collab_equipement"};

static void theme_attrs(demo_emit_t *e, demo_rng_t *r, enum theme t, const char *street)
{
	static const char *const parkings[] = {"voirie", "parking", "PMR", "vélos", "recharge électrique", "covoiturage"};
	static const char *const shops[] = {"Boulangerie", "Pharmacie", "Tabac-presse", "Bar", "Épicerie", "Crêperie",
	                                    "Coiffure", "Fleuriste", "Boucherie", "Librairie"};
	static const char *const equip[][2] = {{"sport", "Terrain multisports"}, {"culture", "Boîte à livres"},
	                                       {"aire de jeux", "Aire de jeux"}, {"déchets", "Point d'apport volontaire"},
	                                       {"santé", "Défibrillateur"}, {"administration", "Boîte aux lettres"}};
	switch (t) {
	case T_TOILETTES:
		demo_emit_textf(e, "nom", "Toilettes %s", street);
		demo_emit_bool(e, "acces_pmr", demo_rng_chance(r, 0.7));
		demo_emit_bool(e, "gratuit", demo_rng_chance(r, 0.9));
		demo_emit_bool(e, "table_langer", demo_rng_chance(r, 0.3));
		demo_emit_text(e, "horaires", demo_rng_chance(r, 0.5) ? "24 h/24" : "7 h – 21 h");
		break;
	case T_STATIONNEMENT: {
		const char *kind = parkings[demo_rng_next(r) % 6];
		demo_emit_textf(e, "nom", "Stationnement %s", street);
		demo_emit_text(e, "type_stationnement", kind);
		demo_emit_int(e, "places", kind[0] == 'p' && kind[1] == 'a' ? demo_rng_int(r, 20, 150) : demo_rng_int(r, 1, 12));
		demo_emit_bool(e, "payant", demo_rng_chance(r, 0.2));
		demo_emit_text(e, "duree_max", demo_rng_chance(r, 0.3) ? "1 h 30 (zone bleue)" : "illimitée");
		break;
	}
	case T_COMMERCE: {
		const char *shop = shops[demo_rng_next(r) % 10];
		demo_emit_textf(e, "nom", "%s %s", shop, demo_pick(r, &demo_noms));
		demo_emit_text(e, "activite", shop);
		demo_emit_textf(e, "adresse", "%d %s, 56600 Lanester", demo_rng_int(r, 1, 150), street);
		demo_emit_text(e, "horaires", "mar.–sam. 9 h – 19 h");
		break;
	}
	default: {
		int k = (int)(demo_rng_next(r) % 6);
		demo_emit_textf(e, "nom", "%s %s", equip[k][1], street);
		demo_emit_text(e, "categorie", equip[k][0]);
		demo_emit_textf(e, "adresse", "%s, 56600 Lanester", street);
		break;
	}
	}
}

/* A fictional pseudonymous e-mail made of a first name and a surname. */
static void contributor(demo_rng_t *r, char *out, size_t size)
{
	const char *first = demo_pick(r, demo_rng_chance(r, 0.5) ? &demo_prenoms_f : &demo_prenoms_m);
	const char *last = demo_pick(r, &demo_noms);
	size_t n = 0;
	for (const char *s = first; *s && n + 1 < size; s++)
		if (isalpha((unsigned char)*s))
			out[n++] = (char)tolower((unsigned char)*s);
	if (n + 1 < size)
		out[n++] = '.';
	for (const char *s = last; *s && n + 1 < size; s++)
		if (isalpha((unsigned char)*s))
			out[n++] = (char)tolower((unsigned char)*s);
	snprintf(out + n, size - n, "%d@example.org", demo_rng_int(r, 1, 99));
}

static int gen_point(demo_t *d, demo_emit_t *e, demo_rng_t *r, enum theme t)
{
	static const char *const states[] = {"published", "proposed", "rejected", "withdrawn"};
	static const double state_w[] = {60, 20, 10, 10};
	static const char *const motives[] = {"doublon", "emplacement erroné", "n'existe plus", "retiré par le contributeur"};
	int horizontal = demo_rng_chance(r, 0.5);
	int street = horizontal ? demo_rng_int(r, 0, d->rows) : demo_rng_int(r, 0, d->cols);
	double along = demo_rng_between(r, STREET_W, (horizontal ? d->width : d->height) - STREET_W);
	double across = (demo_rng_chance(r, 0.5) ? 1 : -1) * (STREET_W / 2 - 2);
	double x = horizontal ? along : demo_street_x(d, street) + across;
	double y = horizontal ? demo_street_y(d, street) + across : along;
	char name[128], who[128], when[DEMO_DATE_LEN];
	demo_street_name(d, horizontal, street, name, sizeof name);
	int s = demo_rng_weighted(r, state_w, 4);
	int64_t day = demo_day(2023, 1, 1) + demo_rng_int(r, 0, 700);
	demo_emit_begin(e, NULL);
	theme_attrs(e, r, t, name);
	demo_emit_text(e, "description", "Contribution fictive (données de démonstration)");
	demo_emit_text(e, "etat", states[s]);
	contributor(r, who, sizeof who);
	demo_emit_text(e, "contributeur", who);
	demo_datetime(day, demo_rng_int(r, 7 * 3600, 22 * 3600), when);
	demo_emit_text(e, "date_contribution", when);
	if (s != 1) {
		demo_emit_text(e, "moderateur", "agent.sig");
		demo_datetime(day + demo_rng_int(r, 1, 10), demo_rng_int(r, 8 * 3600, 17 * 3600), when);
		demo_emit_text(e, "date_moderation", when);
		if (s >= 2)
			demo_emit_text(e, "motif", motives[s == 3 ? 3 : demo_rng_int(r, 0, 2)]);
	}
	demo_wkb_point(&d->wkb, demo_at(d, x, y, 0), 0);
	demo_emit_geom(e);
	return demo_emit_end(e);
}

int demo_gen_collab(demo_t *d)
{
	int rc = 0;
	for (int t = 0; t < T_COUNT && !rc; t++) {
		demo_emit_t e;
		demo_rng_t r;
		demo_rng_init(&r, d->seed, layers[t]);
		demo_emit_open(d, &e, layers[t]);
		int64_t n = kt_demo_target(layers[t], d->scale);
		for (int64_t i = 0; i < n && !e.rc; i++)
			gen_point(d, &e, &r, (enum theme)t);
		rc = demo_emit_close(&e);
	}
	return rc;
}
