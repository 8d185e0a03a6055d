package driver_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

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
