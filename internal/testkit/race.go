//go:build race

package testkit

// raceEnabled: the tests run under the race detector, and so do the
// processes they start.
const raceEnabled = true
