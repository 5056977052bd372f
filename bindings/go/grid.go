package cairn

import (
	"iter"
	"runtime"
	"strings"
	"sync/atomic"
	"unsafe"
)

// Direct reads of the grid region of the state segment, under the daemon's seqlocks
// (libcairn's src/client/grid.c; src/engine/grid.c is the writer's side):
//
//   - a hunt's directory record is guarded by its own seq;
//   - block b of a hunt, its two entity lists and the entities linked from them are
//     guarded by the seq of shard b mod shards of that hunt;
//   - a hunt's shards and blocks live in a heap chunk reused once the hunt is
//     destroyed, so what was read through a hunt record is good only if that record's
//     seq is unchanged afterwards.
//
// No command is sent and the daemon is never blocked. The seqlock read protocol is:
// load the seq (acquire), copy the data word by word with atomic loads, load the seq
// again; the copy is whole when both loads saw the same even value. Go's atomic loads
// are sequentially consistent, which gives the acquire order of the first load and
// keeps the data loads before the second. Every index and offset read from shared
// memory is bounds-checked where it is used, every list walk is bounded, and a read
// gives up with ErrRetry after readTries failed attempts (a daemon that died inside a
// write section leaves its seq odd for good).

const (
	readTries    = 100000
	spinTries    = 1000
	idSlotMask   = 1<<IdSlotBits - 1
	maxShards    = 65536
	seqNone      = 1 // a shard not read yet in this pass: a recorded seq is always even
	blockOK      = 0
	blockRetry   = 1
	blockRestart = 2
)

// ReadPlayers and ReadClues select what Rect returns.
const (
	ReadPlayers = 1
	ReadClues   = 2
)

// MapInfo describes a loaded map.
type MapInfo struct {
	Width, Height uint32 // cells
	Passable      uint32 // passable cells
	TableState    uint32 // TableNone, TableBuilding, TableReady, TableFailed
	Hash          uint64
	Name          string
}

// HuntInfo is a hunt's directory record.
type HuntInfo struct {
	Seq                          uint64 // the record's seqlock value when it was read
	ID, MapID                    uint32
	Width, Height                uint32 // cells
	CellMM, ClaimRadiusMM        uint32
	SpeedLimitMMs                uint32
	BlocksX, BlocksY, Shards     uint32
	Players, Clues, CluesClaimed uint32
	MapHash                      uint64
	CreatedNs                    uint64

	shardsOffset, blocksOffset uint64
}

// Entity is a player (Kind EntityPlayer) or a clue (EntityClue) as the grid holds it.
type Entity struct {
	ID, HuntID uint32
	Kind       uint8
	Flags      uint8 // FlagClaimed for a claimed clue
	Block      uint32
	X, Y       int32
	ClaimedBy  uint32 // a clue's winner
	Claims     uint32 // a player's clues won
	Value      int64  // a player's score, a clue's worth
	StampNs    uint64
	Order      uint64

	next uint32
}

// gridView is the grid region as checked once at attach: its tables never move while
// the daemon runs.
type gridView struct {
	err         error // what every read returns (no grid, or a malformed one), or nil
	base        unsafe.Pointer
	size        uint64
	nMaps       uint32
	maxHunts    uint32
	maxEntities uint32
	maps        uint64 // offsets in the region
	hunts       uint64
	ents        uint64
}

// loadWords copies n 8-byte words from p with atomic loads into dst.
func loadWords(dst []byte, p unsafe.Pointer) {
	for i := 0; i+8 <= len(dst); i += 8 {
		le.PutUint64(dst[i:], atomic.LoadUint64((*uint64)(unsafe.Add(p, i))))
	}
}

func fitsN(off, count, elem, size uint64) bool {
	if off > size {
		return false
	}
	return elem == 0 || count <= (size-off)/elem
}

func (g *gridView) attach(state []byte) {
	off := le.Uint64(state[StateHeaderOffGridOffset:])
	size := le.Uint64(state[StateHeaderOffGridSize:])
	if off == 0 {
		return // no grid: no map, no hunt
	}
	var h [GridHeaderSize]byte
	base := unsafe.Pointer(&state[off])
	loadWords(h[:], base)
	u32 := func(o int) uint32 { return le.Uint32(h[o:]) }
	u64 := func(o int) uint64 { return le.Uint64(h[o:]) }
	mo, ho, eo := u64(GridHeaderOffMapsOffset), u64(GridHeaderOffHuntsOffset), u64(GridHeaderOffEntitiesOffset)
	if u32(GridHeaderOffBlockCells) != BlockCells || u32(GridHeaderOffMaxHunts) > idSlotMask ||
		u32(GridHeaderOffMaxEntities) > idSlotMask || mo%8 != 0 || ho%8 != 0 || eo%8 != 0 ||
		mo < GridHeaderSize || ho < GridHeaderSize || eo < GridHeaderSize ||
		!fitsN(mo, uint64(u32(GridHeaderOffNMaps)), MapInfoSize, size) ||
		!fitsN(ho, uint64(u32(GridHeaderOffMaxHunts)), HuntInfoSize, size) ||
		!fitsN(eo, uint64(u32(GridHeaderOffMaxEntities)), EntitySize, size) {
		g.err = ErrLayout
		return
	}
	*g = gridView{base: base, size: size, nMaps: u32(GridHeaderOffNMaps),
		maxHunts: u32(GridHeaderOffMaxHunts), maxEntities: u32(GridHeaderOffMaxEntities),
		maps: mo, hunts: ho, ents: eo}
}

func (g *gridView) at(off uint64) unsafe.Pointer { return unsafe.Add(g.base, off) }

// retry counts one failed attempt and says ErrRetry once there were too many. The
// first spinTries spin; after that the writer is likely not running (preempted inside
// a write section, perhaps by this very reader), so the rest yield to it.
func retry(tries *int) error {
	*tries++
	if *tries >= readTries {
		return ErrRetry
	}
	if *tries >= spinTries {
		runtime.Gosched()
	}
	return nil
}

// Map returns a loaded map (map 0 is the daemon's embedded map).
func (c *Conn) Map(mapID uint32) (MapInfo, error) {
	g := &c.lane.Load().grid
	if g.err != nil {
		return MapInfo{}, g.err
	}
	if g.base == nil || mapID >= g.nMaps {
		return MapInfo{}, ErrUnknownMap
	}
	var b [MapInfoSize]byte
	// Maps never change while the daemon runs: a plain copy is whole.
	loadWords(b[:], g.at(g.maps+uint64(mapID)*MapInfoSize))
	name := string(b[MapInfoOffName : MapInfoOffName+MapNameSize])
	if i := strings.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	return MapInfo{Width: le.Uint32(b[MapInfoOffWidth:]), Height: le.Uint32(b[MapInfoOffHeight:]),
		Passable: le.Uint32(b[MapInfoOffPassable:]), TableState: le.Uint32(b[MapInfoOffTableState:]),
		Hash: le.Uint64(b[MapInfoOffHash:]), Name: name}, nil
}

// huntView is a hunt record as read, with what the reads through it need.
type huntView struct {
	info           HuntInfo
	seqWord        *uint64
	nblocks        uint64
	limitX, limitY int64
	blockMM        int64
}

func decodeHunt(b []byte) HuntInfo {
	u32 := func(o int) uint32 { return le.Uint32(b[o:]) }
	u64 := func(o int) uint64 { return le.Uint64(b[o:]) }
	return HuntInfo{ID: u32(HuntInfoOffId), MapID: u32(HuntInfoOffMapId), Width: u32(HuntInfoOffWidth),
		Height: u32(HuntInfoOffHeight), CellMM: u32(HuntInfoOffCellMm),
		ClaimRadiusMM: u32(HuntInfoOffClaimRadiusMm), SpeedLimitMMs: u32(HuntInfoOffSpeedLimitMmS),
		BlocksX: u32(HuntInfoOffBlocksX), BlocksY: u32(HuntInfoOffBlocksY), Shards: u32(HuntInfoOffShards),
		shardsOffset: u64(HuntInfoOffShardsOffset), blocksOffset: u64(HuntInfoOffBlocksOffset),
		Players: u32(HuntInfoOffPlayers), Clues: u32(HuntInfoOffClues),
		CluesClaimed: u32(HuntInfoOffCluesClaimed), MapHash: u64(HuntInfoOffMapHash),
		CreatedNs: u64(HuntInfoOffCreatedNs)}
}

// checkHunt checks a whole (seq-validated) hunt record against the region before
// anything is read through it: a record that fails is the daemon's fault, not a race.
func (g *gridView) checkHunt(h *huntView) error {
	i := &h.info
	nblocks := uint64(i.BlocksX) * uint64(i.BlocksY)
	if i.Shards == 0 || i.Shards > maxShards || i.CellMM == 0 || i.Width == 0 || i.Height == 0 ||
		uint64(i.BlocksX)*BlockCells < uint64(i.Width) || uint64(i.BlocksY)*BlockCells < uint64(i.Height) ||
		i.shardsOffset%8 != 0 || i.blocksOffset%8 != 0 || i.shardsOffset < GridHeaderSize ||
		i.blocksOffset < GridHeaderSize || !fitsN(i.shardsOffset, uint64(i.Shards), ShardSize, g.size) ||
		!fitsN(i.blocksOffset, nblocks, BlockSize, g.size) {
		return ErrLayout
	}
	h.nblocks = nblocks
	h.limitX = int64(i.Width) * int64(i.CellMM)
	h.limitY = int64(i.Height) * int64(i.CellMM)
	h.blockMM = int64(i.CellMM) * BlockCells
	return nil
}

func (g *gridView) readHunt(huntID uint32, h *huntView, tries *int) error {
	if g.err != nil {
		return g.err
	}
	slot := huntID & idSlotMask
	if g.base == nil || huntID == 0 || slot >= g.maxHunts {
		return ErrUnknownHunt
	}
	rec := g.at(g.hunts + uint64(slot)*HuntInfoSize)
	h.seqWord = (*uint64)(rec)
	var b [HuntInfoSize]byte
	for {
		s := atomic.LoadUint64(h.seqWord)
		if s&1 == 0 {
			loadWords(b[:], rec)
			if atomic.LoadUint64(h.seqWord) == s {
				h.info = decodeHunt(b[:])
				h.info.Seq = s
				if h.info.ID != huntID {
					return ErrUnknownHunt
				}
				return g.checkHunt(h)
			}
		}
		if err := retry(tries); err != nil {
			return err
		}
	}
}

// unchanged reports whether the hunt record is still the one read.
func (h *huntView) unchanged() bool { return atomic.LoadUint64(h.seqWord) == h.info.Seq }

func (h *huntView) blockOf(x, y int32) uint32 {
	return uint32((int64(y)/h.blockMM)*int64(h.info.BlocksX) + int64(x)/h.blockMM)
}

func (g *gridView) shardSeq(h *huntView, b uint32) *uint64 {
	return (*uint64)(g.at(h.info.shardsOffset + uint64(b%h.info.Shards)*ShardSize))
}

func decodeEntity(b []byte) Entity {
	return Entity{ID: le.Uint32(b[EntityOffId:]), HuntID: le.Uint32(b[EntityOffHuntId:]),
		Kind: b[EntityOffKind], Flags: b[EntityOffFlags], Block: le.Uint32(b[EntityOffBlock:]),
		next: le.Uint32(b[EntityOffNext:]), X: int32(le.Uint32(b[EntityOffX:])),
		Y: int32(le.Uint32(b[EntityOffY:])), ClaimedBy: le.Uint32(b[EntityOffClaimedBy:]),
		Claims: le.Uint32(b[EntityOffClaims:]), Value: int64(le.Uint64(b[EntityOffValue:])),
		StampNs: le.Uint64(b[EntityOffStampNs:]), Order: le.Uint64(b[EntityOffOrder:])}
}

// Hunt returns a hunt's directory record. ErrUnknownHunt, ErrRetry, ErrLayout.
func (c *Conn) Hunt(huntID uint32) (HuntInfo, error) {
	var h huntView
	tries := 0
	if err := c.lane.Load().grid.readHunt(huntID, &h, &tries); err != nil {
		return HuntInfo{}, err
	}
	return h.info, nil
}

// Entity returns the record of a player or clue id of huntID, read whole under the
// seqlock of its block's shard. ErrUnknownPlayer (no player or clue has this id now,
// for clue ids too), ErrWrongHunt, ErrUnknownHunt, ErrRetry.
func (c *Conn) Entity(huntID, id uint32) (Entity, error) {
	g := &c.lane.Load().grid
	slot := id & idSlotMask
	tries := 0
	var h huntView
	var b [EntitySize]byte
	for {
		if err := g.readHunt(huntID, &h, &tries); err != nil {
			return Entity{}, err
		}
		if id == 0 || slot >= g.maxEntities {
			return Entity{}, ErrUnknownPlayer
		}
		en := g.at(g.ents + uint64(slot)*EntitySize)
		// id and hunt_id share the record's first word, which the daemon stores whole:
		// one load says whether the entity exists, and in which hunt.
		w0 := atomic.LoadUint64((*uint64)(en))
		if uint32(w0) != id {
			return Entity{}, ErrUnknownPlayer
		}
		if uint32(w0>>32) != huntID {
			return Entity{}, ErrWrongHunt
		}
		// Its block says which shard guards it; read outside any section it may be
		// stale, so it is confirmed by finding the same block in the guarded copy.
		blk := atomic.LoadUint32((*uint32)(unsafe.Add(en, EntityOffBlock)))
		if uint64(blk) < h.nblocks {
			sq := g.shardSeq(&h, blk)
			s := atomic.LoadUint64(sq)
			loadWords(b[:], en)
			if s&1 == 0 && atomic.LoadUint64(sq) == s {
				e := decodeEntity(b[:])
				if e.ID == id && e.Block == blk && h.unchanged() {
					if e.HuntID != huntID || e.X < 0 || e.Y < 0 || int64(e.X) >= h.limitX ||
						int64(e.Y) >= h.limitY || h.blockOf(e.X, e.Y) != blk {
						return Entity{}, ErrLayout
					}
					return e, nil
				}
			}
		}
		if err := retry(&tries); err != nil {
			return Entity{}, err
		}
	}
}

// rectPass is one pass of Rect over the rectangle.
type rectPass struct {
	x0, y0, x1, y1 int32
	mask           int
	out            []Entity
	seqs           []uint64 // per shard: the seq this pass read it at, or seqNone
	used           []uint32
}

func (g *gridView) walk(h *huntView, b uint32, head *uint32, kind uint8, p *rectPass) int {
	e := atomic.LoadUint32(head)
	var buf [EntitySize]byte
	for steps := uint32(0); e != 0; steps++ {
		if e > g.maxEntities || steps >= g.maxEntities {
			return blockRetry
		}
		loadWords(buf[:], g.at(g.ents+uint64(e-1)*EntitySize))
		en := decodeEntity(buf[:])
		if en.Kind != kind || en.Block != b || en.HuntID != h.info.ID || en.X < 0 || en.Y < 0 ||
			int64(en.X) >= h.limitX || int64(en.Y) >= h.limitY || h.blockOf(en.X, en.Y) != b {
			return blockRetry
		}
		if en.X >= p.x0 && en.X <= p.x1 && en.Y >= p.y0 && en.Y <= p.y1 {
			p.out = append(p.out, en)
		}
		e = en.next
	}
	return blockOK
}

func (g *gridView) readBlock(h *huntView, b uint32, p *rectPass) int {
	shard := b % h.info.Shards
	sq := g.shardSeq(h, b)
	blk := g.at(h.info.blocksOffset + uint64(b)*BlockSize)
	n0 := len(p.out)
	s := atomic.LoadUint64(sq)
	if s&1 != 0 {
		return blockRetry
	}
	// A shard read earlier in this pass at another seq: not one snapshot.
	if p.seqs[shard] != seqNone && p.seqs[shard] != s {
		return blockRestart
	}
	r := blockOK
	if p.mask&ReadPlayers != 0 {
		r = g.walk(h, b, (*uint32)(unsafe.Add(blk, BlockOffFirstPlayer)), EntityPlayer, p)
	}
	if r == blockOK && p.mask&ReadClues != 0 {
		r = g.walk(h, b, (*uint32)(unsafe.Add(blk, BlockOffFirstClue)), EntityClue, p)
	}
	if atomic.LoadUint64(sq) != s {
		p.out = p.out[:n0]
		return blockRetry
	}
	if r != blockOK {
		// A whole copy that does not hold together: a reused chunk (the hunt re-check
		// catches it) or the daemon's fault. Start over; the bound on tries ends it.
		p.out = p.out[:n0]
		return blockRestart
	}
	if p.seqs[shard] == seqNone {
		p.seqs[shard] = s
		p.used = append(p.used, shard)
	}
	return blockOK
}

// Rect returns the entities of the kinds in mask (ReadPlayers, ReadClues) with
// x0 <= x <= x1 and y0 <= y <= y1 (clamped to the map), block by block in row order,
// players before clues within a block, appended to out. The answer is one snapshot of
// the rectangle: each block is read whole under its shard's seqlock, and the shards
// and the hunt are checked again at the end, so no entity appears twice or goes
// missing because it moved meanwhile; any write to the rectangle's shards during the
// read starts it over (under a heavy stream of moves read small rectangles, or expect
// ErrRetry). ErrInvalid, ErrUnknownHunt, ErrRetry, ErrLayout.
func (c *Conn) Rect(huntID uint32, x0, y0, x1, y1 int32, mask int, out []Entity) ([]Entity, error) {
	if x0 > x1 || y0 > y1 || mask&(ReadPlayers|ReadClues) == 0 || mask&^(ReadPlayers|ReadClues) != 0 {
		return out, ErrInvalid
	}
	g := &c.lane.Load().grid
	tries := 0
	var h huntView
	p := rectPass{mask: mask}
	for {
		if err := g.readHunt(huntID, &h, &tries); err != nil {
			return out, err
		}
		cx0, cy0 := max(int64(x0), 0), max(int64(y0), 0)
		cx1, cy1 := min(int64(x1), h.limitX-1), min(int64(y1), h.limitY-1)
		if cx0 > cx1 || cy0 > cy1 {
			return out, nil
		}
		p.x0, p.y0, p.x1, p.y1 = int32(cx0), int32(cy0), int32(cx1), int32(cy1)
		if uint32(cap(p.seqs)) < h.info.Shards {
			p.seqs = make([]uint64, h.info.Shards)
		}
		p.seqs = p.seqs[:h.info.Shards]
		for i := range p.seqs {
			p.seqs[i] = seqNone
		}
		p.used = p.used[:0]
		p.out = out
		r, err := g.rectPass(&h, &p, &tries)
		if err != nil {
			return out, err
		}
		if r {
			return p.out, nil
		}
		if err := retry(&tries); err != nil {
			return out, err
		}
	}
}

// rectPass reads every block the rectangle overlaps; true when they make one snapshot.
func (g *gridView) rectPass(h *huntView, p *rectPass, tries *int) (bool, error) {
	bx0, bx1 := int64(p.x0)/h.blockMM, int64(p.x1)/h.blockMM
	by0, by1 := int64(p.y0)/h.blockMM, int64(p.y1)/h.blockMM
	for by := by0; by <= by1; by++ {
		for bx := bx0; bx <= bx1; bx++ {
			b := uint32(by*int64(h.info.BlocksX) + bx)
			r := g.readBlock(h, b, p)
			for r == blockRetry {
				if err := retry(tries); err != nil {
					return false, err
				}
				r = g.readBlock(h, b, p)
			}
			if r == blockRestart {
				return false, nil
			}
		}
	}
	for _, s := range p.used {
		if atomic.LoadUint64((*uint64)(g.at(h.info.shardsOffset+uint64(s)*ShardSize))) != p.seqs[s] {
			return false, nil
		}
	}
	return h.unchanged(), nil
}

// Entities is Rect as an iterator: it reads the rectangle (one snapshot, as Rect) and
// yields its entities, or yields one error and stops.
func (c *Conn) Entities(huntID uint32, x0, y0, x1, y1 int32, mask int) iter.Seq2[Entity, error] {
	return func(yield func(Entity, error) bool) {
		es, err := c.Rect(huntID, x0, y0, x1, y1, mask, nil)
		if err != nil {
			yield(Entity{}, err)
			return
		}
		for _, e := range es {
			if !yield(e, nil) {
				return
			}
		}
	}
}
