package driver

import (
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/require"
)

// multiStage is a two-stage build whose ops carry the lines of a Go file,
// as a source map records them: FROM at 5, the builder's RUNs at 6 and 7,
// the final COPY from it at 10. steps are the ops' digests by line.
func multiStage(t *testing.T) (def *llb.Definition, steps map[int32]digest.Digest) {
	t.Helper()
	sm := llb.NewSourceMap(nil, "examples/multi/main.go", "Go", nil)
	at := func(line int32) llb.ConstraintsOpt {
		return sm.Location([]*pb.Range{{Start: &pb.Position{Line: line}, End: &pb.Position{Line: line}}})
	}
	base := llb.Image("busybox", at(5))
	one := base.Run(llb.Shlex("touch /one"), at(6)).Root()
	two := one.Run(llb.Shlex("touch /two"), at(7)).Root()
	final := base.File(llb.Copy(two, "/one", "/one"), at(10))
	def, err := final.Marshal(t.Context())
	require.NoError(t, err)
	steps = map[int32]digest.Digest{}
	for line, st := range map[int32]llb.State{5: base, 6: one, 7: two, 10: final} {
		d, err := st.Marshal(t.Context())
		require.NoError(t, err)
		var op pb.Op
		require.NoError(t, op.Unmarshal(d.Def[len(d.Def)-1]))
		steps[line] = digest.Digest(op.Inputs[0].Digest)
	}
	return def, steps
}

func TestFindStepByLine(t *testing.T) {
	t.Parallel()
	def, steps := multiStage(t)
	for _, line := range []int32{5, 6, 7, 10} {
		got, err := findStep(def, "main.go", int(line))
		require.NoError(t, err)
		require.Equal(t, steps[line], got, "line %d", line)
	}
	for _, name := range []string{"examples/multi/main.go", "/src/app/examples/multi/main.go", "multi/main.go", "./main.go"} {
		got, err := findStep(def, name, 7)
		require.NoError(t, err, name)
		require.Equal(t, steps[7], got, name)
	}
}

func TestFindStepErrors(t *testing.T) {
	t.Parallel()
	def, _ := multiStage(t)
	_, err := findStep(def, "main.go", 8)
	require.EqualError(t, err, "finding the step at main.go:8: line 8 makes no step; the lines of main.go that do: 5, 6, 7, 10")
	_, err = findStep(def, "other.go", 3)
	require.EqualError(t, err, "finding the step at other.go:3: no step of the build was made in other.go; the files that did: examples/multi/main.go")
	plain, err := llb.Image("busybox").Marshal(t.Context())
	require.NoError(t, err)
	_, err = findStep(plain, "main.go", 3)
	require.ErrorContains(t, err, "the build carries no source locations")
}
