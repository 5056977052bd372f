/*
 * The hello: what a client that connects says before it has a lane. It comes from
 * another process, possibly a hostile one, so every field is checked here before the
 * control thread acts on it; apart from the socket, the credentials and the lanes, so
 * that the checks can be tested, and fuzzed, on their own.
 */
#include <stdio.h>
#include <string.h>

#include "daemon/daemon.h"

size_t cairnd_hello_size(const void *buf, size_t got)
{
	struct cairn_hello h;
	if (got < sizeof(h)) {
		return sizeof(h);
	}
	memcpy(&h, buf, sizeof(h));
	/* Whatever else is wrong with the hello, its session is read before it is answered. */
	return sizeof(h) + (h.flags & CAIRN_HELLO_SESSION ? sizeof(struct cairn_hello_session) : 0);
}

int cairnd_hello_check(const void *buf, size_t len, struct cairnd_hello *out, char *why,
		       size_t whylen)
{
	memset(out, 0, sizeof(*out));
	if (len < sizeof(out->h) || len != cairnd_hello_size(buf, len)) {
		snprintf(why, whylen, "malformed hello (%zu bytes)", len);
		return CAIRN_E_HANDSHAKE;
	}
	/* Copied: the values checked are the values used. */
	struct cairn_hello *h = &out->h;
	memcpy(h, buf, sizeof(*h));
	if (h->magic != CAIRN_HELLO_MAGIC ||
	    (h->flags & ~(uint32_t)(CAIRN_HELLO_SESSION | CAIRN_HELLO_OBSERVE)) != 0 ||
	    (h->flags & CAIRN_HELLO_SESSION && h->flags & CAIRN_HELLO_OBSERVE)) {
		snprintf(why, whylen, "malformed hello");
		return CAIRN_E_HANDSHAKE;
	}
	if (h->flags & CAIRN_HELLO_SESSION) {
		struct cairn_hello_session hs;
		memcpy(&hs, (const char *)buf + sizeof(*h), sizeof(hs));
		if (hs.session_id == 0) {
			snprintf(why, whylen, "session id 0");
			return CAIRN_E_HANDSHAKE;
		}
		out->session = hs.session_id;
	}
	if (h->version_major != CAIRN_PROTO_MAJOR) {
		snprintf(why, whylen, "protocol %u.%u, this daemon speaks %u.x", h->version_major,
			 h->version_minor, CAIRN_PROTO_MAJOR);
		return CAIRN_E_VERSION;
	}
	out->observe = (h->flags & CAIRN_HELLO_OBSERVE) != 0;
	return 0;
}

int cairnd_hello_lane(const struct cairn_hello *h, uint32_t window, struct cairn__lane_layout *lay,
		      char *why, size_t whylen)
{
	/*
	 * A client can miss the results of at most as many commands as its result ring
	 * holds, and the exactly-once table keeps that many per session: a larger ring is
	 * cut down to the window (the lane header tells the client what it got).
	 */
	uint32_t res_capacity = h->res_capacity;
	if (cairn__lane_plan(h->cmd_capacity, res_capacity, h->blob_size, lay) == 0 && window &&
	    lay->res_capacity > window) {
		res_capacity = window;
	}
	if (cairn__lane_plan(h->cmd_capacity, res_capacity, h->blob_size, lay) < 0) {
		snprintf(why, whylen,
			 "bad lane request (rings %u/%u slots, arena %u bytes): rings take a power "
			 "of two from %u to %u slots, the arena at most %u bytes",
			 h->cmd_capacity, h->res_capacity, h->blob_size,
			 (unsigned)CAIRN_RING_MIN_CAPACITY, (unsigned)CAIRN_RING_MAX_CAPACITY,
			 (unsigned)CAIRN_BLOB_MAX_SIZE);
		return CAIRN_E_LAYOUT;
	}
	return 0;
}
