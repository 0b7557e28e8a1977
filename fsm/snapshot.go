package fsm

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"

	"github.com/dni-dev/dni/allocator"
)

// A snapshot is a header (magic and version), then typed records, each a type
// byte, a length and a body, then an end record holding the CRC-32C of every
// byte before it. Records come in a fixed order (meta, pools each with its
// budget, visits, numbers, calls) because later ones refer to earlier ones.

const snapshotMagic = "DNI-SNAP"

// SnapshotVersion is the version WriteSnapshot writes and ReadBackup reads.
const SnapshotVersion = 1

type recordType uint8

const (
	recordMeta   recordType = 1
	recordPool   recordType = 2
	recordVisit  recordType = 3
	recordNumber recordType = 4
	recordCall   recordType = 5
	recordNode   recordType = 6
	recordToken  recordType = 7
	// recordBudget follows the pool record whose budget of new visits it
	// holds, for a pool that has spent some. An older reader, which has
	// no budgets, may skip it.
	recordBudget recordType = 8 | recordOptional
	// recordRevoked holds the hash of a deleted token. Not optional: a
	// reader that dropped it would let a restore bring the token back.
	recordRevoked recordType = 9
	// recordMarketing holds the cluster's marketing settings, once they
	// were set; recordSpend one day of spend on one campaign. Neither is
	// optional: calls' values and ROAS depend on them.
	recordMarketing recordType = 10
	recordSpend     recordType = 11
	// recordWebhooks holds the last event's number, then come the
	// endpoints (each with its log) and the queued deliveries. Not
	// optional: a reader that dropped them would lose events.
	recordWebhooks recordType = 12
	recordEndpoint recordType = 13
	recordDelivery recordType = 14
	recordEnd      recordType = 0x7f
	// recordOptional on a type lets an older reader skip a record it does
	// not know, as IgnoreUnknown does for commands.
	recordOptional recordType = 0x80
)

// recordUsage follows the pool record (and budget) whose traffic by hour it
// holds, for the pool-size advisor. An older reader may skip it: it loses
// the pool's history, not a rule.
const recordUsage recordType = 15 | recordOptional

// recordSizes follows the pool record (and its budget and usage) whose
// size history it holds. Not optional: the autoscaler's daily cap, which
// the state machine keeps, counts what the history says.
const recordSizes recordType = 16

// recordVoicemail holds the cluster's default voicemail, once it was set.
// Not optional: a node that dropped it would answer calls unlike the rest.
const recordVoicemail recordType = 17

const maxRecord = 1 << 24

// Image is what a snapshot holds: the domain state and the cluster's nodes.
type Image struct {
	State  *allocator.Image
	Nodes  []Node  // sorted by ID
	Tokens []Token // sorted by ID
	// Revoked holds the hashes of the tokens deleted, sorted.
	Revoked [][32]byte
	// Applied is the index of the last log entry the state includes, or 0
	// when that is not known (a backup, which may be restored anywhere).
	Applied uint64
}

// machine builds the state an image describes, checking it is whole.
func (img *Image) machine() (*machine, error) {
	s, err := allocator.Import(img.State)
	if err != nil {
		return nil, err
	}
	for i, n := range img.Nodes {
		if n.ID == "" || i > 0 && img.Nodes[i-1].ID >= n.ID {
			return nil, fmt.Errorf("%w: nodes out of order or without id", ErrBadSnapshot)
		}
	}
	if err := checkTokens(img.Tokens, img.Revoked); err != nil {
		return nil, err
	}
	return newMachine(s, img.Nodes, img.Tokens, img.Revoked), nil
}

// ErrBadSnapshot wraps every reason ReadBackup refuses its input as unreadable.
var ErrBadSnapshot = errors.New("bad snapshot")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// WriteSnapshot writes an image in the snapshot format. The same image
// always gives the same bytes.
func WriteSnapshot(w io.Writer, snap *Image) error {
	img := snap.State
	bw := bufio.NewWriterSize(w, 1<<16)
	sum := crc32.New(castagnoli)
	out := io.MultiWriter(bw, sum)
	var e encoder
	e.buf = append(e.buf, snapshotMagic...)
	e.uvarint(SnapshotVersion)
	if _, err := out.Write(e.buf); err != nil {
		return err
	}
	write := func(t recordType, body func(*encoder)) error {
		e.buf = e.buf[:0]
		body(&e)
		head := binary.AppendUvarint([]byte{byte(t)}, uint64(len(e.buf)))
		if _, err := out.Write(head); err != nil {
			return err
		}
		_, err := out.Write(e.buf)
		return err
	}
	err := write(recordMeta, func(e *encoder) {
		e.uvarint(img.PoolSeq)
		e.uvarint(img.VisitSeq)
		e.uvarint(img.NumberSeq)
		e.uvarint(snap.Applied)
	})
	for i := 0; err == nil && i < len(img.Pools); i++ {
		p := &img.Pools[i]
		err = write(recordPool, func(e *encoder) { e.poolRecord(p) })
		if err == nil && (p.BudgetSpent != 0 || p.BudgetAt != 0) {
			err = write(recordBudget, func(e *encoder) {
				e.uvarint(p.Seq)
				e.varint(p.BudgetSpent)
				e.varint(p.BudgetAt)
			})
		}
		if err == nil && p.Usage != nil {
			err = write(recordUsage, func(e *encoder) { e.usage(p.Seq, p.Usage) })
		}
		if err == nil && len(p.History) > 0 {
			err = write(recordSizes, func(e *encoder) { e.sizes(p.Seq, p.History) })
		}
	}
	for i := 0; err == nil && i < len(img.Visits); i++ {
		err = write(recordVisit, func(e *encoder) { e.visitRecord(&img.Visits[i]) })
	}
	for i := 0; err == nil && i < len(img.Numbers); i++ {
		err = write(recordNumber, func(e *encoder) { e.numberRecord(&img.Numbers[i]) })
	}
	for i := 0; err == nil && i < len(img.Calls); i++ {
		err = write(recordCall, func(e *encoder) { e.callRecord(&img.Calls[i]) })
	}
	if err == nil && img.Marketing != nil {
		err = write(recordMarketing, func(e *encoder) { e.marketing(img.Marketing) })
	}
	if err == nil && img.DefaultVoicemail != nil {
		err = write(recordVoicemail, func(e *encoder) { e.voicemail(img.DefaultVoicemail) })
	}
	for i := 0; err == nil && i < len(img.Spend); i++ {
		err = write(recordSpend, func(e *encoder) { e.spend(&img.Spend[i]) })
	}
	if err == nil && (img.EventSeq != 0 || len(img.Endpoints) > 0) {
		err = write(recordWebhooks, func(e *encoder) { e.uvarint(img.EventSeq) })
	}
	for i := 0; err == nil && i < len(img.Endpoints); i++ {
		err = write(recordEndpoint, func(e *encoder) { e.endpoint(&img.Endpoints[i]) })
	}
	for i := 0; err == nil && i < len(img.Deliveries); i++ {
		err = write(recordDelivery, func(e *encoder) { e.delivery(&img.Deliveries[i]) })
	}
	for i := 0; err == nil && i < len(snap.Nodes); i++ {
		err = write(recordNode, func(e *encoder) { (*SetNode)(&snap.Nodes[i]).encode(e) })
	}
	for i := 0; err == nil && i < len(snap.Tokens); i++ {
		err = write(recordToken, func(e *encoder) { (*CreateToken)(&snap.Tokens[i]).encode(e) })
	}
	for i := 0; err == nil && i < len(snap.Revoked); i++ {
		err = write(recordRevoked, func(e *encoder) {
			e.id([16]byte(snap.Revoked[i][:16]))
			e.id([16]byte(snap.Revoked[i][16:]))
		})
	}
	if err != nil {
		return err
	}
	crc := sum.Sum32()
	if err := write(recordEnd, func(e *encoder) { e.buf = binary.BigEndian.AppendUint32(e.buf, crc) }); err != nil {
		return err
	}
	return bw.Flush()
}

// restorers read each record type into the image being rebuilt.
var restorers = map[recordType]func(*decoder, *Image){
	recordMeta: func(d *decoder, snap *Image) {
		img := snap.State
		img.PoolSeq, img.VisitSeq, img.NumberSeq = d.uvarint(), d.uvarint(), d.uvarint()
		snap.Applied = d.uvarint()
	},
	recordPool: func(d *decoder, snap *Image) {
		img := snap.State
		img.Pools = append(img.Pools, allocator.PoolRecord{})
		d.poolRecord(&img.Pools[len(img.Pools)-1])
	},
	recordBudget: func(d *decoder, snap *Image) {
		if p := followed(d, snap, "budget", func(*allocator.PoolRecord) bool { return false }); p != nil {
			p.BudgetSpent, p.BudgetAt = d.varint(), d.varint()
		}
	},
	recordUsage: func(d *decoder, snap *Image) {
		if p := followed(d, snap, "usage", func(p *allocator.PoolRecord) bool { return p.Usage != nil }); p != nil {
			p.Usage = d.usage()
		}
	},
	recordSizes: func(d *decoder, snap *Image) {
		if p := followed(d, snap, "size history", func(p *allocator.PoolRecord) bool { return p.History != nil }); p != nil {
			p.History = d.sizes()
		}
	},
	recordVisit: func(d *decoder, snap *Image) {
		img := snap.State
		img.Visits = append(img.Visits, allocator.VisitRecord{})
		d.visitRecord(&img.Visits[len(img.Visits)-1])
	},
	recordNumber: func(d *decoder, snap *Image) {
		img := snap.State
		img.Numbers = append(img.Numbers, allocator.NumberRecord{})
		d.numberRecord(&img.Numbers[len(img.Numbers)-1])
	},
	recordCall: func(d *decoder, snap *Image) {
		img := snap.State
		img.Calls = append(img.Calls, allocator.CallRecord{})
		d.callRecord(&img.Calls[len(img.Calls)-1])
	},
	recordMarketing: func(d *decoder, snap *Image) {
		img := snap.State
		if img.Marketing != nil {
			d.fail(errors.New("the marketing settings are there twice"))
			return
		}
		img.Marketing = new(allocator.Marketing)
		d.marketing(img.Marketing)
	},
	recordVoicemail: func(d *decoder, snap *Image) {
		img := snap.State
		if img.DefaultVoicemail != nil {
			d.fail(errors.New("the cluster's voicemail is there twice"))
			return
		}
		img.DefaultVoicemail = new(allocator.Voicemail)
		d.voicemail(img.DefaultVoicemail)
	},
	recordSpend: func(d *decoder, snap *Image) {
		img := snap.State
		img.Spend = append(img.Spend, allocator.Spend{})
		d.spend(&img.Spend[len(img.Spend)-1])
	},
	recordWebhooks: func(d *decoder, snap *Image) {
		snap.State.EventSeq = d.uvarint()
	},
	recordEndpoint: func(d *decoder, snap *Image) {
		img := snap.State
		img.Endpoints = append(img.Endpoints, allocator.Endpoint{})
		d.endpoint(&img.Endpoints[len(img.Endpoints)-1])
	},
	recordDelivery: func(d *decoder, snap *Image) {
		img := snap.State
		img.Deliveries = append(img.Deliveries, allocator.DeliveryRecord{})
		d.delivery(&img.Deliveries[len(img.Deliveries)-1])
	},
	recordNode: func(d *decoder, snap *Image) {
		snap.Nodes = append(snap.Nodes, Node(*decodeSetNode(d)))
	},
	recordToken: func(d *decoder, snap *Image) {
		snap.Tokens = append(snap.Tokens, Token(*decodeCreateToken(d)))
	},
	recordRevoked: func(d *decoder, snap *Image) {
		var h [32]byte
		lo, hi := d.id(), d.id()
		copy(h[:16], lo[:])
		copy(h[16:], hi[:])
		snap.Revoked = append(snap.Revoked, h)
	},
}

// readSnapshot reads what WriteSnapshot wrote. Corrupt or truncated input is
// an error wrapping ErrBadSnapshot, never a panic; whether the image makes a
// whole state is ReadBackup's to judge.
func readSnapshot(r io.Reader) (*Image, error) {
	sum := crc32.New(castagnoli)
	br := &summingReader{r: bufio.NewReaderSize(r, 1<<16), sum: sum}
	head := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(br, head); err != nil || string(head) != snapshotMagic {
		return nil, fmt.Errorf("%w: not a dni snapshot", ErrBadSnapshot)
	}
	version, err := binary.ReadUvarint(br)
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrBadSnapshot, err)
	}
	if version != SnapshotVersion {
		return nil, fmt.Errorf("%w: version %d, this node reads version %d", ErrBadSnapshot, version, SnapshotVersion)
	}
	img := &Image{State: new(allocator.Image)}
	var body []byte
	for n := 0; ; n++ {
		crc := sum.Sum32()
		tb, err := br.ReadByte()
		if err != nil {
			return nil, fmt.Errorf("%w: record %d: %v", ErrBadSnapshot, n, eofIsUnexpected(err))
		}
		size, err := binary.ReadUvarint(br)
		if err != nil || size > maxRecord {
			return nil, fmt.Errorf("%w: record %d: bad length", ErrBadSnapshot, n)
		}
		if uint64(cap(body)) < size {
			body = make([]byte, size)
		}
		body = body[:size]
		if _, err := io.ReadFull(br, body); err != nil {
			return nil, fmt.Errorf("%w: record %d: %v", ErrBadSnapshot, n, eofIsUnexpected(err))
		}
		t := recordType(tb)
		if t == recordEnd {
			if size != 4 || binary.BigEndian.Uint32(body) != crc {
				return nil, fmt.Errorf("%w: checksum mismatch", ErrBadSnapshot)
			}
			if _, err := br.ReadByte(); err != io.EOF {
				return nil, fmt.Errorf("%w: data after the end record", ErrBadSnapshot)
			}
			return img, nil
		}
		restore := restorers[t]
		if restore == nil {
			if t&recordOptional != 0 {
				continue
			}
			return nil, fmt.Errorf("%w: record %d has unknown type %d", ErrBadSnapshot, n, t)
		}
		d := decoder{buf: body}
		restore(&d, img)
		d.end()
		if d.err != nil {
			return nil, fmt.Errorf("%w: record %d (type %d): %v", ErrBadSnapshot, n, t, d.err)
		}
	}
}

func eofIsUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// summingReader feeds every byte read through a checksum.
type summingReader struct {
	r   *bufio.Reader
	sum hash.Hash32
}

func (s *summingReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.sum.Write(p[:n])
	return n, err
}

func (s *summingReader) ReadByte() (byte, error) {
	b, err := s.r.ReadByte()
	if err == nil {
		s.sum.Write([]byte{b})
	}
	return b, err
}

func (e *encoder) poolRecord(p *allocator.PoolRecord) {
	e.uvarint(p.Seq)
	e.string(p.ID)
	e.string(p.Key)
	e.settings(&p.Settings)
	e.varint(p.CreatedAt)
	e.varint(p.UpdatedAt)
	e.varint(p.DeletedAt)
	e.string(p.Notice)
	e.uvarint(uint64(len(p.Free)))
	for _, l := range p.Free {
		e.byte(byte(l))
	}
	e.uvarint(uint64(len(p.Numberless)))
	for _, v := range p.Numberless {
		e.uvarint(v)
	}
	for _, r := range p.RecentReqs {
		e.id(r)
	}
	e.byte(p.NextReq)
	e.laterSettings(&p.Settings)
}

func (d *decoder) poolRecord(p *allocator.PoolRecord) {
	p.Seq = d.uvarint()
	p.ID = d.string()
	p.Key = d.string()
	d.settings(&p.Settings)
	p.CreatedAt = d.varint()
	p.UpdatedAt = d.varint()
	p.DeletedAt = d.varint()
	p.Notice = d.string()
	if n := d.count(1); n > 0 {
		p.Free = make([]int8, n)
		for i := range p.Free {
			p.Free[i] = int8(d.byte())
		}
	}
	if n := d.count(1); n > 0 {
		p.Numberless = make([]uint64, n)
		for i := range p.Numberless {
			p.Numberless[i] = d.uvarint()
		}
	}
	for i := range p.RecentReqs {
		p.RecentReqs[i] = d.id()
	}
	p.NextReq = d.byte()
	d.laterSettings(&p.Settings)
}

// usage writes a pool's hours oldest first, each hour as the gap from the
// one before it.
func (e *encoder) usage(pool uint64, u *allocator.UsageRecord) {
	e.uvarint(pool)
	e.varint(u.Clock)
	e.varint(u.HotSince)
	e.varint(int64(u.Live))
	e.varint(int64(u.Active))
	e.uvarint(uint64(len(u.Hours)))
	prev := int64(0)
	for _, h := range u.Hours {
		e.varint(h.Hour - prev)
		prev = h.Hour
		for _, v := range [...]uint32{h.Peak, h.Numbers, h.HotMillis, h.Recycled, h.Refused, h.Calls, h.Shared, h.Unmatched} {
			e.uvarint(uint64(v))
		}
	}
}

func (d *decoder) usage() *allocator.UsageRecord {
	u := &allocator.UsageRecord{Clock: d.varint(), HotSince: d.varint(), Live: d.int32(), Active: d.int32()}
	if n := d.count(9); n > 0 {
		u.Hours = make([]allocator.UsageHour, n)
		prev := int64(0)
		for i := range u.Hours {
			h := &u.Hours[i]
			prev += d.varint()
			h.Hour = prev
			for _, v := range [...]*uint32{&h.Peak, &h.Numbers, &h.HotMillis, &h.Recycled, &h.Refused, &h.Calls, &h.Shared, &h.Unmatched} {
				*v = d.uint32()
			}
		}
	}
	return u
}

// followed returns the pool record that a record of a pool's own (its
// budget, usage or size history) names and must follow, or nil after
// failing the decoder if it follows another pool or was read already
// (there says whether it was).
func followed(d *decoder, snap *Image, what string, there func(*allocator.PoolRecord) bool) *allocator.PoolRecord {
	pools := snap.State.Pools
	seq := d.uvarint()
	if len(pools) == 0 || pools[len(pools)-1].Seq != seq || there(&pools[len(pools)-1]) {
		d.fail(fmt.Errorf("the %s of pool %d does not follow its pool, or is there twice", what, seq))
		return nil
	}
	return &pools[len(pools)-1]
}

func (e *encoder) sizes(pool uint64, h []allocator.SizeChange) {
	e.uvarint(pool)
	e.uvarint(uint64(len(h)))
	for _, c := range h {
		e.time(c.At)
		e.varint(int64(c.From))
		e.varint(int64(c.To))
		e.bool(c.Auto)
		e.string(c.Reason)
	}
}

func (d *decoder) sizes() []allocator.SizeChange {
	out := make([]allocator.SizeChange, d.count(5))
	for i := range out {
		out[i] = allocator.SizeChange{At: d.time(), From: d.int(), To: d.int(), Auto: d.bool(), Reason: d.string()}
	}
	return out
}

func (d *decoder) int32() int32 { return int32(d.int()) }

func (d *decoder) uint32() uint32 {
	v := d.uvarint()
	if v > math.MaxUint32 {
		d.fail(fmt.Errorf("%d is out of range", v))
		return 0
	}
	return uint32(v)
}

func (e *encoder) visitRecord(v *allocator.VisitRecord) {
	e.uvarint(v.Seq)
	e.id(v.ID)
	e.uvarint(v.Pool)
	e.attribution(&v.Attribution)
	e.varint(v.FirstSeen)
	e.varint(v.Seen)
	e.varint(v.Ended)
	e.id(v.Req)
}

func (d *decoder) visitRecord(v *allocator.VisitRecord) {
	v.Seq = d.uvarint()
	v.ID = d.id()
	v.Pool = d.uvarint()
	d.attribution(&v.Attribution)
	v.FirstSeen = d.varint()
	v.Seen = d.varint()
	v.Ended = d.varint()
	v.Req = d.id()
}

func (e *encoder) numberRecord(n *allocator.NumberRecord) {
	e.uvarint(n.Seq)
	e.string(n.E164)
	e.string(n.ProviderID)
	e.uvarint(n.Pool)
	e.bool(n.Owned)
	e.varint(n.AddedAt)
	e.uvarint(uint64(n.State))
	e.varint(int64(n.Line))
	e.varint(n.Seen)
	e.varint(n.LastAssigned)
	e.varint(n.LastFreed)
	e.varint(n.Released)
	e.uvarint(uint64(len(n.Tenures)))
	for _, t := range n.Tenures {
		e.uvarint(t.Visit)
		e.varint(t.From)
		e.varint(t.Until)
		e.uvarint(uint64(t.Reason))
		e.uvarint(t.Displaced)
	}
}

func (d *decoder) numberRecord(n *allocator.NumberRecord) {
	n.Seq = d.uvarint()
	n.E164 = d.string()
	n.ProviderID = d.string()
	n.Pool = d.uvarint()
	n.Owned = d.bool()
	n.AddedAt = d.varint()
	n.State = allocator.NumberState(d.smallInt())
	line := d.varint()
	if line < -1 || line >= allocator.MaxPoolSize {
		d.fail(fmt.Errorf("line %d out of range", line))
	}
	n.Line = int8(line)
	n.Seen = d.varint()
	n.LastAssigned = d.varint()
	n.LastFreed = d.varint()
	n.Released = d.varint()
	if c := d.count(5); c > 0 {
		n.Tenures = make([]allocator.TenureRecord, c)
		for i := range n.Tenures {
			t := &n.Tenures[i]
			t.Visit = d.uvarint()
			t.From = d.varint()
			t.Until = d.varint()
			t.Reason = allocator.EndReason(d.smallInt())
			t.Displaced = d.uvarint()
		}
	}
}

func (e *encoder) callRecord(c *allocator.CallRecord) {
	e.string(c.SID)
	e.string(c.To)
	e.string(c.From)
	e.string(c.PoolID)
	e.varint(c.StartedAt)
	e.varint(c.UpdatedAt)
	e.string(string(c.Match))
	e.id(c.Visit)
	e.id(c.Also)
	e.bool(c.Attribution != nil)
	if c.Attribution != nil {
		e.attribution(c.Attribution)
	}
	e.bool(c.FirstTime)
	e.string(string(c.Status))
	e.duration(c.Duration)
	e.string(c.AnsweredBy)
	e.bool(c.Whisper)
	e.bool(c.Recorded)
	e.worth(&c.Worth)                    // added later: a record without it has no worth
	e.uvarint(uint64(len(c.Recordings))) // added later still: none
	for i := range c.Recordings {
		e.recording(&c.Recordings[i])
	}
}

func (d *decoder) callRecord(c *allocator.CallRecord) {
	c.SID = d.string()
	c.To = d.string()
	c.From = d.string()
	c.PoolID = d.string()
	c.StartedAt = d.varint()
	c.UpdatedAt = d.varint()
	c.Match = allocator.MatchKind(d.string())
	c.Visit = d.id()
	c.Also = d.id()
	if d.bool() {
		c.Attribution = new(allocator.Attribution)
		d.attribution(c.Attribution)
	}
	c.FirstTime = d.bool()
	c.Status = allocator.CallStatus(d.string())
	c.Duration = d.duration()
	c.AnsweredBy = d.string()
	c.Whisper = d.bool()
	c.Recorded = d.bool()
	if d.more() {
		d.worth(&c.Worth)
	}
	if d.more() {
		c.Recordings = make([]allocator.Recording, d.count(8))
		for i := range c.Recordings {
			d.recording(&c.Recordings[i])
		}
	}
}

// Backup is a snapshot read back, checked and built into the state it
// describes.
type Backup struct {
	Image *Image           // the records as read
	State *allocator.State // the state they make, whole and keeping every rule
	m     *machine
}

// ReadBackup reads a snapshot (a backup or one of Raft's own), checks that
// it makes a whole state that keeps every rule the state machine keeps, and
// builds that state. It is the one way a snapshot comes back in: a node's
// restore, the operator's restore, the bench's last check and the tests.
func ReadBackup(r io.Reader) (*Backup, error) {
	img, err := readSnapshot(r)
	if err != nil {
		return nil, err
	}
	m, err := img.machine()
	if err != nil {
		return nil, err
	}
	if err := m.state.Verify(); err != nil {
		return nil, fmt.Errorf("%w: %w", allocator.ErrCorruptImage, err)
	}
	return &Backup{Image: img, State: m.state, m: m}, nil
}

// Summary says in a few words what the backup holds.
func (b *Backup) Summary() string {
	s := b.Image.State
	return fmt.Sprintf("%d pools, %d numbers, %d visits, %d calls", len(s.Pools), len(s.Numbers), len(s.Visits), len(s.Calls))
}
