// Command hunt is a small game-server host on cairnd: it creates a hunt on the
// daemon's embedded map, joins players to it, places clues, walks every player toward
// the nearest clue one cell at a time (each from a goroutine of its own, all on one
// connection), reacts to the claim events of the feed by placing a new clue elsewhere,
// and prints what happened and the final leaderboard.
//
//	go run ./examples/hunt --socket PATH
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	"cairn.dev/cairn"
)

// cell returns the centre of cell (cx, cy) in millimetres (cells are 1 m).
func cell(cx, cy int32) (int32, int32) { return cx*1000 + 500, cy*1000 + 500 }

func main() {
	sock := flag.String("socket", "", "cairnd's socket (default: the default path)")
	players := flag.Int("players", 6, "players to join")
	claims := flag.Int("claims", 12, "stop after this many claims")
	flag.Parse()

	c, err := cairn.Dial(*sock)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hunt:", err)
		os.Exit(1)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	feed, err := c.Events()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hunt: events:", err)
		os.Exit(1)
	}
	h, err := c.HuntCreate(ctx, cairn.HuntParams{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "hunt: create:", err)
		os.Exit(1)
	}
	fmt.Printf("hunt %d on a %dx%d map\n", h.HuntID, h.Width, h.Height)

	// The open rows 2 and 3 of the embedded map, between columns 1 and 39.
	var ids []uint32
	for i := 0; i < *players; i++ {
		x, y := cell(int32(1+i*6%38), 2)
		p, err := c.Join(ctx, h.HuntID, x, y)
		if err != nil {
			fmt.Fprintln(os.Stderr, "hunt: join:", err)
			os.Exit(1)
		}
		ids = append(ids, p)
	}
	next := 0
	place := func() {
		x, y := cell(int32(3+next*7%36), 3-int32(next%2))
		next++
		if _, err := c.CluePlace(ctx, h.HuntID, x, y, int64(10+next%5*10)); err != nil {
			fmt.Fprintln(os.Stderr, "hunt: place:", err)
		}
	}
	for i := 0; i < 4; i++ {
		place()
	}

	// Every player walks toward the nearest unclaimed clue, one cell per move.
	walkCtx, stopWalking := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, p := range ids {
		wg.Add(1)
		go func(p uint32) {
			defer wg.Done()
			for walkCtx.Err() == nil {
				st, err := c.PlayerState(walkCtx, h.HuntID, p)
				if err != nil {
					return
				}
				near, err := c.NearestClues(walkCtx, h.HuntID, st.X, st.Y, 1, false)
				if err != nil || len(near) == 0 {
					time.Sleep(time.Millisecond)
					continue
				}
				step, _, err := c.NextMoves(walkCtx, h.HuntID,
					[]cairn.PathPair{{FromX: st.X, FromY: st.Y, ToX: near[0].X, ToY: near[0].Y}}, cairn.MethodAuto)
				if err != nil || step[0].Status != 0 || step[0].Dir == cairn.DirNone {
					time.Sleep(time.Millisecond)
					continue
				}
				if _, err := c.Move(walkCtx, h.HuntID, p, step[0].X, step[0].Y); err != nil &&
					!errors.Is(err, context.Canceled) {
					fmt.Fprintf(os.Stderr, "hunt: player %d: %v\n", p, err)
				}
				time.Sleep(2 * time.Millisecond) // a game tick
			}
		}(p)
	}

	// React to the feed: report claims and put a new clue in play for each.
	seen := 0
	for e, err := range feed.All(ctx) {
		var lapped *cairn.LappedError
		if errors.As(err, &lapped) {
			fmt.Printf("(missed %d events)\n", lapped.Missed)
			continue
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "hunt: feed:", err)
			break
		}
		if e.HuntID != h.HuntID {
			continue
		}
		switch e.Type {
		case cairn.EventPlayerJoined:
			fmt.Printf("player %d joined at (%d, %d)\n", e.PlayerID, e.X, e.Y)
		case cairn.EventCluePlaced:
			fmt.Printf("clue %d placed at (%d, %d), worth %d\n", e.ClueID, e.X, e.Y, e.Value)
		case cairn.EventClueClaimed:
			seen++
			fmt.Printf("player %d claimed clue %d at (%d, %d) for %d points\n", e.PlayerID, e.ClueID, e.X, e.Y, e.Value)
			if seen < *claims {
				place()
			}
		}
		if seen >= *claims {
			break
		}
	}
	stopWalking()
	wg.Wait()

	board, err := c.Leaderboard(ctx, h.HuntID, uint32(len(ids)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "hunt: leaderboard:", err)
		os.Exit(1)
	}
	fmt.Println("leaderboard:")
	for i, hit := range board {
		fmt.Printf("  %d. player %d  %d points\n", i+1, hit.ID, hit.Value)
	}
	if _, err := c.HuntDestroy(ctx, h.HuntID); err != nil {
		fmt.Fprintln(os.Stderr, "hunt: destroy:", err)
	}
}
