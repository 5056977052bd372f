/*
 * cairn-bench solver's run through a real cairnd (solver_e2e.c): batches of NEXT_MOVE
 * from a C host, table and search, round trip per batch.
 */
#ifndef CAIRN_BENCH_SOLVER_E2E_H
#define CAIRN_BENCH_SOLVER_E2E_H

#include <stdbool.h>

#include "machine.h"
#include "report.h"

struct solver_e2e_opts {
	const char *cairnd;       /* --cairnd, or NULL: found as cairnd_find does */
	const char *map_path;     /* the Moving AI map to load into cairnd */
	int host_cpu, daemon_cpu; /* -1: chosen by bench_choose_cpus */
	bool quick;
};

/* Runs it and adds a table, a line and two targets to rep. Returns 0 or -errno. */
int solver_e2e_run(const struct solver_e2e_opts *o, const struct machine *m, struct report *rep);

#endif
