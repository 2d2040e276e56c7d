/*
 * sbuf.c — a growing text buffer for the XML and HTML answers of the OGC
 * services (capabilities, schemas, GML, pages).
 *
 * Invariants: p is NULL or a kt_malloc'd block of cap bytes holding len
 * bytes and a NUL; after a failed allocation oom stays set, later appends
 * do nothing and kt_sbuf_take returns NULL, so a writer checks once at the
 * end instead of after every append.
 */
#include <stdio.h>
#include <string.h>

#include "kt_ows_int.h"

static int grow(kt_sbuf_t *b, size_t more)
{
	if (b->oom)
		return -1;
	if (b->len + more + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more + 1) {
		if (cap > ((size_t)1 << 40)) {
			b->oom = 1;
			return -1;
		}
		cap *= 2;
	}
	char *p = kt_realloc(b->p, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void kt_sbuf_put(kt_sbuf_t *b, const char *s, size_t n)
{
	if (grow(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

void kt_sbuf_puts(kt_sbuf_t *b, const char *s)
{
	kt_sbuf_put(b, s, strlen(s));
}

void kt_sbuf_printf(kt_sbuf_t *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof small) {
		kt_sbuf_put(b, small, (size_t)n);
		return;
	}
	if (grow(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void kt_sbuf_xml(kt_sbuf_t *b, const char *s)
{
	const char *run = s;
	for (; *s; s++) {
		const char *rep = NULL;
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&apos;"; break;
		default:
			/* XML 1.0 forbids most control characters, even escaped */
			if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
				rep = "?";
		}
		if (rep) {
			kt_sbuf_put(b, run, (size_t)(s - run));
			kt_sbuf_puts(b, rep);
			run = s + 1;
		}
	}
	kt_sbuf_put(b, run, (size_t)(s - run));
}

void kt_sbuf_url(kt_sbuf_t *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-._~:,", c)) {
			kt_sbuf_put(b, s, 1);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			kt_sbuf_put(b, e, 3);
		}
	}
}

char *kt_sbuf_take(kt_sbuf_t *b, size_t *len)
{
	if (b->oom || grow(b, 0)) {
		kt_sbuf_release(b);
		return NULL;
	}
	char *p = b->p;
	if (len)
		*len = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

void kt_sbuf_release(kt_sbuf_t *b)
{
	kt_free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->oom = 0;
}
