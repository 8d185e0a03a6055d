package dsl_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/dsltest"
)

// compileErr compiles a stage that must fail and returns its error.
func compileErr(t *testing.T, s dsl.Stage) string {
	t.Helper()
	_, err := dsl.Compile(t.Context(), s, dsl.WithResolver(dsltest.NewResolver(nil)))
	require.Error(t, err)
	return err.Error()
}

// at is this file's name and a line, as errors start.
func at(line int) string { return fmt.Sprintf("dsl/location_test.go:%d: ", line) }

// runEmpty is a build helper that marks itself.
func runEmpty(s dsl.Stage) dsl.Stage {
	dsl.Helper()
	return s.Run("")
}

// workdirEmpty is a marked helper that calls another marked helper.
func workdirEmpty(s dsl.Stage) dsl.Stage {
	dsl.Helper()
	return runEmptyVia(s.Workdir(""))
}

func runEmptyVia(s dsl.Stage) dsl.Stage {
	dsl.Helper()
	return runEmpty(s)
}

// runEmptyUnmarked is a helper that does not mark itself.
func runEmptyUnmarked(s dsl.Stage) dsl.Stage {
	return s.Run("") // the line errors point at
}

var unmarkedLine = line() - 3

// builder is a stage built in a function of its own.
func builder() dsl.Stage {
	return dsl.From("golang").As("builder").
		Run("") // the line errors point at
}

var builderLine = line() - 3

func TestErrorsThroughHelpers(t *testing.T) {
	t.Parallel()
	err := compileErr(t, runEmpty(dsl.From("alpine")))
	require.Equal(t, at(line()-1)+"RUN: empty command: invalid argument", err, "a marked helper: its caller's line")

	err = compileErr(t, workdirEmpty(dsl.From("alpine")))
	require.Equal(t, at(line()-1)+"WORKDIR: empty path: invalid argument", err, "marked helpers calling marked helpers")

	err = compileErr(t, runEmptyUnmarked(dsl.From("alpine")))
	require.Equal(t, at(unmarkedLine)+"RUN: empty command: invalid argument", err, "an unmarked helper: its own line")
}

func TestErrorsOfStoredOptions(t *testing.T) {
	t.Parallel()
	bad := dsl.Workdir("")
	madeAt := line() - 1
	err := compileErr(t, dsl.From("alpine").Env("A", "1").With(bad))
	require.Equal(t, at(madeAt)+"WORKDIR: empty path: invalid argument", err, "where the option was made, not where it was applied")
}

func TestErrorsOfAnotherStage(t *testing.T) {
	t.Parallel()
	err := compileErr(t, dsl.From("alpine").
		Copy("/out", "/out", builder()))
	copyLine := line() - 1
	require.Equal(t, at(builderLine)+fmt.Sprintf("RUN: empty command: invalid argument (stage builder, reached from COPY at dsl/location_test.go:%d)", copyLine), err)

	err = compileErr(t, dsl.FromStage(builder()).Run("true"))
	require.Equal(t, at(builderLine)+fmt.Sprintf("RUN: empty command: invalid argument (stage builder, reached from FROM at dsl/location_test.go:%d)", line()-1), err)

	// A FromNamed names the stage it chose as a FromStage does.
	err = compileErr(t, dsl.FromNamed("$BASE", []dsl.Stage{dsl.From("alpine").As("other"), builder()},
		dsl.GlobalArg("BASE", "builder")).Run("true"))
	require.Equal(t, at(builderLine)+fmt.Sprintf("RUN: empty command: invalid argument (stage builder, reached from FROM at dsl/location_test.go:%d)", line()-2), err)
}

func TestSourceMapOfEachOp(t *testing.T) {
	t.Parallel()
	s := dsl.From("alpine").
		Workdir("/src").
		Run("make")
	runLine := line() - 1
	res := compile(t, s)
	src := res.Definition.Source
	require.NotNil(t, src)
	require.Len(t, src.Infos, 1, "one file")
	info := src.Infos[0]
	require.Equal(t, "dsl/location_test.go", info.Filename)
	require.Equal(t, "Go", info.Language)
	self, err := os.ReadFile("location_test.go")
	require.NoError(t, err)
	require.Equal(t, self, info.Data, "the file as it is")

	_, run := parseDef(t, res.Definition)
	require.NotNil(t, run.GetExec())
	dt, err := run.MarshalVT()
	require.NoError(t, err)
	locs := src.Locations[digest.FromBytes(dt).String()]
	require.NotNil(t, locs)
	require.Len(t, locs.Locations, 1)
	require.Equal(t, []*pb.Range{{Start: &pb.Position{Line: int32(runLine)}, End: &pb.Position{Line: int32(runLine)}}}, locs.Locations[0].Ranges)

	// Every op a builder call made is placed: the image, the mkdir, the exec.
	placed := 0
	for _, l := range src.Locations {
		placed += len(l.Locations)
	}
	require.Equal(t, 3, placed)
}

func TestSourceMapKeepsDigests(t *testing.T) {
	t.Parallel()
	// The same build written on one line and on three: same ops, other
	// locations.
	a := compile(t, dsl.From("alpine").Workdir("/src").Run("make"))
	b := compile(t, dsl.From("alpine").
		Workdir("/src").
		Run("make"))
	require.Equal(t, a.Definition.Def, b.Definition.Def)
	require.NotEqual(t, a.Definition.Source, b.Definition.Source)
}

func TestSourceMapIsStable(t *testing.T) {
	t.Parallel()
	s := dsl.From("alpine").Run("make").Copy("a", "/a", dsl.From("golang").Run("go build"))
	var first []byte
	for range 5 {
		res := compile(t, s)
		dt, err := proto.MarshalOptions{Deterministic: true}.Marshal(res.Definition.ToPB())
		require.NoError(t, err)
		if first == nil {
			first = dt
			continue
		}
		require.True(t, bytes.Equal(first, dt), "the same bytes on every compile")
	}
}

// TestSourceMapOfRemoteSources: an ADD's fetch of a URL and checkout of a
// git repository are placed at the ADD's call, as its copy is.
func TestSourceMapOfRemoteSources(t *testing.T) {
	t.Parallel()
	s := dsl.From("alpine").
		AddPaths([]string{"https://example.com/a.tgz", "https://github.com/moby/buildkit.git#v0.34.2"}, "/src/")
	addLine := line() - 1
	res := compile(t, s)
	ops, _ := parseDef(t, res.Definition)
	want := []*pb.Range{{Start: &pb.Position{Line: int32(addLine)}, End: &pb.Position{Line: int32(addLine)}}}
	found := map[string]bool{}
	for dg, op := range ops {
		src := op.GetSource()
		if src == nil {
			continue
		}
		scheme, _, _ := strings.Cut(src.Identifier, "://")
		if scheme != "https" && scheme != "git" {
			continue
		}
		locs := res.Definition.Source.Locations[dg.String()]
		require.NotNil(t, locs, "%s has no source location", src.Identifier)
		require.Len(t, locs.Locations, 1, src.Identifier)
		require.Equal(t, want, locs.Locations[0].Ranges, src.Identifier)
		found[scheme] = true
	}
	require.Equal(t, map[string]bool{"https": true, "git": true}, found, "the fetch and the checkout")
}
