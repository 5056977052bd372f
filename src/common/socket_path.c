#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cairn/cairn.h"

CAIRN_API int cairn_default_socket_path(char *buf, size_t len)
{
	const char *env = getenv("CAIRN_SOCKET");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;
	if (env && *env) {
		n = snprintf(buf, len, "%s", env);
	} else if (xdg && *xdg) {
		n = snprintf(buf, len, "%s/cairn/cairnd.sock", xdg);
	} else {
		n = snprintf(buf, len, "/tmp/cairn-%u/cairnd.sock", (unsigned)getuid());
	}
	if (n < 0 || (size_t)n >= len) {
		return -ENAMETOOLONG;
	}
	return n;
}
