// Package allocator is dni's domain, held in memory: pools of tracking
// numbers, the visits holding them, and the calls matched to those visits.
// It hands a new visit the number free the longest (O(1), no allocation
// beyond the visit itself), keeps heartbeats to one atomic store, ends idle
// visits without scanning them, and says which visit a call to a number
// belongs to.
//
// It does no I/O, reads no clock and draws no random number: every write
// takes its time and ids as arguments, so the Raft replicas that feed it the
// same commands (package fsm) reach the same state. One goroutine writes;
// any number read beside it without a lock. DESIGN.md says how.
package allocator
