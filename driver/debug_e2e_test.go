package driver_test

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/internal/testenv"
)

// A failed step that runs no command has no container: OnError says so,
// runs nothing, and the build's error stays. A build that fails before any
// step runs gets its error alone.
func TestOnErrorWithoutRunSaysSo(t *testing.T) {
	c := connect(t)
	var out, notice strings.Builder
	s := dsl.From("busybox").Copy("no-such-file-"+time.Now().Format("150405.000000000"), "/x")
	_, err := c.Build(t.Context(), s, driver.BuildOptions{
		Progress: "quiet", ProgressOut: &strings.Builder{}, ContextDir: t.TempDir(),
		OnError: &driver.DebugShell{Args: []string{"echo", "ran"}, Stdout: &out, Notice: &notice},
	})
	require.ErrorContains(t, err, "no-such-file")
	require.Equal(t, "no shell: the step that failed runs no command (only a failed RUN has a container to open)\n", notice.String())
	require.Empty(t, out.String())

	notice.Reset()
	_, err = c.Build(t.Context(), dsl.From("busybox").Env("", "x"), driver.BuildOptions{
		Progress: "quiet", ProgressOut: &strings.Builder{},
		OnError: &driver.DebugShell{Args: []string{"echo", "ran"}, Stdout: &out, Notice: &notice},
	})
	require.Error(t, err, "a compile error")
	require.Empty(t, notice.String(), "no step failed: nothing to say")
	require.Empty(t, out.String())
}

// firstWrite records when its first byte arrives.
type firstWrite struct {
	mu sync.Mutex
	at time.Time
}

func (w *firstWrite) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.at.IsZero() && len(p) > 0 {
		w.at = time.Now()
	}
	return len(p), nil
}

// BenchmarkOnErrorReachesShell is how long a failed RUN takes to give a
// command in its container: from the daemon's end of the failed step to
// the first output of `echo` run there by OnError (ms-to-output, the
// median over the iterations). The anchor, in the same run, is the failing
// step itself, from its start to its failure (ms-step), and the whole
// failing build without OnError:
//
//	./hack/env -- go test -run '^$' -bench OnErrorReachesShell -benchtime 10x -count 5 ./driver/
func BenchmarkOnErrorReachesShell(b *testing.B) {
	env := testenv.Get(b)
	c, err := driver.Connect(b.Context(), driver.ConnectOptions{Addr: env.BuildkitHost})
	require.NoError(b, err)
	defer c.Close()
	// Failed steps are not cached: every iteration runs the step again.
	s := dsl.From("busybox").Run("echo data > /f; exit 1")
	build := func(b *testing.B, sh *driver.DebugShell) (started, failed time.Time) {
		var mu sync.Mutex
		_, err := c.Build(b.Context(), s, driver.BuildOptions{
			Progress: "quiet", ProgressOut: &strings.Builder{}, OnError: sh,
			OnStatus: func(st *client.SolveStatus) {
				mu.Lock()
				defer mu.Unlock()
				for _, v := range st.Vertexes {
					if v.Error != "" && v.Completed != nil && v.Started != nil && failed.IsZero() {
						started, failed = *v.Started, *v.Completed
					}
				}
			},
		})
		require.ErrorContains(b, err, "exit code: 1")
		mu.Lock()
		defer mu.Unlock()
		require.False(b, failed.IsZero(), "the failed step was reported")
		return started, failed
	}
	build(b, nil) // pulls the image
	median := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)/2].Microseconds()) / 1000
	}
	b.Run("without", func(b *testing.B) {
		var steps []time.Duration
		for b.Loop() {
			started, failed := build(b, nil)
			steps = append(steps, failed.Sub(started))
		}
		b.ReportMetric(median(steps), "ms-step")
	})
	b.Run("exec", func(b *testing.B) {
		var steps, toOutput []time.Duration
		for b.Loop() {
			out := &firstWrite{}
			started, failed := build(b, &driver.DebugShell{Args: []string{"echo", "ready"}, Stdout: out})
			require.False(b, out.at.IsZero(), "the command printed")
			steps = append(steps, failed.Sub(started))
			toOutput = append(toOutput, out.at.Sub(failed))
		}
		b.ReportMetric(median(steps), "ms-step")
		b.ReportMetric(median(toOutput), "ms-to-output")
	})
}
