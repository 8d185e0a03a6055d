package driver_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/internal/testenv"
)

// A daemon killed mid-build fails the build with an error that says the
// connection was lost, and leaves no output file; restarted on the same
// state, it builds again and reuses the cache of the steps it finished.
func TestDaemonKilledMidBuild(t *testing.T) {
	env := testenv.Get(t)
	d := startDaemon(t, env, nil, connectReady(t, driver.ConnectOptions{}))
	c, err := driver.Connect(t.Context(), driver.ConnectOptions{Addr: d.addr})
	require.NoError(t, err)
	defer c.Close()

	marker := time.Now().Format(time.RFC3339Nano)
	base := dsl.From("busybox").Run("echo base step " + marker + " > /base")
	slow := base.Run("echo started; sleep 20")
	dir := t.TempDir()
	out := driver.Output{Type: "oci", Dest: filepath.Join(dir, "img.tar")}

	onStatus, started := logSeen("started")
	build := testenv.Start("the build", func() error {
		_, err := c.Build(t.Context(), slow, driver.BuildOptions{
			Outputs: []driver.Output{out}, Progress: "quiet", ProgressOut: io.Discard, OnStatus: onStatus,
		})
		return err
	})
	build.WaitUntil(t, "the slow step has started", 2*time.Minute, started)
	killed := time.Now()
	err = build.Stop(t, time.Minute, d.kill)
	t.Logf("build failed %v after the daemon was killed: %v", time.Since(killed), err)
	require.Error(t, err)
	require.Contains(t, err.Error(), "lost the connection to BuildKit at "+d.addr)
	require.NotContains(t, err.Error(), "\n")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "no partial output file")

	d.start(t, connectReady(t, driver.ConnectOptions{}))
	c2, err := driver.Connect(t.Context(), driver.ConnectOptions{Addr: d.addr})
	require.NoError(t, err)
	defer c2.Close()
	log := newStatusLog()
	res, err := c2.Build(t.Context(), base, driver.BuildOptions{Progress: "quiet", ProgressOut: io.Discard, OnStatus: log.update})
	require.NoError(t, err)
	ops := execAndFileOps(t, res.Compiled.Definition.Def)
	require.Len(t, ops, 1)
	for dgst := range ops {
		require.True(t, log.vertices[dgst].Cached, "the step finished before the kill is cached after the restart")
	}
}

// One Client runs many builds at once: eight different programs all
// succeed, and eight copies of one build share a single run of its step.
func TestConcurrentBuilds(t *testing.T) {
	env := testenv.Get(t)
	c, err := driver.Connect(t.Context(), driver.ConnectOptions{Addr: env.BuildkitHost})
	require.NoError(t, err)
	defer c.Close()
	marker := time.Now().Format(time.RFC3339Nano)

	build := func(s dsl.Stage) (string, error) {
		dest := filepath.Join(t.TempDir(), "out")
		out := driver.Output{Type: "local", Dest: dest}
		if _, err := c.Build(t.Context(), s, driver.BuildOptions{Outputs: []driver.Output{out}, Progress: "quiet", ProgressOut: io.Discard}); err != nil {
			return "", err
		}
		dt, err := os.ReadFile(filepath.Join(dest, "result"))
		return string(dt), err
	}
	run8 := func(stage func(i int) dsl.Stage) []string {
		var wg sync.WaitGroup
		results := make([]string, 8)
		errs := make([]error, 8)
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = build(stage(i))
			}()
		}
		wg.Wait()
		for i, err := range errs {
			require.NoError(t, err, "build %d", i)
		}
		return results
	}

	t.Run("different programs", func(t *testing.T) {
		got := run8(func(i int) dsl.Stage {
			return dsl.From("busybox").Run(fmt.Sprintf("echo program %d %s > /result", i, marker))
		})
		for i, r := range got {
			require.Equal(t, fmt.Sprintf("program %d %s\n", i, marker), r)
		}
	})
	t.Run("the same build", func(t *testing.T) {
		// A random value per run: eight equal results mean one run.
		s := dsl.From("busybox").Run("echo " + marker + " >/dev/null; cat /proc/sys/kernel/random/uuid > /result")
		got := run8(func(int) dsl.Stage { return s })
		require.Len(t, got[0], 37)
		for i, r := range got {
			require.Equal(t, got[0], r, "build %d ran the step again", i)
		}
	})
}
