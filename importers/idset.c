/*
 * idset.c — a set of strings, to notice a source identifier that comes
 * twice in one import (upserting both would silently keep only the last).
 * Open addressing with linear probing, FNV-1a hashes, grown at 1/2 load;
 * the set owns copies of its strings.
 */
#include "import_int.h"

#include <stdint.h>
#include <string.h>

struct kt_idset {
	char **slots;
	size_t cap; /* power of two */
	size_t n;
};

static uint64_t hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

kt_idset_t *kt__idset_new(void)
{
	kt_idset_t *s = kt_calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->cap = 1024;
	s->slots = kt_calloc(s->cap, sizeof *s->slots);
	if (!s->slots) {
		kt_free(s);
		return NULL;
	}
	return s;
}

void kt__idset_free(kt_idset_t *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->cap; i++)
		kt_free(s->slots[i]);
	kt_free(s->slots);
	kt_free(s);
}

static char **probe(char **slots, size_t cap, const char *str)
{
	size_t i = hash(str) & (cap - 1);
	while (slots[i] && strcmp(slots[i], str))
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

static int grow(kt_idset_t *s)
{
	size_t cap = s->cap * 2;
	char **slots = kt_calloc(cap, sizeof *slots);
	if (!slots)
		return KT_ENOMEM;
	for (size_t i = 0; i < s->cap; i++)
		if (s->slots[i])
			*probe(slots, cap, s->slots[i]) = s->slots[i];
	kt_free(s->slots);
	s->slots = slots;
	s->cap = cap;
	return 0;
}

int kt__idset_add(kt_idset_t *s, const char *str)
{
	if ((s->n + 1) * 2 > s->cap && grow(s))
		return KT_ENOMEM;
	char **slot = probe(s->slots, s->cap, str);
	if (*slot)
		return 0;
	*slot = kt_strdup(str);
	if (!*slot)
		return KT_ENOMEM;
	s->n++;
	return 1;
}
