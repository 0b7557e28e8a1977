package testkit

import (
	"os"
	"testing"
)

// Main runs a package's tests and then removes what they shared: the
// browser and the binaries built. A package whose tests use Browser or
// Binary calls it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	closeBrowser()
	if binaries.dir != "" {
		os.RemoveAll(binaries.dir)
	}
	os.Exit(code)
}
