package cairn

import (
	"context"
	"time"
)

// The typed commands. Each sends one command with Call and waits for its result
// within ctx. They return the result, an *Error when the daemon refused the command
// (errors.Is(err, ErrBlocked), ErrOffMap, ErrTooFast, ErrUnknownHunt, ...), ErrBadReply
// when the answer is not of the command's reply type, or an error of Call. Positions
// are millimetres from the map's top-left corner.

// HuntParams are the options of a new hunt; zeros pick the defaults.
type HuntParams struct {
	MapID         uint32 // 0: the daemon's embedded map
	ClaimRadiusMM uint32 // 0: DefaultClaimRadiusMm
	SpeedLimitMMs uint32 // millimetres per second; 0: no limit
	CellMM        uint32 // 0: DefaultCellMm
}

// HuntCreated describes a new hunt.
type HuntCreated struct {
	HuntID, MapID, Width, Height, CellMM, ClaimRadiusMM, SpeedLimitMMs uint32
}

// HuntDestroyed says what a destroyed hunt held.
type HuntDestroyed struct {
	HuntID, Players, Clues uint32
}

// Left is a player's final score and claims.
type Left struct {
	PlayerID uint32
	Claims   uint32
	Score    int64
}

// Moved is the outcome of a move: Outcome is ClaimNone, ClaimWon (the move claimed
// ClueID, worth Value) or ClaimLost (every clue in reach was held: ClueID the nearest,
// HolderID its winner).
type Moved struct {
	PlayerID uint32
	Outcome  uint8
	X, Y     int32
	ClueID   uint32
	HolderID uint32
	Value    int64
	Score    int64 // the player's score after the move
}

// ClueRemoved says who had claimed a removed clue (0: nobody) and its worth.
type ClueRemoved struct {
	ClueID    uint32
	ClaimedBy uint32
	Value     int64
}

// Hit is one answer of a query: a clue or player, its position and its distance.
type Hit struct {
	ID     uint32
	X, Y   int32
	DistMM uint32
	Value  int64 // a clue's worth, a player's score
}

// PlayerInfo is a player's state as the daemon answers it in order.
type PlayerInfo struct {
	PlayerID, HuntID uint32
	X, Y             int32
	Claims           uint32
	Score            int64
	StampNs          uint64
}

// StateHash is the engine's state hash and the order number of its latest change.
type StateHash struct {
	Hash, Applied   uint64
	Hunts, Entities uint32
}

// Snapshot describes a snapshot written on request.
type Snapshot struct {
	LSN, StateHash, Bytes uint64
	Duration              time.Duration
}

// RolledBack describes a hunt rolled back to TargetLSN, logged at LSN.
type RolledBack struct {
	HuntID, Players, Clues uint32
	TargetLSN, LSN         uint64
}

// WalStatus says where the write-ahead log and the snapshots are.
type WalStatus struct {
	AppendedLSN, DurableLSN, SnapshotLSN uint64
	Error                                int32  // the log's failure (-errno), 0 when healthy
	Backend                              uint16 // WalNone, WalIoUring, WalSync
	Durability                           uint16 // DurabilityNone, DurabilitySync, DurabilityRelaxed
}

// call sends m and checks that the result is of type reply with at least n bytes.
func (c *Conn) callReply(ctx context.Context, m *Msg, reply uint16, n uint8) (Msg, error) {
	res, err := c.Call(ctx, m)
	if err != nil {
		return res, err
	}
	if res.Type != reply || res.Length < n {
		return res, ErrBadReply
	}
	return res, nil
}

// Ping sends PING and waits for its PONG.
func (c *Conn) Ping(ctx context.Context) error {
	m := newMsg(MsgPing, MsgPingLenMin)
	_, err := c.callReply(ctx, &m, MsgPong, MsgPongLenMin)
	return err
}

// Echo sends up to PayloadSize bytes and returns what the daemon sent back.
func (c *Conn) Echo(ctx context.Context, data []byte) ([]byte, error) {
	if len(data) > PayloadSize {
		return nil, ErrInvalid
	}
	m := newMsg(MsgEcho, uint8(len(data)))
	copy(m.Payload[:], data)
	res, err := c.callReply(ctx, &m, MsgEchoReply, MsgEchoReplyLenMin)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), res.Payload[:res.Length]...), nil
}

// EchoBlob has the daemon copy data (at most 16 KiB) inside the blob arena, through a
// query slice, and returns the copy.
func (c *Conn) EchoBlob(ctx context.Context, data []byte) ([]byte, error) {
	const half = querySliceSize / 2
	if len(data) > half {
		return nil, ErrInvalid
	}
	i, err := c.acquireSlice(ctx)
	if err != nil {
		return nil, err
	}
	off := c.sliceOffset(i)
	var res Msg
	var ticket uint64
	for tries := 0; ; tries++ {
		l := c.lane.Load()
		copy(l.blob[off:], data)
		m := newMsg(MsgEchoBlob, MsgEchoBlobLenMin)
		m.putU32(EchoBlobOffInOffset, off)
		m.putU32(EchoBlobOffInLength, uint32(len(data)))
		m.putU32(EchoBlobOffOutOffset, off+half)
		m.putU32(EchoBlobOffOutCapacity, half)
		ticket = c.slices.takeTicket()
		res, err = c.Call(ctx, &m)
		if res.RequestID != m.RequestID {
			c.slices.quarantine(i)
			return nil, err
		}
		// A reattach may have copied the old arena before the input was written into
		// it: ask again on the new lane.
		if c.lane.Load() == l || tries == 3 {
			break
		}
	}
	var out []byte
	if err == nil {
		n := res.u32(EchoBlobReplyOffOutLength)
		if res.Type != MsgEchoBlobReply || res.u32(EchoBlobReplyOffOutOffset) != off+half ||
			n != uint32(len(data)) {
			err = ErrBadReply
		} else {
			blob := c.lane.Load().blob
			out = append([]byte(nil), blob[off+half:off+half+n]...)
		}
	}
	c.slices.release(ticket)
	c.slices.put(i)
	return out, err
}

func huntCreateMsg(p HuntParams) Msg {
	m := newMsg(MsgHuntCreate, MsgHuntCreateLenMin)
	m.putU32(HuntCreateOffMapId, p.MapID)
	m.putU32(HuntCreateOffClaimRadiusMm, p.ClaimRadiusMM)
	m.putU32(HuntCreateOffSpeedLimitMmS, p.SpeedLimitMMs)
	m.putU32(HuntCreateOffCellMm, p.CellMM)
	return m
}

// HuntCreate creates a hunt.
func (c *Conn) HuntCreate(ctx context.Context, p HuntParams) (HuntCreated, error) {
	m := huntCreateMsg(p)
	r, err := c.callReply(ctx, &m, MsgHuntCreated, MsgHuntCreatedLenMin)
	if err != nil {
		return HuntCreated{}, err
	}
	return HuntCreated{
		HuntID: r.u32(HuntCreatedOffHuntId), MapID: r.u32(HuntCreatedOffMapId),
		Width: r.u32(HuntCreatedOffWidth), Height: r.u32(HuntCreatedOffHeight),
		CellMM: r.u32(HuntCreatedOffCellMm), ClaimRadiusMM: r.u32(HuntCreatedOffClaimRadiusMm),
		SpeedLimitMMs: r.u32(HuntCreatedOffSpeedLimitMmS),
	}, nil
}

// HuntDestroy destroys a hunt with its players and clues.
func (c *Conn) HuntDestroy(ctx context.Context, huntID uint32) (HuntDestroyed, error) {
	m := newMsg(MsgHuntDestroy, MsgHuntDestroyLenMin)
	m.putU32(HuntRefOffHuntId, huntID)
	r, err := c.callReply(ctx, &m, MsgHuntDestroyed, MsgHuntDestroyedLenMin)
	if err != nil {
		return HuntDestroyed{}, err
	}
	return HuntDestroyed{HuntID: r.u32(HuntDestroyedOffHuntId),
		Players: r.u32(HuntDestroyedOffPlayers), Clues: r.u32(HuntDestroyedOffClues)}, nil
}

// Join adds a player at (x, y) and returns its id.
func (c *Conn) Join(ctx context.Context, huntID uint32, x, y int32) (uint32, error) {
	m := newMsg(MsgJoin, MsgJoinLenMin)
	m.putU32(JoinOffHuntId, huntID)
	m.putI32(JoinOffX, x)
	m.putI32(JoinOffY, y)
	r, err := c.callReply(ctx, &m, MsgJoined, MsgJoinedLenMin)
	if err != nil {
		return 0, err
	}
	return r.u32(JoinedOffPlayerId), nil
}

// Leave removes a player and returns its final score and claims.
func (c *Conn) Leave(ctx context.Context, huntID, playerID uint32) (Left, error) {
	m := newMsg(MsgLeave, MsgLeaveLenMin)
	m.putU32(PlayerRefOffHuntId, huntID)
	m.putU32(PlayerRefOffPlayerId, playerID)
	r, err := c.callReply(ctx, &m, MsgLeft, MsgLeftLenMin)
	if err != nil {
		return Left{}, err
	}
	return Left{PlayerID: r.u32(LeftOffPlayerId), Claims: r.u32(LeftOffClaims),
		Score: r.i64(LeftOffScore)}, nil
}

// MoveMsg builds a MOVE command, for callers that send it with Call.
func MoveMsg(huntID, playerID uint32, x, y int32) Msg {
	m := newMsg(MsgMove, MsgMoveLenMin)
	m.putU32(MoveOffHuntId, huntID)
	m.putU32(MoveOffPlayerId, playerID)
	m.putI32(MoveOffX, x)
	m.putI32(MoveOffY, y)
	return m
}

// Move moves a player to (x, y), checking the map and the hunt's speed limit, and
// claims a clue in reach.
func (c *Conn) Move(ctx context.Context, huntID, playerID uint32, x, y int32) (Moved, error) {
	m := MoveMsg(huntID, playerID, x, y)
	r, err := c.callReply(ctx, &m, MsgMoved, MsgMovedLenMin)
	if err != nil {
		return Moved{}, err
	}
	return Moved{
		PlayerID: r.u32(MovedOffPlayerId), Outcome: r.u8(MovedOffOutcome),
		X: r.i32(MovedOffX), Y: r.i32(MovedOffY), ClueID: r.u32(MovedOffClueId),
		HolderID: r.u32(MovedOffHolderId), Value: r.i64(MovedOffValue), Score: r.i64(MovedOffScore),
	}, nil
}

// CluePlace places a clue worth value at (x, y) and returns its id.
func (c *Conn) CluePlace(ctx context.Context, huntID uint32, x, y int32, value int64) (uint32, error) {
	m := newMsg(MsgCluePlace, MsgCluePlaceLenMin)
	m.putU32(CluePlaceOffHuntId, huntID)
	m.putI32(CluePlaceOffX, x)
	m.putI32(CluePlaceOffY, y)
	m.putI64(CluePlaceOffValue, value)
	r, err := c.callReply(ctx, &m, MsgCluePlaced, MsgCluePlacedLenMin)
	if err != nil {
		return 0, err
	}
	return r.u32(CluePlacedOffClueId), nil
}

// ClueRemove removes a clue, claimed or not.
func (c *Conn) ClueRemove(ctx context.Context, huntID, clueID uint32) (ClueRemoved, error) {
	m := newMsg(MsgClueRemove, MsgClueRemoveLenMin)
	m.putU32(ClueRefOffHuntId, huntID)
	m.putU32(ClueRefOffClueId, clueID)
	r, err := c.callReply(ctx, &m, MsgClueRemoved, MsgClueRemovedLenMin)
	if err != nil {
		return ClueRemoved{}, err
	}
	return ClueRemoved{ClueID: r.u32(ClueRemovedOffClueId),
		ClaimedBy: r.u32(ClueRemovedOffClaimedBy), Value: r.i64(ClueRemovedOffValue)}, nil
}

// PlayerState returns a player's position, score and claims.
func (c *Conn) PlayerState(ctx context.Context, huntID, playerID uint32) (PlayerInfo, error) {
	m := newMsg(MsgPlayerState, MsgPlayerStateLenMin)
	m.putU32(PlayerRefOffHuntId, huntID)
	m.putU32(PlayerRefOffPlayerId, playerID)
	r, err := c.callReply(ctx, &m, MsgPlayerInfo, MsgPlayerInfoLenMin)
	if err != nil {
		return PlayerInfo{}, err
	}
	return PlayerInfo{
		PlayerID: r.u32(PlayerInfoOffPlayerId), HuntID: r.u32(PlayerInfoOffHuntId),
		X: r.i32(PlayerInfoOffX), Y: r.i32(PlayerInfoOffY), Claims: r.u32(PlayerInfoOffClaims),
		Score: r.i64(PlayerInfoOffScore), StampNs: r.u64(PlayerInfoOffStampNs),
	}, nil
}

// StateHash returns the engine's state hash (it costs time in proportion to the state).
func (c *Conn) StateHash(ctx context.Context) (StateHash, error) {
	m := newMsg(MsgStateHash, MsgStateHashLenMin)
	r, err := c.callReply(ctx, &m, MsgStateHashReply, MsgStateHashReplyLenMin)
	if err != nil {
		return StateHash{}, err
	}
	return StateHash{Hash: r.u64(StateHashReplyOffHash), Applied: r.u64(StateHashReplyOffApplied),
		Hunts: r.u32(StateHashReplyOffHunts), Entities: r.u32(StateHashReplyOffEntities)}, nil
}

// Snapshot has the daemon write a snapshot now (an operator command); ErrNoStore
// without a data directory.
func (c *Conn) Snapshot(ctx context.Context) (Snapshot, error) {
	m := newMsg(MsgSnapshot, MsgSnapshotLenMin)
	r, err := c.callReply(ctx, &m, MsgSnapshotTaken, MsgSnapshotTakenLenMin)
	if err != nil {
		return Snapshot{}, err
	}
	return Snapshot{LSN: r.u64(SnapshotReplyOffLsn), StateHash: r.u64(SnapshotReplyOffStateHash),
		Bytes: r.u64(SnapshotReplyOffBytes), Duration: time.Duration(r.u64(SnapshotReplyOffDurationNs))}, nil
}

// Rollback puts one hunt back as it was at an earlier LSN (an operator command).
func (c *Conn) Rollback(ctx context.Context, huntID uint32, lsn uint64) (RolledBack, error) {
	m := newMsg(MsgRollback, MsgRollbackLenMin)
	m.putU32(RollbackOffHuntId, huntID)
	m.putU64(RollbackOffLsn, lsn)
	r, err := c.callReply(ctx, &m, MsgRolledBack, MsgRolledBackLenMin)
	if err != nil {
		return RolledBack{}, err
	}
	return RolledBack{HuntID: r.u32(RollbackReplyOffHuntId), Players: r.u32(RollbackReplyOffPlayers),
		Clues: r.u32(RollbackReplyOffClues), TargetLSN: r.u64(RollbackReplyOffTargetLsn),
		LSN: r.u64(RollbackReplyOffLsn)}, nil
}

// WalStatus says where the log and the snapshots are.
func (c *Conn) WalStatus(ctx context.Context) (WalStatus, error) {
	m := newMsg(MsgWalStatus, MsgWalStatusLenMin)
	r, err := c.callReply(ctx, &m, MsgWalStatusReply, MsgWalStatusReplyLenMin)
	if err != nil {
		return WalStatus{}, err
	}
	return WalStatus{AppendedLSN: r.u64(WalStatusOffAppendedLsn), DurableLSN: r.u64(WalStatusOffDurableLsn),
		SnapshotLSN: r.u64(WalStatusOffSnapshotLsn), Error: r.i32(WalStatusOffError),
		Backend: r.u16(WalStatusOffBackend), Durability: r.u16(WalStatusOffDurability)}, nil
}

// ---- queries through the arena ----

// query runs one query whose payload m has its output region (the fields at outOff
// and capOff) filled in with a query slice, and returns the hits (at most max) and
// the total count.
func (c *Conn) query(ctx context.Context, m Msg, outOff, capOff int, max uint32) ([]Hit, uint32, error) {
	i, err := c.acquireSlice(ctx)
	if err != nil {
		return nil, 0, err
	}
	off := c.sliceOffset(i)
	m.putU32(outOff, off)
	m.putU32(capOff, querySliceSize)
	ticket := c.slices.takeTicket()
	res, err := c.Call(ctx, &m)
	if res.RequestID != m.RequestID {
		// No answer: the command may still be applied later and write into the slice.
		c.slices.quarantine(i)
		return nil, 0, err
	}
	var hits []Hit
	var total uint32
	if err == nil {
		count, n := res.u32(QueryReplyOffCount), res.u32(QueryReplyOffOutLength)
		total = res.u32(QueryReplyOffTotal)
		if res.Type != m.Type|ReplyBit || res.Length < MsgNearestCluesReplyLenMin || count > max ||
			count > total || res.u32(QueryReplyOffOutOffset) != off || n != count*HitSize {
			err = ErrBadReply
		} else {
			// The result's pop ordered the daemon's writes before our reads. They are in
			// the arena of the lane that answered, or of the lanes that replaced it, each
			// a copy of the one before: the current lane has them either way.
			blob := c.lane.Load().blob[off:]
			hits = make([]Hit, count)
			for k := range hits {
				b := blob[k*HitSize:]
				hits[k] = Hit{ID: le.Uint32(b[HitOffId:]), X: int32(le.Uint32(b[HitOffX:])),
					Y: int32(le.Uint32(b[HitOffY:])), DistMM: le.Uint32(b[HitOffDistMm:]),
					Value: int64(le.Uint64(b[HitOffValue:]))}
			}
		}
	}
	c.slices.release(ticket)
	c.slices.put(i)
	return hits, total, err
}

// NearestClues returns the k (1..MaxQueryItems) clues nearest (x, y), nearest first
// (lowest id on a tie); claimed clues too when includeClaimed.
func (c *Conn) NearestClues(ctx context.Context, huntID uint32, x, y int32, k uint32, includeClaimed bool) ([]Hit, error) {
	if k == 0 || k > MaxQueryItems {
		return nil, ErrInvalid
	}
	m := newMsg(MsgNearestClues, MsgNearestCluesLenMin)
	m.putU32(NearestCluesOffHuntId, huntID)
	m.putI32(NearestCluesOffX, x)
	m.putI32(NearestCluesOffY, y)
	m.putU32(NearestCluesOffK, k)
	if includeClaimed {
		m.putU32(NearestCluesOffIncludeClaimed, 1)
	}
	hits, _, err := c.query(ctx, m, NearestCluesOffOutOffset, NearestCluesOffOutCapacity, k)
	return hits, err
}

// PlayersNear returns the players within radiusMM of (x, y), nearest first, at most max
// (1..MaxQueryItems) of them, and how many matched in all.
func (c *Conn) PlayersNear(ctx context.Context, huntID uint32, x, y int32, radiusMM, max uint32) ([]Hit, uint32, error) {
	if max == 0 || max > MaxQueryItems {
		return nil, 0, ErrInvalid
	}
	m := newMsg(MsgPlayersNear, MsgPlayersNearLenMin)
	m.putU32(PlayersNearOffHuntId, huntID)
	m.putI32(PlayersNearOffX, x)
	m.putI32(PlayersNearOffY, y)
	m.putU32(PlayersNearOffRadiusMm, radiusMM)
	m.putU32(PlayersNearOffMax, max)
	return c.query(ctx, m, PlayersNearOffOutOffset, PlayersNearOffOutCapacity, max)
}

// Leaderboard returns the k (1..MaxQueryItems) best players of a hunt, highest score
// first (the earliest joined on a tie; Hit.Value is the score).
func (c *Conn) Leaderboard(ctx context.Context, huntID, k uint32) ([]Hit, error) {
	if k == 0 || k > MaxQueryItems {
		return nil, ErrInvalid
	}
	m := newMsg(MsgLeaderboard, MsgLeaderboardLenMin)
	m.putU32(LeaderboardOffHuntId, huntID)
	m.putU32(LeaderboardOffK, k)
	hits, _, err := c.query(ctx, m, LeaderboardOffOutOffset, LeaderboardOffOutCapacity, k)
	return hits, err
}
