package testkit

import (
	"errors"
	"testing"
	"time"
)

// Patience bounds every wait: generous, because the machines that run the
// tests are small and busy. Waits end as soon as what they wait for
// happens, so a passing test never pays for it.
const Patience = 20 * time.Second

// Eventually waits until cond says that what the test waits for has
// happened (true, or a nil error), checking every 10 ms, and fails the test
// once Patience has passed, saying what it waited for and, for a cond that
// returns errors, why the last check said not yet.
func Eventually[C func() bool | func() error](t testing.TB, what string, cond C) {
	t.Helper()
	EventuallyWithin(t, Patience, what, cond)
}

// EventuallyWithin is Eventually with a bound of its own, for what takes
// longer than Patience by nature (containers starting).
func EventuallyWithin[C func() bool | func() error](t testing.TB, within time.Duration, what string, cond C) {
	t.Helper()
	var check func() error
	switch c := any(cond).(type) {
	case func() bool:
		check = func() error {
			if !c() {
				return errNotYet
			}
			return nil
		}
	case func() error:
		check = c
	}
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			if err == errNotYet {
				t.Fatalf("waited %v for %s", within, what)
			}
			t.Fatalf("waited %v for %s: %v", within, what, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var errNotYet = errors.New("not yet")
