package allocator

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math/bits"
)

// VisitID names one visit. The node that accepts a new visit draws it at
// random (128 bits), so ids never collide and never need coordination.
type VisitID [16]byte

// RequestID names one write request. A request retried after an unknown
// outcome carries the same id, which is how the state machine gives it
// exactly one effect.
type RequestID [16]byte

// ErrBadID is returned by the id parsers.
var ErrBadID = errors.New("id must be 32 hexadecimal characters")

func (id VisitID) String() string { return hex.EncodeToString(id[:]) }

// IsZero reports whether id is the zero id, which names no visit.
func (id VisitID) IsZero() bool { return id == VisitID{} }

// ParseVisitID reads the 32-character hexadecimal form String writes.
func ParseVisitID(s string) (VisitID, error) {
	var id VisitID
	if len(s) != 2*len(id) {
		return id, ErrBadID
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, ErrBadID
	}
	return id, nil
}

func (id RequestID) String() string { return hex.EncodeToString(id[:]) }

// hashVisitID mixes all 128 bits (the finaliser of splitmix64), so that ids
// with a pattern, such as a test's counters, spread over the table as well
// as random ones do.
func hashVisitID(id VisitID) uint64 {
	h := binary.LittleEndian.Uint64(id[:8]) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(id[8:]), 29)
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ h>>31
}
