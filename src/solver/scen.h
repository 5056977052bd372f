/*
 * Moving AI scenario files (".map.scen"), the benchmark queries with their optimal
 * lengths: the solver's external oracle, read by its tests and by cairn-bench solver.
 *
 *   version 1
 *   bucket <TAB> map <TAB> width <TAB> height <TAB> sx <TAB> sy <TAB> gx <TAB> gy <TAB> length
 *
 * Note the width before the height, against the map header's order.
 */
#ifndef CAIRN_SOLVER_SCEN_H
#define CAIRN_SOLVER_SCEN_H

#include <stddef.h>
#include <stdint.h>

#include "map/map.h"
#include "solver/solver.h"

struct cairn__scen {
	uint32_t bucket;
	struct cairn__cell start, goal;
	double length; /* optimal, as printed in the file (about 6 significant digits) */
	unsigned line; /* where it is in the file, for messages */
};

/*
 * Reads the scenarios of path. The file is untrusted: the first line must be
 * "version 1"; every other line (empty ones are skipped) must have exactly nine
 * tab-separated fields, whole numbers without signs, a finite length >= 0, and, when m
 * is not NULL, m's width and height and start and goal cells on m (passability is the
 * solver's to answer). Returns 0 and a new array (free it with free()) of *n scenarios,
 * or -EINVAL with "path:line: what is wrong" in err (errlen bytes), -errno when the file
 * cannot be read, or -ENOMEM. Thread-safe.
 */
int cairn__scen_load(const char *path, const struct cairn__map *m, struct cairn__scen **out,
		     size_t *n, char *err, size_t errlen);

#endif
