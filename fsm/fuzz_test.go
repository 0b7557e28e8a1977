package fsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
	"time"

	"github.com/dni-dev/dni/allocator"
)

// FuzzDecode feeds arbitrary bytes to the command decoder: it must return a
// command or an error, never panic, and a command it returns must encode
// back to the same bytes.
func FuzzDecode(f *testing.F) {
	for _, c := range newCommandGen(11).commands(200) {
		f.Add(Encode(c))
	}
	f.Add([]byte{})
	f.Add(append([]byte{byte(TypeCreateToken)}, oldCreateToken(token("old", ""))...))
	f.Add([]byte{byte(TypeBatch), 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{byte(TypeTouch), 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Decode(b)
		if err != nil {
			if c != nil {
				t.Fatal("a failed decode returned a command")
			}
			return
		}
		if hasSkipped(c) {
			return
		}
		again, err := Decode(Encode(c))
		if err != nil {
			t.Fatalf("re-decoding an encoded command: %v", err)
		}
		if !bytes.Equal(Encode(again), Encode(c)) {
			t.Fatal("a decoded command does not encode stably")
		}
	})
}

func hasSkipped(c Command) bool {
	if b, ok := c.(*Batch); ok {
		for _, sub := range b.Commands {
			if _, ok := sub.(skipped); ok {
				return true
			}
		}
	}
	return false
}

// FuzzReadSnapshot feeds arbitrary bytes to ReadBackup (the snapshot
// reader, then allocator.Import and Verify): corrupt input is an error,
// never a panic or a hang.
func FuzzReadSnapshot(f *testing.F) {
	for seed := uint64(1); seed <= 3; seed++ {
		fsm := New(nil)
		fsm.ApplyBatch(logs(newCommandGen(seed).commands(40*int(seed)), 1))
		f.Add(snapshotBytes(f, fsm))
	}
	f.Add([]byte(snapshotMagic))
	f.Fuzz(checkSnapshotReader)
}

// FuzzSnapshotRecords is FuzzReadSnapshot with the header and checksum made
// right, so the fuzzer gets past the checksum to the records and Import.
func FuzzSnapshotRecords(f *testing.F) {
	for seed := uint64(1); seed <= 3; seed++ {
		fsm := New(nil)
		fsm.ApplyBatch(logs(newCommandGen(seed).commands(40*int(seed)), 1))
		b := snapshotBytes(f, fsm)
		f.Add(b[len(snapshotMagic)+1 : len(b)-6])
	}
	withUsage := New(nil)
	withUsage.ApplyBatch(logs(usageLog(), 1))
	b := snapshotBytes(f, withUsage)
	f.Add(b[len(snapshotMagic)+1 : len(b)-6])
	f.Fuzz(func(t *testing.T, records []byte) {
		b := append([]byte(snapshotMagic), SnapshotVersion)
		b = append(b, records...)
		crc := crc32.Checksum(b, castagnoli)
		b = append(b, byte(recordEnd), 4)
		b = binary.BigEndian.AppendUint32(b, crc)
		checkSnapshotReader(t, b)
	})
}

func checkSnapshotReader(t *testing.T, b []byte) {
	backup, err := ReadBackup(bytes.NewReader(b))
	if err != nil {
		if !errors.Is(err, allocator.ErrCorruptImage) && !errors.Is(err, ErrBadSnapshot) {
			t.Fatalf("error does not wrap ErrCorruptImage or ErrBadSnapshot: %v", err)
		}
		return
	}
	// A state that restored must work: expire everything, then snapshot.
	backup.State.Expire(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC))
	var out bytes.Buffer
	if err := WriteSnapshot(&out, &Image{State: backup.State.Export(), Nodes: backup.Image.Nodes}); err != nil {
		t.Fatal(err)
	}
}

// FuzzDecodeReceipts feeds arbitrary bytes to the receipt decoder, which
// reads what a leader answers a forwarded batch.
func FuzzDecodeReceipts(f *testing.F) {
	fsm := New(nil)
	for _, l := range logs(newCommandGen(12).commands(100), 1) {
		if r, ok := fsm.Apply(l).(Result); ok {
			f.Add(EncodeReceipts(ReceiptsOf(l.Index, r)))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := DecodeReceipts(b)
		if err != nil {
			return
		}
		rs2, err := DecodeReceipts(EncodeReceipts(rs))
		if err != nil || len(rs2) != len(rs) {
			t.Fatalf("receipts do not survive a second round: %v", err)
		}
		for i := range rs {
			if rs2[i].Index != rs[i].Index {
				t.Fatalf("receipt %d: index %d became %d", i, rs[i].Index, rs2[i].Index)
			}
		}
	})
}
