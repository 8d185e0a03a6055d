package driver

import (
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/internal/testenv"
)

// Debug stops at the step a line made: at the builder's first RUN (line 6)
// its file is there and the next RUN's is not; at the final COPY (line 10)
// the copied file is there, and only it. A line that made no step lists
// the lines that did.
func TestDebugStopsAtTheLinesStep(t *testing.T) {
	env := testenv.Get(t)
	c, err := Connect(t.Context(), ConnectOptions{Addr: env.BuildkitHost})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	def, _ := multiStage(t)
	op, err := llb.NewDefinitionOp(def.ToPB())
	require.NoError(t, err)
	stage := dsl.FromLLB(llb.NewState(op))
	look := []string{"sh", "-c", "for f in /one /two; do [ -e $f ] && echo $f; done; echo end"}
	debug := func(file string, line int) (string, string, error) {
		var out, notice strings.Builder
		_, err := c.Debug(t.Context(), stage, DebugOptions{
			Build: BuildOptions{Progress: "quiet", ProgressOut: &strings.Builder{}},
			File:  file, Line: line,
			Shell: DebugShell{Args: look, Stdout: &out, Notice: &notice},
		})
		return out.String(), notice.String(), err
	}
	out, notice, err := debug("main.go", 6)
	require.NoError(t, err)
	require.Equal(t, "/one\nend\n", out, "the first RUN ran, the second did not")
	require.Contains(t, notice, "touch /one")
	out, _, err = debug("examples/multi/main.go", 10)
	require.NoError(t, err)
	require.Equal(t, "/one\nend\n", out, "the COPY brought /one alone")
	out, _, err = debug("", 0)
	require.NoError(t, err)
	require.Equal(t, "/one\nend\n", out, "the last step is the COPY")
	_, _, err = debug("main.go", 8)
	require.EqualError(t, err, "finding the step at main.go:8: line 8 makes no step; the lines of main.go that do: 5, 6, 7, 10")
}
