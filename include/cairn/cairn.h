/*
 * libcairn: the C client of cairnd.
 *
 * A client attaches to the daemon over its Unix socket and receives two memory
 * segments: the daemon's state (read-only) and its own lane (a command ring, a result
 * ring, their doorbells and a blob arena). After that, sending a command and receiving
 * its result touch only shared memory; a syscall happens only when one side sleeps.
 *
 * Conventions: functions return an int, >= 0 on success and a negative code on
 * failure: -errno for system errors, -CAIRN_E_* (see protocol.h) for protocol errors.
 * cairn_strerror() names every code. Unless said otherwise, every function is safe to
 * call from many threads at once on the same cairn_client; cairn_close() is not.
 */
#ifndef CAIRN_CAIRN_H
#define CAIRN_CAIRN_H

#include <stddef.h>
#include <stdint.h>

#include <cairn/protocol.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CAIRN_API __attribute__((visibility("default")))
#else
#define CAIRN_API
#endif

/* An attached connection to cairnd. Opaque; created by cairn_open. */
typedef struct cairn_client cairn_client;

/* Request ids with this bit set are reserved for cairn_call. */
#define CAIRN_CALL_ID_BIT (UINT64_C(1) << 63)

/* A timeout that never expires. */
#define CAIRN_FOREVER (-1)

/* Options for cairn_open. Zero-initialise and set what you need; NULL means defaults. */
struct cairn_open_options {
	uint32_t cmd_capacity; /* command ring slots, a power of two; 0 = 1024 */
	uint32_t res_capacity; /* result ring slots, a power of two; 0 = 1024 */
	uint32_t blob_size;    /* blob arena bytes; 0 = 1 MiB */
	uint32_t spin_us;      /* busy-poll this long before yielding when waiting; 0 = 50 */
	const char *name;      /* shown to operators; NULL = the program's name. Copied. */
};

/* A copy of what the daemon publishes about itself. */
struct cairn_daemon_info {
	uint32_t pid;
	uint32_t state;		  /* enum cairn_daemon_state */
	uint32_t max_lanes;
	int32_t apply_cpu;	  /* -1 when not pinned */
	int32_t numa_node;	  /* -1 when unknown */
	uint32_t lane_id;	  /* this connection's lane */
	uint64_t client_id;	  /* this connection's id */
	uint64_t boot_epoch_ns;	  /* daemon start, ns since the Unix epoch */
	uint64_t heartbeat_age_ns; /* how long ago the apply thread last stamped its heartbeat */
	struct cairn_daemon_counters counters;
};

/*
 * Writes the default socket path into buf (len bytes): $CAIRN_SOCKET if set, else
 * $XDG_RUNTIME_DIR/cairn/cairnd.sock, else /tmp/cairn-UID/cairnd.sock.
 * Returns the length, or -ENAMETOOLONG.
 */
CAIRN_API int cairn_default_socket_path(char *buf, size_t len);

/*
 * Attaches to the daemon listening at socket_path (NULL: the default path) and stores
 * a new connection in *out. opts may be NULL.
 * Returns 0, or -ENOENT/-ECONNREFUSED (no daemon there), -CAIRN_E_DENIED (this uid/gid
 * is not allowed), -CAIRN_E_VERSION, -CAIRN_E_TOO_MANY_CLIENTS, -CAIRN_E_LAYOUT,
 * -CAIRN_E_BAD_MAGIC, -CAIRN_E_HANDSHAKE, -ETIMEDOUT (the daemon did not answer in 5 s),
 * -ENOMEM. The caller owns *out and frees it with cairn_close.
 */
CAIRN_API int cairn_open(const char *socket_path, const struct cairn_open_options *opts,
			 cairn_client **out);

/*
 * Detaches and frees c; the daemon reclaims the lane. Results not yet taken are lost.
 * NULL is accepted. Not thread-safe: no other call on c may be running or follow.
 */
CAIRN_API void cairn_close(cairn_client *c);

/*
 * Initialises *m as a command of the given type with length payload bytes, all zero.
 * Returns 0, or -EINVAL when length > CAIRN_PAYLOAD_SIZE.
 */
CAIRN_API int cairn_msg_init(struct cairn_msg *m, uint16_t type, uint8_t length);

/*
 * Pushes one command without waiting. If cmd->hdr.request_id is 0 a fresh id is
 * assigned and written back into cmd. Its result is taken later with cairn_poll or
 * cairn_wait. Returns 0, -EAGAIN (command ring full: the daemon applies a command only
 * when its result has room, so take results with cairn_poll, then retry), -EINVAL (request id
 * with CAIRN_CALL_ID_BIT set, or a length above CAIRN_PAYLOAD_SIZE),
 * -CAIRN_E_DISCONNECTED or -CAIRN_E_LANE_DROPPED.
 */
CAIRN_API int cairn_submit(cairn_client *c, struct cairn_msg *cmd);

/*
 * Pushes up to n commands in order, with one claim on the ring; assigns request ids as
 * cairn_submit does. Returns how many were pushed (0 when the ring is full), or a
 * negative code as cairn_submit.
 */
CAIRN_API int cairn_submit_batch(cairn_client *c, struct cairn_msg *cmds, unsigned n);

/*
 * Takes one result of a cairn_submit command, if one is ready, into *res.
 * Returns 0, -EAGAIN (none ready), -CAIRN_E_DISCONNECTED or -CAIRN_E_LANE_DROPPED.
 * Results of cairn_call commands are never returned here.
 */
CAIRN_API int cairn_poll(cairn_client *c, struct cairn_msg *res);

/* Takes up to n ready results. Returns how many (0 when none), or a negative code. */
CAIRN_API int cairn_poll_batch(cairn_client *c, struct cairn_msg *res, unsigned n);

/*
 * Waits up to timeout_ns (CAIRN_FOREVER: no limit) for one result of a cairn_submit
 * command: spins briefly, then yields, then sleeps on the result ring's doorbell.
 * Returns 0, -ETIMEDOUT, -CAIRN_E_DISCONNECTED or -CAIRN_E_LANE_DROPPED.
 */
CAIRN_API int cairn_wait(cairn_client *c, struct cairn_msg *res, int64_t timeout_ns);

/*
 * Sends cmd and waits up to timeout_ns for its own result, whatever other threads do
 * on the same connection. Assigns cmd->hdr.request_id (with CAIRN_CALL_ID_BIT).
 * Returns 0 with *res the result; -code with *res the ERROR result when the daemon
 * answered with an error; or -ETIMEDOUT, -CAIRN_E_DISCONNECTED, -CAIRN_E_LANE_DROPPED,
 * -EINVAL. After a timeout the late result is discarded when it arrives.
 */
CAIRN_API int cairn_call(cairn_client *c, struct cairn_msg *cmd, struct cairn_msg *res,
			 int64_t timeout_ns);

/* PING the daemon and wait for its PONG. Returns 0 or a negative code as cairn_call. */
CAIRN_API int cairn_ping(cairn_client *c, int64_t timeout_ns);

/*
 * The lane's blob arena: *size bytes shared with the daemon, for payloads larger than
 * a slot. The memory lives until cairn_close.
 */
CAIRN_API void *cairn_blob(cairn_client *c, size_t *size);

/* Copies what the daemon publishes about itself into *info. Returns 0. */
CAIRN_API int cairn_daemon_info(cairn_client *c, struct cairn_daemon_info *info);

/*
 * Returns 0 when the daemon still holds this connection, -CAIRN_E_DISCONNECTED or
 * -CAIRN_E_LANE_DROPPED otherwise. Makes one non-blocking syscall.
 */
CAIRN_API int cairn_check(cairn_client *c);

/*
 * A static, human-readable message for any code returned by libcairn (negative or
 * positive; protocol codes and errno values alike). Never NULL.
 */
CAIRN_API const char *cairn_strerror(int err);

/* The schema name of a protocol error code ("DENIED"), or NULL if it is not one. */
CAIRN_API const char *cairn_error_name(int err);

#ifdef __cplusplus
}
#endif

#endif
