#include <string.h>

#include "cairn/cairn.h"
#include "protocol_desc.h"

static const struct cairn__error_desc *find(int err)
{
	int code = err < 0 ? -err : err;
	if (code < CAIRN_E__FIRST || code > CAIRN_E__LAST) {
		return NULL;
	}
	for (unsigned i = 0; i < CAIRN__PROTO_NERRORS; i++) {
		if (cairn__proto_errors[i].code == code) {
			return &cairn__proto_errors[i];
		}
	}
	return NULL;
}

CAIRN_API const char *cairn_strerror(int err)
{
	if (err == 0) {
		return "success";
	}
	const struct cairn__error_desc *d = find(err);
	if (d) {
		return d->message;
	}
	int code = err < 0 ? -err : err;
	if (code >= CAIRN_E__FIRST) {
		return "unknown cairn error code";
	}
	/* strerror's result is static for every valid errno; unknown ones vary but stay valid. */
	return strerror(code);
}

CAIRN_API const char *cairn_error_name(int err)
{
	const struct cairn__error_desc *d = find(err);
	return d ? d->name : NULL;
}
