package driver_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/dsl"
)

// A second build of the same context sends only what changed: the daemon
// keeps the context from the first build and fsutil syncs the difference.
func TestSecondBuildSendsOnlyTheChangedFile(t *testing.T) {
	c := connect(t)
	ctxDir := t.TempDir()
	const files, size = 16, 256 << 10
	for i := range files {
		dt := bytes.Repeat([]byte{byte('a' + i)}, size)
		require.NoError(t, os.WriteFile(filepath.Join(ctxDir, fmt.Sprintf("f%02d.bin", i)), dt, 0o644))
	}
	// The marker keeps the steps out of the cache of other runs.
	marker := time.Now().Format(time.RFC3339Nano)
	stage := dsl.From("busybox").Copy(".", "/ctx/").Run("echo " + marker + " && ls /ctx | wc -l")
	build := func() int64 {
		var meter transferMeter
		_, err := c.Build(t.Context(), stage, driver.BuildOptions{
			ContextDir: ctxDir, Progress: "quiet", ProgressOut: io.Discard, OnStatus: meter.OnStatus,
		})
		require.NoError(t, err)
		return meter.Sent()
	}
	first := build()
	require.Greater(t, first, int64(files*size), "the first build sends the whole context")

	changed := bytes.Repeat([]byte("z"), 1024)
	require.NoError(t, os.WriteFile(filepath.Join(ctxDir, "f07.bin"), changed, 0o644))
	second := build()
	t.Logf("context transfer: first build %d bytes, after changing one 1 KiB file %d bytes", first, second)
	require.Positive(t, second, "the changed file is sent")
	require.Less(t, second, int64(64<<10), "only about the changed file is sent, not the other %d files", files-1)
}

// A context directory removed while the daemon reads it fails the build
// with one line naming it, and leaves no output file: the walk or an open
// finds it gone (guard_test.go), or, when it went while the walk listed it
// and what was listed could still be opened, the check after the solve
// does. A partial context is never a result.
func TestContextVanishesDuringTransfer(t *testing.T) {
	c := connect(t)
	ctxDir := t.TempDir()
	// A sparse file takes a moment to send; the small files are opened
	// when the daemon asks for them.
	big, err := os.Create(filepath.Join(ctxDir, "a-big.bin"))
	require.NoError(t, err)
	require.NoError(t, big.Truncate(128<<20))
	require.NoError(t, big.Close())
	for i := range 64 {
		require.NoError(t, os.WriteFile(filepath.Join(ctxDir, fmt.Sprintf("f%02d.txt", i)), []byte("small"), 0o644))
	}
	marker := time.Now().Format(time.RFC3339Nano)
	stage := dsl.From("busybox").Copy(".", "/ctx/").Run("echo " + marker)
	outDir := t.TempDir()
	out := driver.Output{Type: "oci", Dest: filepath.Join(outDir, "img.tar")}

	var once sync.Once
	_, err = c.Build(t.Context(), stage, driver.BuildOptions{
		ContextDir: ctxDir, Outputs: []driver.Output{out}, Progress: "quiet", ProgressOut: io.Discard,
		OnStatus: func(st *client.SolveStatus) {
			for _, s := range st.Statuses {
				if strings.HasPrefix(s.ID, "transferring") {
					once.Do(func() { os.RemoveAll(ctxDir) })
				}
			}
		},
	})
	require.Error(t, err, "a build whose context vanished has no result")
	t.Logf("error: %v", err)
	require.NotContains(t, err.Error(), "\n", "one line")
	require.Contains(t, err.Error(), "build context "+ctxDir+" vanished during the build")
	entries, err := os.ReadDir(outDir)
	require.NoError(t, err)
	require.Empty(t, entries, "no partial output file")
}
