package driver

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// What differs between two tar entries of one path is named, all of it.
func TestEntryDiff(t *testing.T) {
	t.Parallel()
	a := tarEntry{typ: '0', mode: 0o644, uid: 0, gid: 0, mtime: 1}
	require.Empty(t, entryDiff(a, a))
	b := a
	b.sum[0] = 1
	b.mode = 0o755
	b.uid = 1000
	b.mtime = 2
	require.Equal(t, "content, mode (644, 755), owner (0:0, 1000:0), time", entryDiff(a, b))
}

// Config fields that differ are named, those under "config" with its prefix.
func TestDiffJSONFields(t *testing.T) {
	t.Parallel()
	a := `{"created":"1","config":{"Env":["A=1"],"Cmd":["x"]},"rootfs":{}}`
	b := `{"created":"2","config":{"Env":["A=2"],"Cmd":["x"]},"rootfs":{},"history":[]}`
	require.Equal(t, []string{"config.Env", "created", "history"}, diffJSONFields([]byte(a), []byte(b)))
}
