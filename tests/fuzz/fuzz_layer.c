/*
 * fuzz_layer.c — fuzz target for the layer-definition parser
 * (kt_layer_parse, engine/layer.c): the JSON files of a layers/ folder are
 * written by hand and migrate a live store, so any text must give either a
 * definition that passes the parser's own checks or NULL with a message,
 * never a crash, an overrun or a leak.
 *
 * Built as a libFuzzer target with -DKT_FUZZ=ON (clang), and as a corpus
 * replay otherwise (ctest fuzz_layer_corpus), like the other targets.
 * What must hold: on success the definition is consistent (safe names,
 * known types, ordered zooms) and parsing its stored JSON again gives the
 * same definition; on failure err.code is negative and err.msg non-empty.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_layer(const kt_layer_t *l)
{
	if (!l->name || !l->title || l->minzoom < 0 || l->maxzoom > 24 || l->minzoom > l->maxzoom ||
	    (int)l->geom_type < KT_GEOM_NONE || l->geom_type > KT_GEOM_MULTIPOLYGON)
		abort();
	for (size_t i = 0; i < l->n_attrs; i++)
		if (!l->attrs[i].name || l->attrs[i].type < KT_ATTR_TEXT ||
		    l->attrs[i].type > KT_ATTR_DATETIME)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	kt_err_t err = { 0 };
	kt_layer_t *l = kt_layer_parse(text, "fuzz.json", &err);
	if (!l) {
		if (err.code >= 0 || !err.msg[0])
			abort();
	} else {
		check_layer(l);
		kt_layer_t *again = kt_layer_parse(l->definition_json, "again.json", &err);
		if (!again || strcmp(again->definition_json, l->definition_json) ||
		    again->n_attrs != l->n_attrs || again->geom_type != l->geom_type)
			abort();
		kt_layer_free(again);
	}
	kt_layer_free(l);
	free(text);
	return 0;
}

#include "kt_fuzz_replay.h"
