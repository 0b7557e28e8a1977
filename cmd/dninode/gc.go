package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// defaultGCPercent is the garbage collector's target a node runs with
// unless GOGC says otherwise. A node's live heap is mostly its state,
// which the collector marks on every cycle, and a cycle starts each time
// the heap has grown by GOGC% of it: the marking a node pays per new
// visit falls as GOGC rises. 400 cut the collector from a fifth of a
// saturated node's CPU to about 6% (BENCHMARKS.md), for a heap up to
// five times the live state between cycles; a memory limit caps that
// (memoryLimitShare, docs/operations.md, "Memory").
const defaultGCPercent = 400

// memoryLimitShare is the share of its cgroup's memory limit (a
// container's, or systemd's MemoryMax) a node lets its heap reach before
// the collector works harder, unless GOMEMLIMIT says otherwise. The rest
// is the room the runtime, the page cache of bolt's file and the stacks
// need, and a margin before the kernel's out-of-memory killer.
const memoryLimitShare = 0.8

// tuneGC applies defaultGCPercent unless the operator set GOGC, and a
// memory limit of memoryLimitShare of the cgroup's unless GOMEMLIMIT is
// set or the cgroup has none.
func tuneGC(log *slog.Logger) {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		return
	}
	if limit, ok := cgroupMemoryLimit("/"); ok {
		soft := int64(float64(limit) * memoryLimitShare)
		debug.SetMemoryLimit(soft)
		log.Info("the heap's soft limit follows the cgroup's memory limit", "cgroup_limit_bytes", limit, "gomemlimit_bytes", soft)
	}
}

// cgroupMemoryLimit reads the memory limit of the process's cgroup, under
// root (the file system's root; a test gives another): cgroup v2's
// memory.max, else v1's memory.limit_in_bytes. ok is false where there is
// none ("max", or v1's near-2⁶³ stand-in for none) or it cannot be read.
func cgroupMemoryLimit(root string) (limit int64, ok bool) {
	own, err := os.ReadFile(filepath.Join(root, "proc/self/cgroup"))
	if err != nil {
		return 0, false
	}
	var files []string
	for _, line := range strings.Split(string(own), "\n") {
		// hierarchy-id:controllers:path; v2 is "0::/path".
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			files = append(files, filepath.Join(root, "sys/fs/cgroup", parts[2], "memory.max"))
		case strings.Contains(","+parts[1]+",", ",memory,"):
			files = append(files, filepath.Join(root, "sys/fs/cgroup/memory", parts[2], "memory.limit_in_bytes"))
		}
	}
	// In a container the cgroup's own files are often at the root.
	files = append(files, filepath.Join(root, "sys/fs/cgroup/memory.max"), filepath.Join(root, "sys/fs/cgroup/memory/memory.limit_in_bytes"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || n <= 0 || n >= 1<<62 {
			return 0, false // "max", or v1's stand-in for none
		}
		return n, true
	}
	return 0, false
}
