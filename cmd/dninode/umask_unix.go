//go:build unix

package main

import "syscall"

// privateUmask makes every file and directory the process creates from now
// on its user's alone, whatever umask it was started with: Raft creates its
// snapshots with default modes, and they hold every visitor's data.
func privateUmask() { syscall.Umask(0o077) }
