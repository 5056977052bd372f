/*
 * The little-endian codec of the engine's images: a sink that appends bytes and/or
 * hashes them (FNV-1a 64), and a bounds-checked source over untrusted bytes. Shared by
 * the whole-engine image (image.c) and the hunt image of rollback (rollback.c), which
 * encode hunts and entities the same way (cairn__img_*_hunt, cairn__img_*_entity).
 */
#ifndef CAIRN_ENGINE_CODEC_H
#define CAIRN_ENGINE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CAIRN__FNV_OFFSET 0xcbf29ce484222325ull
#define CAIRN__FNV_PRIME  0x100000001b3ull

struct cairn__sink {
	uint8_t *buf;
	size_t len, cap;
	bool keep;    /* append to buf */
	bool hashing; /* feed the hash */
	bool oom;     /* an append failed: buf is incomplete */
	uint64_t hash;
};

static inline void cairn__put(struct cairn__sink *s, const void *p, size_t n)
{
	const uint8_t *b = p;
	if (s->hashing) {
		for (size_t i = 0; i < n; i++) {
			s->hash = (s->hash ^ b[i]) * CAIRN__FNV_PRIME;
		}
	}
	if (!s->keep || s->oom) {
		return;
	}
	if (s->len + n > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		while (cap < s->len + n) {
			cap *= 2;
		}
		uint8_t *nb = realloc(s->buf, cap);
		if (!nb) {
			s->oom = true;
			return;
		}
		s->buf = nb;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, b, n);
	s->len += n;
}

static inline void cairn__put8(struct cairn__sink *s, uint8_t v)
{
	cairn__put(s, &v, 1);
}

static inline void cairn__put32(struct cairn__sink *s, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	cairn__put(s, b, 4);
}

static inline void cairn__put64(struct cairn__sink *s, uint64_t v)
{
	cairn__put32(s, (uint32_t)v);
	cairn__put32(s, (uint32_t)(v >> 32));
}

/* A reader of untrusted bytes: past the end it reads zeros and stays bad. */
struct cairn__src {
	const uint8_t *p, *end;
	bool bad;
};

static inline void cairn__get(struct cairn__src *r, void *out, size_t n)
{
	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = true;
		memset(out, 0, n);
		return;
	}
	memcpy(out, r->p, n);
	r->p += n;
}

static inline uint8_t cairn__get8(struct cairn__src *r)
{
	uint8_t v;
	cairn__get(r, &v, 1);
	return v;
}

static inline uint32_t cairn__get32(struct cairn__src *r)
{
	uint8_t b[4];
	cairn__get(r, b, 4);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static inline uint64_t cairn__get64(struct cairn__src *r)
{
	uint64_t lo = cairn__get32(r);
	return lo | (uint64_t)cairn__get32(r) << 32;
}

/* Bytes left to read. */
static inline size_t cairn__src_left(const struct cairn__src *r)
{
	return (size_t)(r->end - r->p);
}

#endif
