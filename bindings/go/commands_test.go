package cairn

import (
	"bytes"
	"errors"
	"testing"
)

func TestCommands(t *testing.T) {
	d := startDaemon(t)
	c := d.dial(t, nil)
	ctx := ctxT(t)

	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if got, err := c.Echo(ctx, []byte("treasure")); err != nil || string(got) != "treasure" {
		t.Fatalf("Echo = %q, %v", got, err)
	}
	big := bytes.Repeat([]byte("cairn!"), 1000)
	if got, err := c.EchoBlob(ctx, big); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("EchoBlob: %d bytes, %v", len(got), err)
	}

	h, err := c.HuntCreate(ctx, HuntParams{})
	if err != nil {
		t.Fatalf("HuntCreate: %v", err)
	}
	if h.HuntID == 0 || h.Width != 128 || h.Height != 96 || h.CellMM != DefaultCellMm ||
		h.ClaimRadiusMM != DefaultClaimRadiusMm {
		t.Fatalf("HuntCreate = %+v", h)
	}
	hunt := h.HuntID
	p1, err := c.Join(ctx, hunt, 1500, 1500)
	if err != nil || p1 == 0 {
		t.Fatalf("Join = %d, %v", p1, err)
	}
	p2, err := c.Join(ctx, hunt, 1500, 1600)
	if err != nil {
		t.Fatalf("Join: %v", err)
	}
	clue, err := c.CluePlace(ctx, hunt, 2500, 1500, 10)
	if err != nil || clue == 0 {
		t.Fatalf("CluePlace = %d, %v", clue, err)
	}
	hits, err := c.NearestClues(ctx, hunt, 1500, 1500, 4, false)
	if err != nil || len(hits) != 1 || hits[0].ID != clue || hits[0].DistMM != 1000 || hits[0].Value != 10 {
		t.Fatalf("NearestClues = %+v, %v", hits, err)
	}
	mv, err := c.Move(ctx, hunt, p1, 2490, 1500)
	if err != nil || mv.Outcome != ClaimWon || mv.ClueID != clue || mv.Score != 10 || mv.X != 2490 {
		t.Fatalf("Move = %+v, %v", mv, err)
	}
	mv, err = c.Move(ctx, hunt, p2, 2500, 1510)
	if err != nil || mv.Outcome != ClaimLost || mv.HolderID != p1 {
		t.Fatalf("Move (lost) = %+v, %v", mv, err)
	}
	if hits, err := c.NearestClues(ctx, hunt, 1500, 1500, 4, false); err != nil || len(hits) != 0 {
		t.Fatalf("NearestClues without claimed = %+v, %v", hits, err)
	}
	if hits, err := c.NearestClues(ctx, hunt, 1500, 1500, 4, true); err != nil || len(hits) != 1 {
		t.Fatalf("NearestClues with claimed = %+v, %v", hits, err)
	}
	near, total, err := c.PlayersNear(ctx, hunt, 2500, 1500, 100, 8)
	if err != nil || total != 2 || len(near) != 2 || near[0].ID != p2 && near[0].ID != p1 {
		t.Fatalf("PlayersNear = %+v, %d, %v", near, total, err)
	}
	lb, err := c.Leaderboard(ctx, hunt, 8)
	if err != nil || len(lb) != 2 || lb[0].ID != p1 || lb[0].Value != 10 {
		t.Fatalf("Leaderboard = %+v, %v", lb, err)
	}
	ps, err := c.PlayerState(ctx, hunt, p1)
	if err != nil || ps.X != 2490 || ps.Y != 1500 || ps.Score != 10 || ps.Claims != 1 || ps.HuntID != hunt {
		t.Fatalf("PlayerState = %+v, %v", ps, err)
	}
	sh, err := c.StateHash(ctx)
	if err != nil || sh.Hash == 0 || sh.Hunts != 1 || sh.Entities != 3 {
		t.Fatalf("StateHash = %+v, %v", sh, err)
	}

	// Paths, on the embedded map.
	pairs := []PathPair{{1500, 1500, 2500, 1500}, {1500, 1500, 1500, 1500}}
	nm, info, err := c.NextMoves(ctx, hunt, pairs, MethodAuto)
	if err != nil || len(nm) != 2 || info.Count != 2 || nm[0].Status != 0 || nm[0].Dir != DirE ||
		nm[0].X != 2500 || nm[1].Dir != DirNone {
		t.Fatalf("NextMoves = %+v %+v, %v", nm, info, err)
	}
	dist, _, err := c.Distances(ctx, hunt, pairs, MethodAstar)
	if err != nil || dist[0].Status != 0 || dist[0].Straight != 1 || dist[0].LengthMM != 1000 {
		t.Fatalf("Distances = %+v, %v", dist, err)
	}
	pts, pi, err := c.Path(ctx, hunt, 1500, 1500, 5500, 1500, 0, MethodJps, 256)
	if err != nil || len(pts) < 2 || pts[0] != (PathPoint{1500, 1500}) || pi.Count != uint32(len(pts)) {
		t.Fatalf("Path = %+v %+v, %v", pts, pi, err)
	}
	if _, pi, err := c.Path(ctx, hunt, 1500, 1500, 5500, 1500, 0, MethodJps, 1); !errors.Is(err, ErrBlobTooSmall) || pi.Count != uint32(len(pts)) {
		t.Fatalf("Path into 1 point: %+v, %v, want BLOB_TOO_SMALL asking for %d", pi, err, len(pts))
	}
	clue2, err := c.CluePlace(ctx, hunt, 4500, 1500, 5)
	if err != nil {
		t.Fatal(err)
	}
	pts, pi, err = c.PathToClue(ctx, hunt, p1, clue2, PathWaypoints, MethodAuto, 256)
	if err != nil || len(pts) < 2 || pts[len(pts)-1] != (PathPoint{4500, 1500}) || pi.LengthMM == 0 {
		t.Fatalf("PathToClue = %+v %+v, %v", pts, pi, err)
	}
	if _, _, err := c.NextMoves(ctx, hunt, pairs, MethodTable); !errors.Is(err, ErrTableNotReady) {
		t.Fatalf("NextMoves by table with --table-max-cells 0: %v, want TABLE_NOT_READY", err)
	}

	cr, err := c.ClueRemove(ctx, hunt, clue)
	if err != nil || cr.ClaimedBy != p1 || cr.Value != 10 {
		t.Fatalf("ClueRemove = %+v, %v", cr, err)
	}
	left, err := c.Leave(ctx, hunt, p1)
	if err != nil || left.Score != 10 || left.Claims != 1 {
		t.Fatalf("Leave = %+v, %v", left, err)
	}
	ws, err := c.WalStatus(ctx)
	if err != nil || ws.Durability != DurabilityNone {
		t.Fatalf("WalStatus = %+v, %v", ws, err)
	}
	if _, err := c.Snapshot(ctx); !errors.Is(err, ErrNoStore) {
		t.Fatalf("Snapshot without a store: %v, want NO_STORE", err)
	}
	if _, err := c.Rollback(ctx, hunt, 1); !errors.Is(err, ErrNoStore) {
		t.Fatalf("Rollback without a store: %v, want NO_STORE", err)
	}
	hd, err := c.HuntDestroy(ctx, hunt)
	if err != nil || hd.HuntID != hunt || hd.Players != 1 || hd.Clues != 1 {
		t.Fatalf("HuntDestroy = %+v, %v", hd, err)
	}
	info2 := c.DaemonInfo()
	if info2.PID == 0 || info2.State != DaemonRunning || info2.SessionID != c.SessionID() || info2.EngineApplied == 0 {
		t.Fatalf("DaemonInfo = %+v", info2)
	}
}

// TestErrors checks that refusals come back as typed errors.
func TestErrors(t *testing.T) {
	d := startDaemon(t)
	c := d.dial(t, nil)
	ctx := ctxT(t)
	h, err := c.HuntCreate(ctx, HuntParams{SpeedLimitMMs: 1000})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Join(ctx, h.HuntID, 1500, 1500)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, err error, want *Error) {
		t.Helper()
		var e *Error
		if !errors.Is(err, want) || !errors.As(err, &e) || e.Code != want.Code {
			t.Errorf("%s: %v, want %s", what, err, want.Name())
		}
	}
	_, err = c.Move(ctx, 12345, p, 1500, 1500)
	check("move in an unknown hunt", err, ErrUnknownHunt)
	_, err = c.Move(ctx, h.HuntID, p, -5, 1500)
	check("move off the map", err, ErrOffMap)
	_, err = c.Move(ctx, h.HuntID, p+1, 1600, 1500)
	check("move of an unknown player", err, ErrUnknownPlayer)
	_, err = c.Move(ctx, h.HuntID, p, 2500, 1500)
	check("move too fast", err, ErrTooFast)
	// A blocked cell: the first one found along the top rows of the map.
	blocked := false
	for y := int32(500); y < 10000 && !blocked; y += 1000 {
		for x := int32(500); x < 128000; x += 1000 {
			if _, err := c.Join(ctx, h.HuntID, x, y); err != nil {
				check("join in a wall", err, ErrBlocked)
				blocked = true
				break
			}
		}
	}
	if !blocked {
		t.Error("found no blocked cell to join in")
	}
	_, err = c.ClueRemove(ctx, h.HuntID, 999)
	check("remove an unknown clue", err, ErrUnknownClue)
	_, err = c.HuntCreate(ctx, HuntParams{MapID: 7})
	check("hunt on an unknown map", err, ErrUnknownMap)
	m := Msg{Type: 0x7777}
	_, err = c.Call(ctx, &m)
	check("unknown command type", err, ErrUnknownType)
	if _, err := c.NearestClues(ctx, h.HuntID, 0, 0, 0, false); !errors.Is(err, ErrInvalid) {
		t.Errorf("NearestClues k=0: %v, want ErrInvalid", err)
	}
}
