package main

import (
	"os"
	"path/filepath"
	"testing"
)

// fakeRoot lays out the files cgroupMemoryLimit reads under a directory.
func fakeRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestTheMemoryLimitIsReadFromTheProcesssOwnCgroup(t *testing.T) {
	for _, c := range []struct {
		name  string
		files map[string]string
		limit int64
		ok    bool
	}{
		{"a systemd service with MemoryMax (v2)", map[string]string{
			"proc/self/cgroup":                                  "0::/system.slice/dni.service\n",
			"sys/fs/cgroup/memory.max":                          "max\n",
			"sys/fs/cgroup/system.slice/dni.service/memory.max": "2147483648\n",
		}, 2 << 30, true},
		{"a container (v2, its cgroup at the root)", map[string]string{
			"proc/self/cgroup":         "0::/\n",
			"sys/fs/cgroup/memory.max": "536870912\n",
		}, 512 << 20, true},
		{"no limit (v2)", map[string]string{
			"proc/self/cgroup":                    "0::/user.slice\n",
			"sys/fs/cgroup/user.slice/memory.max": "max\n",
		}, 0, false},
		{"a container (v1)", map[string]string{
			"proc/self/cgroup": "4:memory:/docker/abc\n1:cpu:/docker/abc\n0::/\n",
			"sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "1073741824\n",
		}, 1 << 30, true},
		{"no limit (v1)", map[string]string{
			"proc/self/cgroup":                           "4:memory:/\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
		}, 0, false},
		{"no cgroup files at all", map[string]string{}, 0, false},
	} {
		limit, ok := cgroupMemoryLimit(fakeRoot(t, c.files))
		if limit != c.limit || ok != c.ok {
			t.Errorf("%s: %d %v, want %d %v", c.name, limit, ok, c.limit, c.ok)
		}
	}
}
