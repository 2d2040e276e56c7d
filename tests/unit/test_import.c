/*
 * test_import.c — unit tests of the importers' building blocks: field-name
 * normalisation, value conversion, mapping files and their resolution
 * against a layer, and the JSON report. The pipeline itself runs on real
 * files in tests/integration/test_import_real.c.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "kt_engine.h"
#include "kt_import.h"
#include "kt_test.h"

static void assert_norm(const char *in, const char *want)
{
	char out[128];
	size_t n = kt_import_normalise_name(in, out, sizeof out);
	if (strcmp(out, want))
		fail_msg("normalise('%s') = '%s', want '%s'", in, out, want);
	assert_int_equal(n, strlen(want));
}

static void test_import_normalise_name(void **state)
{
	(void)state;
	assert_norm("TYPE_LANTE", "type_lante");
	assert_norm("Date de pose", "date_de_pose");
	assert_norm("Hauteur (m)", "hauteur_m");
	assert_norm("  __Élément__  ", "element");
	assert_norm("Matériau", "materiau");
	assert_norm("ŒUVRE", "oeuvre");
	assert_norm("Straße", "strasse");
	assert_norm("Ærø", "aero");
	assert_norm("Łódź", "lodz");
	assert_norm("Nume\xcc\x81ro", "numero"); /* e + combining acute (NFD) */
	assert_norm("a\xff" "b", "a_b");            /* invalid UTF-8 separates */
	assert_norm("x--y  z", "x_y_z");
	assert_norm("N°", "n");
	assert_norm("", "");
	assert_norm("---", "");
	/* snprintf-like truncation: returns the length needed */
	char small[4];
	assert_int_equal(kt_import_normalise_name("abcdef", small, sizeof small), 6);
	assert_string_equal(small, "abc");
}

/* The converted value; it lives until the next call (s may point into it). */
static const kt_import_value_t *conv_ok(kt_attr_type_t t, const char *text)
{
	static kt_import_value_t v;
	char why[128] = "";
	int rc = kt_import_convert_text(t, text, &v, why, sizeof why);
	if (rc)
		fail_msg("convert(%s, '%s') failed: %s", kt_attr_type_name(t), text, why);
	return &v;
}

static void conv_bad(kt_attr_type_t t, const char *text)
{
	kt_import_value_t v;
	char why[128] = "";
	int rc = kt_import_convert_text(t, text, &v, why, sizeof why);
	if (rc != KT_EINVAL)
		fail_msg("convert(%s, '%s') accepted, should refuse", kt_attr_type_name(t), text);
	/* the reason quotes the value (trimmed) */
	char trimmed[64];
	sscanf(text, " %63[^\n]", trimmed);
	size_t len = strlen(trimmed);
	while (len && trimmed[len - 1] == ' ')
		trimmed[--len] = 0;
	if (!strstr(why, trimmed))
		fail_msg("reason '%s' does not quote '%s'", why, trimmed);
}

static void test_import_convert_integer_real_boolean(void **state)
{
	(void)state;
	assert_int_equal(conv_ok(KT_ATTR_INTEGER, " 42 ")->i, 42);
	assert_int_equal(conv_ok(KT_ATTR_INTEGER, "-7")->i, -7);
	assert_int_equal(conv_ok(KT_ATTR_INTEGER, "12.0")->i, 12);
	assert_int_equal(conv_ok(KT_ATTR_INTEGER, "9223372036854775807")->i, INT64_MAX);
	conv_bad(KT_ATTR_INTEGER, "12.5");
	conv_bad(KT_ATTR_INTEGER, "abc");
	conv_bad(KT_ATTR_INTEGER, "12abc");
	conv_bad(KT_ATTR_INTEGER, "99999999999999999999999");
	assert_true(conv_ok(KT_ATTR_INTEGER, "   ")->is_null);
	assert_true(conv_ok(KT_ATTR_REAL, "")->is_null);

	assert_true(fabs(conv_ok(KT_ATTR_REAL, "3.25")->d - 3.25) < 1e-15);
	assert_true(fabs(conv_ok(KT_ATTR_REAL, "3,25")->d - 3.25) < 1e-15); /* decimal comma */
	assert_true(fabs(conv_ok(KT_ATTR_REAL, "-1e3")->d + 1000) < 1e-12);
	conv_bad(KT_ATTR_REAL, "1,234.5,6");
	conv_bad(KT_ATTR_REAL, "douze");
	conv_bad(KT_ATTR_REAL, "nan");
	conv_bad(KT_ATTR_REAL, "inf");

	assert_int_equal(conv_ok(KT_ATTR_BOOLEAN, "oui")->i, 1);
	assert_int_equal(conv_ok(KT_ATTR_BOOLEAN, "FAUX")->i, 0);
	assert_int_equal(conv_ok(KT_ATTR_BOOLEAN, "1")->i, 1);
	assert_int_equal(conv_ok(KT_ATTR_BOOLEAN, "false")->i, 0);
	conv_bad(KT_ATTR_BOOLEAN, "peut-être");
	conv_bad(KT_ATTR_BOOLEAN, "2");

	/* text is kept exactly as written, blanks inside included */
	assert_string_equal(conv_ok(KT_ATTR_TEXT, " Rue de l'Église ")->s, " Rue de l'Église ");
}

static void test_import_convert_dates(void **state)
{
	(void)state;
	assert_string_equal(conv_ok(KT_ATTR_DATE, "2012-02-15")->s, "2012-02-15");
	assert_string_equal(conv_ok(KT_ATTR_DATE, "29/02/2024")->s, "2024-02-29");
	assert_string_equal(conv_ok(KT_ATTR_DATE, "20080422")->s, "2008-04-22");
	assert_string_equal(conv_ok(KT_ATTR_DATE, "2012-02-15T00:00:00")->s, "2012-02-15");
	conv_bad(KT_ATTR_DATE, "2023-02-29"); /* not a leap year */
	conv_bad(KT_ATTR_DATE, "2023-13-01");
	conv_bad(KT_ATTR_DATE, "31/04/2020");
	conv_bad(KT_ATTR_DATE, "2012-02-15T10:30:00"); /* a time is not a date */
	conv_bad(KT_ATTR_DATE, "hier");
	assert_string_equal(conv_ok(KT_ATTR_DATETIME, "2012-02-15 10:30")->s, "2012-02-15T10:30:00");
	assert_string_equal(conv_ok(KT_ATTR_DATETIME, "2012-02-15T10:30:05Z")->s, "2012-02-15T10:30:05Z");
	assert_string_equal(conv_ok(KT_ATTR_DATETIME, "2012-02-15T10:30:05+01:00")->s,
	                    "2012-02-15T10:30:05+01:00");
	assert_string_equal(conv_ok(KT_ATTR_DATETIME, "2012-02-15")->s, "2012-02-15T00:00:00");
	conv_bad(KT_ATTR_DATETIME, "2012-02-15T25:00");
	conv_bad(KT_ATTR_DATETIME, "2012-02-15T10:30 demain");
}

static void test_import_convert_numbers(void **state)
{
	(void)state;
	kt_import_value_t v;
	char why[128];
	assert_int_equal(kt_import_convert_number(KT_ATTR_INTEGER, 3.0, 0, 0, &v, why, sizeof why), 0);
	assert_int_equal(v.i, 3);
	assert_int_equal(kt_import_convert_number(KT_ATTR_INTEGER, 3.5, 0, 0, &v, why, sizeof why), KT_EINVAL);
	assert_non_null(strstr(why, "3.5"));
	assert_int_equal(kt_import_convert_number(KT_ATTR_REAL, 0, 1, 7, &v, why, sizeof why), 0);
	assert_true(v.d == 7.0);
	assert_int_equal(kt_import_convert_number(KT_ATTR_BOOLEAN, 0, 1, 2, &v, why, sizeof why), KT_EINVAL);
	assert_int_equal(kt_import_convert_number(KT_ATTR_BOOLEAN, 0, 1, 1, &v, why, sizeof why), 0);
	assert_int_equal(v.i, 1);
	assert_int_equal(kt_import_convert_number(KT_ATTR_DATE, 0, 1, 20120215, &v, why, sizeof why), 0);
	assert_string_equal(v.s, "2012-02-15");
	assert_int_equal(kt_import_convert_number(KT_ATTR_DATE, 0, 1, 20121315, &v, why, sizeof why), KT_EINVAL);
	assert_int_equal(kt_import_convert_number(KT_ATTR_DATE, 12.5, 0, 0, &v, why, sizeof why), KT_EINVAL);
	assert_int_equal(kt_import_convert_number(KT_ATTR_REAL, INFINITY, 0, 0, &v, why, sizeof why), KT_EINVAL);
}

static void test_import_mapping_parse(void **state)
{
	(void)state;
	kt_import_mapping_t *m = NULL;
	kt_err_t err = {0, ""};
	assert_int_equal(kt_import_mapping_parse("{\"id\": \"IDU\", \"commune\": null}", "m.json", &m, &err), 0);
	assert_int_equal(m->n, 2);
	assert_string_equal(m->attr[0], "id");
	assert_string_equal(m->field[0], "IDU");
	assert_string_equal(m->attr[1], "commune");
	assert_null(m->field[1]);
	kt_import_mapping_free(m);

	m = NULL;
	assert_int_equal(kt_import_mapping_parse("{\"id\": 3}", "m.json", &m, &err), KT_EINVAL);
	assert_null(m);
	assert_non_null(strstr(err.msg, "m.json"));
	assert_non_null(strstr(err.msg, "\"id\""));
	assert_int_equal(kt_import_mapping_parse("[\"id\"]", "m.json", &m, &err), KT_EINVAL);
	assert_int_equal(kt_import_mapping_parse("{\"id\": \"IDU\"", "broken.json", &m, &err), KT_EINVAL);
	assert_non_null(strstr(err.msg, "broken.json"));
	assert_int_equal(kt_import_mapping_load("/nonexistent/map.json", &m, &err), KT_EINVAL);
	assert_non_null(strstr(err.msg, "/nonexistent/map.json"));
}

static const char *layer_json =
        "{\"name\": \"t_support\", \"title\": \"Supports\", \"geometry\": \"POINT\", \"z\": false,"
        " \"network\": \"rigid\", \"public\": true, \"zoom\": [15, 22], \"licence\": \"Licence Ouverte 2.0\","
        " \"attributes\": ["
        "  {\"name\": \"reference\", \"type\": \"text\", \"title\": \"Réf\", \"public\": true, \"required\": true},"
        "  {\"name\": \"type_lante\", \"type\": \"text\", \"title\": \"Type\", \"public\": true},"
        "  {\"name\": \"hauteur\", \"type\": \"real\", \"title\": \"Hauteur\", \"public\": true},"
        "  {\"name\": \"date_pose\", \"type\": \"date\", \"title\": \"Pose\", \"public\": true}]}";

static int setup_layer(void **state)
{
	kt_err_t err = {0, ""};
	kt_layer_t *l = kt_layer_parse(layer_json, "t_support.json", &err);
	if (!l)
		fprintf(stderr, "layer: %s\n", err.msg);
	*state = l;
	return l ? 0 : -1;
}

static int teardown_layer(void **state)
{
	kt_layer_free(*state);
	return 0;
}

#define N_TARGETS(l) ((l)->n_attrs + KT_IMPORT_N_EXTRA)

static void test_import_mapping_automatic(void **state)
{
	const kt_layer_t *l = *state;
	const char *fields[] = {"REFERENCE", "Type Lanté", "hauteur", "HAUTEUR", "Date Posé", "ASCOL_REF", "x"};
	int idx[16];
	kt_err_t err = {0, ""};
	/* "hauteur" and "HAUTEUR" are both exact (case aside): ambiguous */
	assert_int_equal(kt_import_mapping_resolve(NULL, l, fields, 7, idx, &err), KT_EINVAL);
	assert_non_null(strstr(err.msg, "hauteur"));
	assert_non_null(strstr(err.msg, "HAUTEUR"));

	const char *fields2[] = {"REFERENCE", "Type Lanté", "Hauteur (m)", "hauteur", "DATE POSE", "ASCOL_REF"};
	assert_int_equal(kt_import_mapping_resolve(NULL, l, fields2, 6, idx, &err), 0);
	assert_int_equal(idx[0], 0);  /* reference <- REFERENCE */
	assert_int_equal(idx[1], 1);  /* type_lante <- Type Lanté */
	assert_int_equal(idx[2], 3);  /* hauteur: the exact name beats "Hauteur (m)" (hauteur_m anyway) */
	assert_int_equal(idx[3], 4);  /* date_pose <- DATE POSE */
	assert_int_equal(idx[l->n_attrs + KT_IMPORT_ASCOL_REF], 5);
	assert_int_equal(idx[l->n_attrs + KT_IMPORT_SURVEYOR], -1);
}

static void test_import_mapping_file_overrides(void **state)
{
	const kt_layer_t *l = *state;
	const char *fields[] = {"NUM", "type_lante", "H", "date_pose"};
	int idx[16];
	kt_err_t err = {0, ""};
	/* reference is required and nothing matches it */
	assert_int_equal(kt_import_mapping_resolve(NULL, l, fields, 4, idx, &err), KT_EINVAL);
	assert_non_null(strstr(err.msg, "reference"));
	assert_non_null(strstr(err.msg, "required"));

	kt_import_mapping_t *m = NULL;
	assert_int_equal(kt_import_mapping_parse("{\"reference\": \"num\", \"hauteur\": \"H\", \"type_lante\": null}",
	                                         "m.json", &m, &err), 0);
	assert_int_equal(kt_import_mapping_resolve(m, l, fields, 4, idx, &err), 0);
	assert_int_equal(idx[0], 0);  /* NUM, matched case-insensitively */
	assert_int_equal(idx[1], -1); /* explicitly unmapped although type_lante exists */
	assert_int_equal(idx[2], 2);
	assert_int_equal(idx[3], 3);
	kt_import_mapping_free(m);

	assert_int_equal(kt_import_mapping_parse("{\"nope\": \"NUM\"}", "m.json", &m, &err), 0);
	assert_int_equal(kt_import_mapping_resolve(m, l, fields, 4, idx, &err), KT_EINVAL);
	assert_non_null(strstr(err.msg, "nope"));
	kt_import_mapping_free(m);
	assert_int_equal(kt_import_mapping_parse("{\"reference\": \"MISSING\"}", "m.json", &m, &err), 0);
	assert_int_equal(kt_import_mapping_resolve(m, l, fields, 4, idx, &err), KT_EINVAL);
	assert_non_null(strstr(err.msg, "MISSING"));
	kt_import_mapping_free(m);
	(void)N_TARGETS(l);
}

static void test_import_report_json(void **state)
{
	(void)state;
	kt_import_report_t *r = calloc(1, sizeof *r);
	r->source = kt_strdup("a.shp");
	r->layer = kt_strdup("eclairage_support");
	r->transform_accuracy_m = 1.0;
	r->transform_name = kt_strdup("RGF93 v1 to WGS 84 (1)");
	r->read = 3;
	r->inserted = 2;
	r->rejected = 1;
	r->n_rejections = 1;
	r->rejections = kt_calloc(1, sizeof *r->rejections);
	r->rejections[0].index = 2;
	r->rejections[0].fid = 1;
	r->rejections[0].reason = kt_strdup("field 'H' → hauteur (real): 'abc' is not a number");
	char *text = kt_import_report_json(r);
	assert_non_null(text);
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "counts"), "read")), 3);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "counts"), "rejected")), 1);
	json_t *rej = json_array_get(json_object_get(j, "rejections"), 0);
	assert_int_equal(json_integer_value(json_object_get(rej, "index")), 2);
	assert_non_null(strstr(json_string_value(json_object_get(rej, "reason")), "'abc'"));
	assert_true(json_real_value(json_object_get(json_object_get(j, "transformation"), "accuracy_m")) == 1.0);
	json_decref(j);
	kt_free(text);

	/* unknown accuracy is null, not a made-up number */
	r->transform_accuracy_m = NAN;
	text = kt_import_report_json(r);
	j = json_loads(text, 0, &je);
	assert_true(json_is_null(json_object_get(json_object_get(j, "transformation"), "accuracy_m")));
	json_decref(j);
	kt_free(text);
	kt_import_report_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_import_normalise_name),
		cmocka_unit_test(test_import_convert_integer_real_boolean),
		cmocka_unit_test(test_import_convert_dates),
		cmocka_unit_test(test_import_convert_numbers),
		cmocka_unit_test(test_import_mapping_parse),
		cmocka_unit_test_setup_teardown(test_import_mapping_automatic, setup_layer, teardown_layer),
		cmocka_unit_test_setup_teardown(test_import_mapping_file_overrides, setup_layer, teardown_layer),
		cmocka_unit_test(test_import_report_json),
	};
	return cmocka_run_group_tests_name("import", tests, NULL, NULL);
}
