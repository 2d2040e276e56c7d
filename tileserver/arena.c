/*
 * arena.c — the per-request bump allocator (see kt_server_int.h).
 *
 * Invariants: cur <= end; [cur, end) is free space of the current block;
 * every pointer handed out is 16-byte aligned and stays valid until
 * kt_arena_release. Blocks from kt_malloc are chained from head and freed
 * together; the caller's first block is never freed. A request larger
 * than half the next block size gets a block of its own so that the space
 * left in the current one is not wasted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_server_int.h"

#define ALIGN 16
#define MIN_BLOCK 8192
#define MAX_BLOCK (1024 * 1024)

struct kt_arena_block {
	kt_arena_block_t *next;
	size_t size;
	_Alignas(ALIGN) unsigned char data[];
};

static unsigned char *align_up(unsigned char *p)
{
	uintptr_t u = (uintptr_t)p;
	return (unsigned char *)((u + (ALIGN - 1)) & ~(uintptr_t)(ALIGN - 1));
}

void kt_arena_init(kt_arena_t *a, void *first, size_t first_size)
{
	memset(a, 0, sizeof *a);
	a->first = first;
	a->first_size = first ? first_size : 0;
	if (first && first_size) {
		a->cur = align_up(first);
		a->end = (unsigned char *)first + first_size;
		if (a->cur > a->end)
			a->cur = a->end;
	}
	a->next_size = MIN_BLOCK;
}

static kt_arena_block_t *new_block(kt_arena_t *a, size_t size)
{
	if (size > SIZE_MAX - sizeof(kt_arena_block_t))
		return NULL;
	kt_arena_block_t *b = kt_malloc(sizeof *b + size);
	if (!b)
		return NULL;
	b->size = size;
	b->next = a->head;
	a->head = b;
	return b;
}

void *kt_arena_alloc(kt_arena_t *a, size_t n)
{
	if (n == 0)
		n = 1;
	if (n > SIZE_MAX - ALIGN)
		return NULL;
	size_t rounded = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	if (a->cur && (size_t)(a->end - a->cur) >= rounded) {
		void *p = a->cur;
		a->cur += rounded;
		a->total += n;
		return p;
	}
	if (rounded > a->next_size / 2) {
		/* big: its own block, the current one stays in use */
		kt_arena_block_t *b = new_block(a, rounded);
		if (!b)
			return NULL;
		a->total += n;
		return b->data;
	}
	kt_arena_block_t *b = new_block(a, a->next_size);
	if (!b)
		return NULL;
	a->cur = b->data + rounded;
	a->end = b->data + b->size;
	if (a->next_size < MAX_BLOCK)
		a->next_size *= 2;
	a->total += n;
	return b->data;
}

char *kt_arena_strndup(kt_arena_t *a, const char *s, size_t n)
{
	char *p = kt_arena_alloc(a, n + 1);
	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

char *kt_arena_strdup(kt_arena_t *a, const char *s)
{
	return kt_arena_strndup(a, s, strlen(s));
}

char *kt_arena_vprintf(kt_arena_t *a, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	char small[256];
	int n = vsnprintf(small, sizeof small, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return NULL;
	char *p = kt_arena_alloc(a, (size_t)n + 1);
	if (!p)
		return NULL;
	if ((size_t)n < sizeof small)
		memcpy(p, small, (size_t)n + 1);
	else
		vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *kt_arena_printf(kt_arena_t *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = kt_arena_vprintf(a, fmt, ap);
	va_end(ap);
	return p;
}

void kt_arena_release(kt_arena_t *a)
{
	kt_arena_block_t *b = a->head;
	while (b) {
		kt_arena_block_t *next = b->next;
		kt_free(b);
		b = next;
	}
	a->head = NULL;
	kt_arena_init(a, a->first, a->first_size);
}
