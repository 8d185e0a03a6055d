package driver_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/dsl"
)

// The build context is the directory given: Copy reads from it, and only
// the files the build uses are sent (the transfer size comes from the
// progress status): of a 1 GiB context (sparse, so the test is cheap) the
// 1 KiB file the build copies is about all that goes.
func TestBuildContextSendsOnlyWhatIsCopied(t *testing.T) {
	c := connect(t)
	ctxDir := t.TempDir()
	content := "hello from the context " + time.Now().Format(time.RFC3339Nano) + "\n"
	content += strings.Repeat("x", 1023-len(content)) + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(ctxDir, "hello.txt"), []byte(content), 0o644))
	big, err := os.Create(filepath.Join(ctxDir, "unused.bin"))
	require.NoError(t, err)
	require.NoError(t, big.Truncate(1<<30))
	require.NoError(t, big.Close())

	var meter transferMeter
	out := filepath.Join(t.TempDir(), "out")
	o := driver.Output{Type: "local", Dest: out}
	stage := dsl.From("busybox").Copy("hello.txt", "/srv/hello.txt").Run("cat /srv/hello.txt > /srv/copy.txt")
	_, err = c.Build(t.Context(), stage, driver.BuildOptions{
		ContextDir: ctxDir, Outputs: []driver.Output{o}, Progress: "quiet", ProgressOut: io.Discard,
		OnStatus: meter.OnStatus,
	})
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join(out, "srv", "copy.txt"))
	require.NoError(t, err)
	require.Equal(t, content, string(got))
	sent := meter.Sent()
	t.Logf("context transfer: %d bytes", sent)
	require.Positive(t, sent, "the context was transferred")
	require.Less(t, sent, int64(4<<10), "about the 1 KiB file is sent, not the unused 1 GiB")

	_, err = c.Build(t.Context(), stage, driver.BuildOptions{ContextDir: filepath.Join(ctxDir, "missing"), Progress: "quiet", ProgressOut: io.Discard})
	require.ErrorContains(t, err, "build context: stat "+filepath.Join(ctxDir, "missing"))
}
