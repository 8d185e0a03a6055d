package explain

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkStatCacheLoad: reading a warm stat cache of 10,000 files, as
// each plan and each recorded build does once.
func BenchmarkStatCacheLoad(b *testing.B) {
	p := filepath.Join(b.TempDir(), "stat.json")
	c := LoadStatCache(p)
	for i := range 10000 {
		c.entries[fmt.Sprintf("/home/user/project/src/d%02d/f%05d", i%100, i)] = statEntry{Size: 20480, Mtime: 1765152000123456789, Ino: 0, Digest: "sha256:" + fmt.Sprintf("%064x", i)}
	}
	c.dirty = true
	require.NoError(b, c.Save())
	for b.Loop() {
		require.Len(b, LoadStatCache(p).entries, 10000)
	}
}
