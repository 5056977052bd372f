/*
 * The engine as the fuzz targets use it: a small configuration with maps chosen for
 * their edges, a checker of every invariant of an engine's state (it reads the engine's
 * private structures, engine/internal.h), and a checker of results against the schema.
 */
#ifndef CAIRN_TESTS_FUZZ_ENGINE_KIT_H
#define CAIRN_TESTS_FUZZ_ENGINE_KIT_H

#include <stdbool.h>
#include <stdint.h>

#include "cairn/protocol.h"
#include "engine/engine.h"

/*
 * The maps, by id: 0 a 21 x 13 map with walls, trees and water (sides that are not a
 * multiple of a block), 1 the embedded default map (128 x 96), 2 a single passable cell,
 * 3 one row with blocked cells. Parsed once, kept for the whole run.
 */
#define FZ_N_MAPS 4
const struct cairn__map *const *fz_maps(void);

/*
 * Small limits, so that every "too many" is reachable: 5 hunts, 40 entities, 3 shards
 * (not a power of two, so that shard_of's modulo matters), 8 events (readers are lapped).
 */
void fz_engine_config(struct cairn__engine_config *cfg);

/*
 * A game for targets that need one: on an empty engine of fz_engine_config, hunt
 * 01000000 on map 0 (claim radius 500 mm) and 01000001 on the default map; players
 * 01000000 and 01000001 in the first, 01000002 in the second; clues 01000003 and
 * 01000004 in the first, 01000005 in the second.
 */
void fz_populate(struct cairn__engine *e);

/*
 * Checks every invariant of e's state, and aborts naming the first that fails: slot
 * tables and free stacks, every live hunt's record, lists, blocks and shards, every
 * entity's record and position, the counts, the grid header's gauges, and that every
 * seqlock is even (no write section left open). strict adds what only commands can
 * promise (a restored or rolled-back image may carry any claim bookkeeping it likes):
 * a clue is claimed exactly when it names its claimer.
 */
void fz_engine_check(const struct cairn__engine *e, bool strict);

/*
 * Checks that out, with return value rc, is a well-formed answer to cmd: an ERROR with a
 * schema error code, the request's type and rc = -code; or the command's reply type,
 * status 0, no flags, a length the schema allows for it. The request id is copied either
 * way. Aborts otherwise.
 */
void fz_check_result(const struct cairn_msg *cmd, int rc, const struct cairn_msg *out);

#endif
