/*
 * test_layer.c — layer definitions: the parser accepts the repository's
 * own layers/ and refuses each kind of bad definition with a message that
 * names the file and the key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "kt_engine.h"
#include "kt_test.h"

static void test_layer_parses_full_definition(void **state)
{
	(void)state;
	kt_err_t err = {0};
	kt_layer_t *l = kt_layer_parse(
		"{\"name\":\"lamp\",\"title\":\"Lampes\",\"geometry\":\"point\",\"z\":true,"
		"\"network\":\"flexible\",\"public\":true,\"zoom\":[12,20],\"licence\":\"LO 2.0\","
		"\"attributes\":[{\"name\":\"ref\",\"type\":\"text\",\"public\":true,\"required\":true},"
		"{\"name\":\"watts\",\"type\":\"real\"}]}", "lamp.json", &err);
	assert_non_null(l);
	assert_string_equal(l->name, "lamp");
	assert_int_equal(l->geom_type, KT_GEOM_POINT);
	assert_int_equal(l->has_z, 1);
	assert_int_equal(l->network, KT_NETWORK_FLEXIBLE);
	assert_int_equal(l->minzoom, 12);
	assert_int_equal(l->maxzoom, 20);
	assert_int_equal(l->n_attrs, 2);
	assert_int_equal(l->attrs[0].is_public, 1);
	assert_int_equal(l->attrs[0].required, 1);
	assert_int_equal(l->attrs[1].type, KT_ATTR_REAL);
	assert_int_equal(l->attrs[1].is_public, 0);
	assert_int_equal(kt_layer_attr_index(l, "watts"), 1);
	assert_null(kt_layer_attr(l, "nope"));
	kt_layer_free(l);
}

static void expect_refused(const char *json, const char *needle)
{
	kt_err_t err = {0};
	kt_layer_t *l = kt_layer_parse(json, "bad.json", &err);
	assert_null(l);
	assert_int_not_equal(err.code, 0);
	if (!strstr(err.msg, needle) || !strstr(err.msg, "bad.json"))
		fail_msg("message \"%s\" should name bad.json and \"%s\"", err.msg, needle);
}

static void test_layer_refuses_bad_definitions(void **state)
{
	(void)state;
	expect_refused("{\"name\":\"x\",", "bad.json:");
	expect_refused("{\"title\":\"t\",\"geometry\":\"POINT\"}", "\"name\"");
	expect_refused("{\"name\":\"Bad-Name\",\"title\":\"t\",\"geometry\":\"POINT\"}", "Bad-Name");
	expect_refused("{\"name\":\"x\",\"title\":\"t\",\"geometry\":\"CIRCLE\"}", "CIRCLE");
	expect_refused("{\"name\":\"x\",\"title\":\"t\",\"geometry\":\"POINT\",\"zoom\":[15,3]}", "zoom");
	expect_refused("{\"name\":\"x\",\"title\":\"t\",\"geometry\":\"POINT\",\"network\":\"soft\"}", "soft");
	expect_refused("{\"name\":\"x\",\"title\":\"t\",\"geometry\":\"POINT\","
	               "\"attributes\":[{\"name\":\"uid\",\"type\":\"text\"}]}", "common column");
	expect_refused("{\"name\":\"x\",\"title\":\"t\",\"geometry\":\"POINT\","
	               "\"attributes\":[{\"name\":\"a\",\"type\":\"money\"}]}", "money");
	expect_refused("{\"name\":\"x\",\"title\":\"t\",\"geometry\":\"POINT\","
	               "\"attributes\":[{\"name\":\"a\",\"type\":\"text\"},{\"name\":\"a\",\"type\":\"text\"}]}",
	               "twice");
	expect_refused("{\"name\":\"x\",\"title\":\"t\",\"geometry\":\"NONE\",\"z\":true}", "\"z\"");
	expect_refused("{\"name\":\"kt_meta\",\"title\":\"t\",\"geometry\":\"NONE\"}", "reserved");
	expect_refused("[1,2]", "object");
}

/* The repository's layers/ must load, and cover DESIGN.md §3. */
static void test_layer_repository_catalogue(void **state)
{
	(void)state;
	kt_err_t err = {0};
	kt_catalogue_t *cat = NULL;
	int rc = kt_catalogue_load_dir(kt_test_env("KT_LAYERS_DIR"), &cat, &err);
	if (rc)
		fail_msg("%s", err.msg);
	static const char *const expected[] = {
		"eclairage_armoire", "eclairage_cable", "eclairage_support", "batiment", "intervention",
		"cimetiere", "cimetiere_carre", "cimetiere_allee", "cimetiere_emplacement",
		"cimetiere_concession", "cimetiere_defunt", "collab_toilettes", "collab_stationnement",
		"collab_commerce", "collab_equipement", "commune", "parcelle", NULL,
	};
	for (const char *const *e = expected; *e; e++)
		if (!kt_catalogue_find(cat, *e))
			fail_msg("layers/ has no definition of %s", *e);
	/* privacy: concession holders and contributors are never public */
	const kt_layer_t *conc = kt_catalogue_find(cat, "cimetiere_concession");
	for (size_t i = 0; i < conc->n_attrs; i++)
		if (strstr(conc->attrs[i].name, "titulaire"))
			assert_int_equal(conc->attrs[i].is_public, 0);
	for (size_t i = 0; i < cat->n_layers; i++) {
		const kt_layer_t *l = cat->layers[i];
		if (strncmp(l->name, "collab_", 7))
			continue;
		for (size_t j = 0; j < l->n_attrs; j++)
			if (!strcmp(l->attrs[j].name, "contributeur"))
				assert_int_equal(l->attrs[j].is_public, 0);
	}
	assert_int_not_equal(kt_catalogue_find(cat, "eclairage_support")->network, KT_NETWORK_NONE);
	kt_catalogue_free(cat);
}

static void test_layer_alloc_failure_is_clean(void **state)
{
	(void)state;
	const char *json = "{\"name\":\"x\",\"title\":\"t\",\"geometry\":\"POINT\","
	                   "\"attributes\":[{\"name\":\"a\",\"type\":\"text\",\"title\":\"A\"}]}";
	/* make each allocation in turn fail: a NULL result with ENOMEM, never
	 * a crash (ASan also checks that nothing leaks) */
	int failures = 0;
	for (long n = 0; n < 40; n++) {
		kt_err_t err = {0};
		kt_alloc_fail_after(n);
		kt_layer_t *l = kt_layer_parse(json, "x.json", &err);
		kt_alloc_fail_after(-1);
		if (!l) {
			assert_int_equal(err.code, KT_ENOMEM);
			failures++;
		}
		kt_layer_free(l);
	}
	assert_true(failures > 3);
}

static void test_layer_publish_rule(void **state)
{
	(void)state;
	kt_err_t err = {0};
	kt_layer_t *l = kt_layer_parse(
		"{\"name\":\"collab_x\",\"title\":\"X\",\"geometry\":\"POINT\",\"public\":true,"
		"\"publish_when\":{\"attribute\":\"etat\",\"equals\":\"published\"},"
		"\"attributes\":[{\"name\":\"etat\",\"type\":\"text\"},{\"name\":\"n\",\"type\":\"integer\"}]}",
		"x.json", &err);
	if (!l)
		fail_msg("%s", err.msg);
	assert_string_equal(kt_layer_publish_sql(l), "\"etat\" = 'published'");
	kt_feature_t *f = kt_feature_new(l);
	assert_int_equal(kt_layer_feature_published(l, f), 0); /* null state */
	kt_feature_set_text(f, 0, "proposed");
	assert_int_equal(kt_layer_feature_published(l, f), 0);
	kt_feature_set_text(f, 0, "published");
	assert_int_equal(kt_layer_feature_published(l, f), 1);
	kt_feature_free(f);
	kt_layer_free(l);
	/* a layer without the rule publishes everything */
	l = kt_layer_parse("{\"name\":\"y\",\"title\":\"Y\",\"geometry\":\"POINT\"}", "y.json", &err);
	f = kt_feature_new(l);
	assert_null(kt_layer_publish_sql(l));
	assert_int_equal(kt_layer_feature_published(l, f), 1);
	kt_feature_free(f);
	kt_layer_free(l);
	expect_refused("{\"name\":\"x\",\"title\":\"t\",\"geometry\":\"POINT\","
	               "\"publish_when\":{\"attribute\":\"n\",\"equals\":\"1\"},"
	               "\"attributes\":[{\"name\":\"n\",\"type\":\"integer\"}]}", "not a text attribute");
	expect_refused("{\"name\":\"x\",\"title\":\"t\",\"geometry\":\"POINT\",\"publish_when\":3}",
	               "publish_when");
	/* the repository's collaborative layers carry the rule */
	kt_catalogue_t *cat = NULL;
	assert_int_equal(kt_catalogue_load_dir(kt_test_env("KT_LAYERS_DIR"), &cat, &err), 0);
	for (size_t i = 0; i < cat->n_layers; i++)
		if (!strncmp(cat->layers[i]->name, "collab_", 7))
			assert_string_equal(cat->layers[i]->publish_attr, "etat");
	kt_catalogue_free(cat);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layer_parses_full_definition),
		cmocka_unit_test(test_layer_refuses_bad_definitions),
		cmocka_unit_test(test_layer_repository_catalogue),
		cmocka_unit_test(test_layer_alloc_failure_is_clean),
		cmocka_unit_test(test_layer_publish_rule),
	};
	return cmocka_run_group_tests_name("layer", tests, NULL, NULL);
}
