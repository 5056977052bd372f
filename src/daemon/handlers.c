/*
 * Command handlers. The command was copied out of the lane before it got here, so the
 * client cannot change it while it is checked; the blob arena, though, is still shared
 * and is only ever read or written through bounds computed from private sizes.
 */
#include <string.h>

#include "common/log.h"
#include "daemon/daemon.h"
#include "protocol_desc.h"

void cairnd_error_result(const struct cairn_msg *cmd, int code, uint32_t detail,
			 struct cairn_msg *out)
{
	struct cairn_error_info e;
	memset(out, 0, sizeof(*out));
	memset(&e, 0, sizeof(e));
	out->hdr.type = CAIRN_MSG_ERROR;
	out->hdr.length = CAIRN_MSG_ERROR_LEN_MIN;
	out->hdr.status = code;
	out->hdr.request_id = cmd->hdr.request_id;
	e.request_type = cmd->hdr.type;
	e.detail = detail;
	memcpy(out->payload, &e, sizeof(e));
}

void cairnd_reply(const struct cairn_msg *cmd, uint16_t type, uint8_t length, struct cairn_msg *out)
{
	memset(out, 0, sizeof(*out));
	out->hdr.type = type;
	out->hdr.length = length;
	out->hdr.request_id = cmd->hdr.request_id;
}

/*
 * Command descriptors indexed by type, so that the apply thread finds one with a load
 * rather than a scan of the schema's table. Command types are small; a type beyond the
 * table is unknown.
 */
#define MAX_COMMAND_TYPE 256
static const struct cairn__msg_desc *by_type[MAX_COMMAND_TYPE];

void cairnd_handlers_init(void)
{
	for (unsigned i = 0; i < CAIRN__PROTO_NMSGS; i++) {
		uint16_t t = cairn__proto_msgs[i].type;
		if (!(t & CAIRN_REPLY_BIT)) {
			/* The schema numbers commands from 1; a larger one needs a larger table. */
			CAIRN_ASSERT(t < MAX_COMMAND_TYPE);
			by_type[t] = &cairn__proto_msgs[i];
		}
	}
}

/* The descriptor of a command type, or NULL for results and unknown types. */
static const struct cairn__msg_desc *command_desc(uint16_t type)
{
	return type < MAX_COMMAND_TYPE ? by_type[type] : NULL;
}

int cairnd_check_header(const struct cairn_msg *cmd, uint32_t *detail)
{
	const struct cairn__msg_desc *desc = command_desc(cmd->hdr.type);
	if (!desc) {
		*detail = cmd->hdr.type;
		return CAIRN_E_UNKNOWN_TYPE;
	}
	if (cmd->hdr.flags != 0) {
		*detail = cmd->hdr.flags;
		return CAIRN_E_BAD_FLAGS;
	}
	if (cmd->hdr.length < desc->len_min || cmd->hdr.length > desc->len_max) {
		*detail = cmd->hdr.length;
		return CAIRN_E_BAD_LENGTH;
	}
	*detail = 0;
	return 0;
}

static void echo_blob(struct lane *l, const struct cairn_msg *cmd, struct cairn_msg *out)
{
	struct cairn_echo_blob q;
	struct cairn_echo_blob_reply a;
	memcpy(&q, cmd->payload, sizeof(q));
	if (!cairnd_in_arena(q.in_offset, q.in_length, l->blob_size)) {
		cairnd_error_result(cmd, CAIRN_E_BLOB_RANGE, q.in_offset, out);
		return;
	}
	if (!cairnd_in_arena(q.out_offset, q.out_capacity, l->blob_size)) {
		cairnd_error_result(cmd, CAIRN_E_BLOB_RANGE, q.out_offset, out);
		return;
	}
	if (q.out_capacity < q.in_length) {
		cairnd_error_result(cmd, CAIRN_E_BLOB_TOO_SMALL, q.in_length, out);
		return;
	}
	/* memmove: the client may have made the two regions overlap. */
	memmove(l->blob + q.out_offset, l->blob + q.in_offset, q.in_length);
	cairnd_reply(cmd, CAIRN_MSG_ECHO_BLOB_REPLY, CAIRN_MSG_ECHO_BLOB_REPLY_LEN_MIN, out);
	memset(&a, 0, sizeof(a));
	a.out_offset = q.out_offset;
	a.out_length = q.in_length;
	memcpy(out->payload, &a, sizeof(a));
}

static void handle_daemon_command(struct lane *l, const struct cairn_msg *cmd, uint64_t ingress_ns,
				  struct cairn_msg *out);

void cairnd_handle(struct daemon *d, struct lane *l, const struct cairn_msg *cmd,
		   uint64_t ingress_ns, struct cairn_msg *out)
{
	if (cairn__engine_serves(cmd->hdr.type)) {
		/* The engine checks and counts its own commands. */
		struct cairn__blob blob = {l->blob, l->blob_size};
		cairn__engine_apply(d->engine, cmd, ingress_ns, &blob, out);
		return;
	}
	handle_daemon_command(l, cmd, ingress_ns, out);
	cairn__count_command(d->engine_counters, cmd->hdr.type,
			     out->hdr.type == CAIRN_MSG_ERROR ? out->hdr.status : 0);
}

/* The commands the daemon answers itself: PING, ECHO, ECHO_BLOB; anything unknown. */
static void handle_daemon_command(struct lane *l, const struct cairn_msg *cmd, uint64_t ingress_ns,
				  struct cairn_msg *out)
{
	uint32_t detail;
	int code = cairnd_check_header(cmd, &detail);
	if (code) {
		cairnd_error_result(cmd, code, detail, out);
		return;
	}
	switch (cmd->hdr.type) {
	case CAIRN_MSG_PING: {
		struct cairn_ping p;
		struct cairn_pong q;
		memcpy(&p, cmd->payload, sizeof(p));
		memset(&q, 0, sizeof(q));
		q.client_stamp = p.client_stamp;
		q.ingress_ns = ingress_ns;
		cairnd_reply(cmd, CAIRN_MSG_PONG, CAIRN_MSG_PONG_LEN_MIN, out);
		memcpy(out->payload, &q, sizeof(q));
		return;
	}
	case CAIRN_MSG_ECHO:
		cairnd_reply(cmd, CAIRN_MSG_ECHO_REPLY, cmd->hdr.length, out);
		memcpy(out->payload, cmd->payload, cmd->hdr.length);
		return;
	case CAIRN_MSG_ECHO_BLOB:
		echo_blob(l, cmd, out);
		return;
	default:
		/* A type the schema knows but this daemon does not serve. */
		cairnd_error_result(cmd, CAIRN_E_UNKNOWN_TYPE, cmd->hdr.type, out);
		return;
	}
}
