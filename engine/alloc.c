/*
 * alloc.c — the engine's one allocation hook. Every engine allocation goes
 * through kt_malloc & co so that a test can make the Nth one fail and check
 * that the failure travels back as KT_ENOMEM without leaks or crashes.
 * The failure counter is per thread, so injection in one test thread does
 * not disturb the others.
 */
#include "kt_engine.h"

#include <stdlib.h>
#include <string.h>

static _Thread_local long fail_after = -1;

void kt_alloc_fail_after(long n)
{
	fail_after = n;
}

static int should_fail(void)
{
	if (fail_after < 0)
		return 0;
	if (fail_after == 0)
		return 1;
	fail_after--;
	return 0;
}

void *kt_malloc(size_t n)
{
	return should_fail() ? NULL : malloc(n ? n : 1);
}

void *kt_calloc(size_t count, size_t size)
{
	return should_fail() ? NULL : calloc(count ? count : 1, size ? size : 1);
}

void *kt_realloc(void *p, size_t n)
{
	return should_fail() ? NULL : realloc(p, n ? n : 1);
}

char *kt_strdup(const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	char *d = kt_malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

void kt_free(void *p)
{
	free(p);
}
