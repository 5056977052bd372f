package cairn

import "context"

// Paths. The solver answers on the hunt's map by the Moving AI rules (8-connected, a
// diagonal costs sqrt(2), no corner cutting). Searches run on the daemon's solver
// threads, so their results may come back after those of commands sent later; these
// calls wait for their own result either way. Each uses a query slice of the arena
// (ErrSlicesBusy, ErrNoSlices). method is MethodAuto, MethodAstar, MethodJps or
// MethodTable.

// PathPair is a start and a goal, in millimetres.
type PathPair struct {
	FromX, FromY, ToX, ToY int32
}

// NextMoveItem is the first step for one pair: Status is 0, or the code (EOffMap,
// EBlocked, EUnreachable) that concerns this pair alone; Dir is a Dir* step and (X, Y)
// the centre of the cell it leads to.
type NextMoveItem struct {
	Status int32
	Dir    uint8
	X, Y   int32
}

// DistanceItem is the length of a shortest path for one pair: exactly Straight +
// Diagonal * sqrt(2) cell sides, LengthMM in millimetres. Status as in NextMoveItem.
type DistanceItem struct {
	Status             int32
	Straight, Diagonal uint32
	LengthMM           uint32
}

// PathBatchInfo is what a NEXT_MOVE or DISTANCE batch reports.
type PathBatchInfo struct {
	Count, Failed, Method, Expansions uint32
}

// PathPoint is one point of a path: a cell centre, in millimetres.
type PathPoint struct {
	X, Y int32
}

// PathInfo is what PATH and PATH_TO_CLUE report: Count points returned, Cells in the
// whole path, its exact length Straight + Diagonal * sqrt(2) cells (LengthMM).
type PathInfo struct {
	Count, Cells, Straight, Diagonal, LengthMM, Method, Expansions uint32
}

// pathCall sends path command m through a query slice: in (may be empty) at the
// slice's start, its offset in the payload field at inField; the answer goes to the
// same place, its offset and capacity (at most outMax) into outField and capField.
// It returns the result and the answer's bytes (what the reply's out_offset and
// out_length at replyOutField say).
func (c *Conn) pathCall(ctx context.Context, m Msg, reply uint16, in []byte, inField, outField, capField, replyOutField int, outMax uint32) (Msg, []byte, error) {
	i, err := c.acquireSlice(ctx)
	if err != nil {
		return Msg{}, nil, err
	}
	off := c.sliceOffset(i)
	capacity := min(outMax, querySliceSize)
	m.putU32(outField, off)
	m.putU32(capField, capacity)
	var res Msg
	var ticket uint64
	for tries := 0; ; tries++ {
		l := c.lane.Load()
		if len(in) > 0 {
			copy(l.blob[off:], in)
			m.putU32(inField, off)
		}
		ticket = c.slices.takeTicket()
		res, err = c.Call(ctx, &m)
		if res.RequestID != m.RequestID {
			// No answer yet: only the command's own late result frees the slice.
			c.slices.quarantinePath(i, m.RequestID)
			return res, nil, err
		}
		// A reattach while the command was out may have copied the old arena before
		// the input was written into it: ask again (a read: asking twice changes
		// nothing).
		if len(in) == 0 || c.lane.Load() == l || tries == 3 {
			break
		}
	}
	var out []byte
	if err == nil {
		aOff, aLen := res.u32(replyOutField), res.u32(replyOutField+4)
		if res.Type != reply || aOff != off || aLen > outMax || aLen > capacity {
			err = ErrBadReply
		} else {
			blob := c.lane.Load().blob
			out = append([]byte(nil), blob[off:off+aLen]...)
		}
	}
	c.slices.release(ticket)
	c.slices.put(i)
	return res, out, err
}

func (c *Conn) pathBatch(ctx context.Context, t, reply uint16, huntID uint32, pairs []PathPair, method uint32, item int) ([]byte, PathBatchInfo, error) {
	n := len(pairs)
	if n == 0 || n > MaxPathBatch || method > MethodTable {
		return nil, PathBatchInfo{}, ErrInvalid
	}
	in := make([]byte, n*PathPairSize)
	for k, p := range pairs {
		b := in[k*PathPairSize:]
		le.PutUint32(b[PathPairOffFromX:], uint32(p.FromX))
		le.PutUint32(b[PathPairOffFromY:], uint32(p.FromY))
		le.PutUint32(b[PathPairOffToX:], uint32(p.ToX))
		le.PutUint32(b[PathPairOffToY:], uint32(p.ToY))
	}
	m := newMsg(t, MsgNextMoveLenMin)
	m.putU32(PathBatchOffHuntId, huntID)
	m.putU32(PathBatchOffCount, uint32(n))
	m.putU32(PathBatchOffMethod, method)
	res, out, err := c.pathCall(ctx, m, reply, in, PathBatchOffInOffset, PathBatchOffOutOffset,
		PathBatchOffOutCapacity, PathBatchReplyOffOutOffset, uint32(n*item))
	if err != nil {
		return nil, PathBatchInfo{}, err
	}
	info := PathBatchInfo{Count: res.u32(PathBatchReplyOffCount), Failed: res.u32(PathBatchReplyOffFailed),
		Method: res.u32(PathBatchReplyOffMethod), Expansions: res.u32(PathBatchReplyOffExpansions)}
	if info.Count != uint32(n) || len(out) != n*item || info.Failed > uint32(n) {
		return nil, PathBatchInfo{}, ErrBadReply
	}
	return out, info, nil
}

// NextMoves returns the first step of a shortest path for each pair (1..MaxPathBatch
// of them).
func (c *Conn) NextMoves(ctx context.Context, huntID uint32, pairs []PathPair, method uint32) ([]NextMoveItem, PathBatchInfo, error) {
	out, info, err := c.pathBatch(ctx, MsgNextMove, MsgNextMoveReply, huntID, pairs, method, NextMoveItemSize)
	if err != nil {
		return nil, info, err
	}
	items := make([]NextMoveItem, len(pairs))
	for k := range items {
		b := out[k*NextMoveItemSize:]
		items[k] = NextMoveItem{Status: int32(le.Uint32(b[NextMoveItemOffStatus:])),
			Dir: b[NextMoveItemOffDir], X: int32(le.Uint32(b[NextMoveItemOffX:])),
			Y: int32(le.Uint32(b[NextMoveItemOffY:]))}
	}
	return items, info, nil
}

// Distances returns the length of a shortest path for each pair, as NextMoves.
func (c *Conn) Distances(ctx context.Context, huntID uint32, pairs []PathPair, method uint32) ([]DistanceItem, PathBatchInfo, error) {
	out, info, err := c.pathBatch(ctx, MsgDistance, MsgDistanceReply, huntID, pairs, method, DistanceItemSize)
	if err != nil {
		return nil, info, err
	}
	items := make([]DistanceItem, len(pairs))
	for k := range items {
		b := out[k*DistanceItemSize:]
		items[k] = DistanceItem{Status: int32(le.Uint32(b[DistanceItemOffStatus:])),
			Straight: le.Uint32(b[DistanceItemOffStraight:]), Diagonal: le.Uint32(b[DistanceItemOffDiagonal:]),
			LengthMM: le.Uint32(b[DistanceItemOffLengthMm:])}
	}
	return items, info, nil
}

// pathPoints finishes PATH and PATH_TO_CLUE once their payload is in m. When the path
// does not fit maxPoints (or the 4096 points of a query slice), the error is
// ErrBlobTooSmall and info.Count says how many points it needs.
func (c *Conn) pathPoints(ctx context.Context, m Msg, flags, method uint32, outField, capField int, maxPoints int) ([]PathPoint, PathInfo, error) {
	if maxPoints <= 0 || method > MethodTable || flags&^PathWaypoints != 0 {
		return nil, PathInfo{}, ErrInvalid
	}
	outMax := uint32(min(maxPoints*PathPointSize, querySliceSize))
	res, out, err := c.pathCall(ctx, m, MsgPathReply, nil, 0, outField, capField, PathReplyOffOutOffset, outMax)
	if err != nil {
		var info PathInfo
		if e, ok := err.(*Error); ok && e.Code == EBlobTooSmall && res.Type == MsgError {
			info.Count = e.Detail / PathPointSize // the detail is the bytes the answer needs
		}
		return nil, info, err
	}
	info := PathInfo{Count: res.u32(PathReplyOffCount), Cells: res.u32(PathReplyOffCells),
		Straight: res.u32(PathReplyOffStraight), Diagonal: res.u32(PathReplyOffDiagonal),
		LengthMM: res.u32(PathReplyOffLengthMm), Method: res.u32(PathReplyOffMethod),
		Expansions: res.u32(PathReplyOffExpansions)}
	if uint32(len(out)) != info.Count*PathPointSize || info.Count > info.Cells {
		return nil, PathInfo{}, ErrBadReply
	}
	pts := make([]PathPoint, info.Count)
	for k := range pts {
		b := out[k*PathPointSize:]
		pts[k] = PathPoint{X: int32(le.Uint32(b[PathPointOffX:])), Y: int32(le.Uint32(b[PathPointOffY:]))}
	}
	return pts, info, nil
}

// Path returns a shortest path from (fromX, fromY) to (toX, toY): every cell, or with
// flags PathWaypoints only the turning points, the start first, at most maxPoints.
func (c *Conn) Path(ctx context.Context, huntID uint32, fromX, fromY, toX, toY int32, flags, method uint32, maxPoints int) ([]PathPoint, PathInfo, error) {
	m := newMsg(MsgPath, MsgPathLenMin)
	m.putU32(PathOffHuntId, huntID)
	m.putI32(PathOffFromX, fromX)
	m.putI32(PathOffFromY, fromY)
	m.putI32(PathOffToX, toX)
	m.putI32(PathOffToY, toY)
	m.putU32(PathOffFlags, flags)
	m.putU32(PathOffMethod, method)
	return c.pathPoints(ctx, m, flags, method, PathOffOutOffset, PathOffOutCapacity, maxPoints)
}

// PathToClue returns a shortest path from where a player stands to a clue, as Path.
func (c *Conn) PathToClue(ctx context.Context, huntID, playerID, clueID uint32, flags, method uint32, maxPoints int) ([]PathPoint, PathInfo, error) {
	m := newMsg(MsgPathToClue, MsgPathToClueLenMin)
	m.putU32(PathToClueOffHuntId, huntID)
	m.putU32(PathToClueOffPlayerId, playerID)
	m.putU32(PathToClueOffClueId, clueID)
	m.putU32(PathToClueOffFlags, flags)
	m.putU32(PathToClueOffMethod, method)
	return c.pathPoints(ctx, m, flags, method, PathToClueOffOutOffset, PathToClueOffOutCapacity, maxPoints)
}
