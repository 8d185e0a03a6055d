package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/moby/buildkit/solver/pb"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/internal/explain"
	"github.com/slipway-build/slipway/internal/testenv"
)

// runJSON runs a single-image program and decodes explain's or plan's JSON.
func runJSON(t *testing.T, build func() dsl.Stage, args ...string) ([]explain.Line, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := Run(t.Context(), flag.NewFlagSet("prog", flag.ContinueOnError), args, build, &stdout, &stderr)
	code := exitCode(err, &stderr)
	var lines []explain.Line
	if code == 0 && stdout.Len() > 0 && stdout.Bytes()[0] == '[' {
		require.NoError(t, json.Unmarshal(stdout.Bytes(), &lines), stdout.String())
	}
	return lines, stderr.String(), code
}

// TestFailedBuildIsExplained: a failed build keeps a record, and explain
// says why the failed step ran, that it failed, and which steps it never
// reached.
func TestFailedBuildIsExplained(t *testing.T) {
	env := testenv.Get(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	cmd := "echo one > /one"
	build := func() dsl.Stage {
		return dsl.From("busybox").Run("echo base > /base").Run(cmd).Run("echo after > /after")
	}
	flags := []string{"--addr", env.BuildkitHost, "--progress", "quiet", "--context", t.TempDir(), "--output", "type=cacheonly"}
	_, stderr, code := runJSON(t, build, append(flags, "build")...)
	require.Equal(t, 0, code, stderr)

	cmd = "echo two; exit 3"
	_, stderr, code = runJSON(t, build, append(flags, "build")...)
	require.Equal(t, 1, code, stderr)
	lines, stderr, code := runJSON(t, build, append(flags, "--format", "json", "--all-steps", "explain")...)
	require.Equal(t, 0, code, stderr)
	failed := findLine(t, lines, "exit 3")
	require.Equal(t, explain.Failed, failed.State, "%+v", failed)
	require.Equal(t, "command", failed.Cause, "%+v", failed)
	require.Contains(t, failed.Error, "exit code: 3")
	require.Equal(t, explain.Cached, findLine(t, lines, "echo base").State)
	require.Equal(t, explain.NotReached, findLine(t, lines, "echo after").State)

	var stdout bytes.Buffer
	err := Run(t.Context(), flag.NewFlagSet("prog", flag.ContinueOnError), append(flags, "explain"), build, &stdout, &bytes.Buffer{})
	require.NoError(t, err)
	require.Contains(t, stdout.String(), "failed    [stage-0 3/4] RUN echo two; exit 3")
	require.Contains(t, stdout.String(), "the build failed:")
}

// TestEveryPlatformIsRecorded: a build of two platforms keeps a record of
// each, and explain lists both platforms' steps and why they ran.
func TestEveryPlatformIsRecorded(t *testing.T) {
	env := testenv.Get(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "app"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "app", "a.txt"), []byte("a"), 0o644))
	build := func() dsl.Stage { return dsl.From("scratch").Copy("app", "/app") }
	flags := []string{"--addr", env.BuildkitHost, "--progress", "quiet", "--context", dir, "--output", "type=cacheonly",
		"--platform", "linux/amd64,linux/386"}
	for _, content := range []string{"a", "b"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "app", "a.txt"), []byte(content), 0o644))
		_, stderr, code := runJSON(t, build, append(flags, "build")...)
		require.Equal(t, 0, code, stderr)
	}
	st, err := explain.DefaultStore(programName(), "")
	require.NoError(t, err)
	records, err := st.Load()
	require.NoError(t, err)
	latest := explain.Latest(records)
	require.Len(t, latest, 2)
	require.ElementsMatch(t, []string{"linux/amd64", "linux/386"}, []string{latest[0].Platform, latest[1].Platform})

	lines, stderr, code := runJSON(t, build, append(flags, "--format", "json", "explain")...)
	require.Equal(t, 0, code, stderr)
	seen := map[string]string{}
	for _, l := range lines {
		if l.State == explain.Runs {
			seen[l.Platform] = l.Cause
		}
	}
	require.Equal(t, map[string]string{"linux/amd64": explain.CauseContext, "linux/386": explain.CauseContext}, seen, "%+v", lines)
}

// TestProgramTargetsAreRecorded: each target of a Program keeps its own
// records, though its definition names the session shared by the targets
// (new at every run), so plan and explain of a target work.
func TestProgramTargetsAreRecorded(t *testing.T) {
	env := testenv.Get(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.txt"), []byte("a"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b.txt"), []byte("b"), 0o644))
	p := Program{Targets: []Target{
		{Name: "a", Build: dsl.From("busybox").Copy("a.txt", "/a.txt").Run("cat /a.txt > /copy")},
		{Name: "b", Build: dsl.From("busybox").Copy("b.txt", "/b.txt").Run("cat /b.txt > /copy")},
	}}
	run := func(args ...string) (string, string, int) {
		var stdout, stderr bytes.Buffer
		args = append([]string{"--addr", env.BuildkitHost, "--progress", "quiet", "--context", dir, "--set", "*.output=type=cacheonly"}, args...)
		err := p.Run(t.Context(), flag.NewFlagSet("prog", flag.ContinueOnError), args, &stdout, &stderr)
		return stdout.String(), stderr.String(), exitCode(err, &stderr)
	}
	lines := func(args ...string) []explain.Line {
		stdout, stderr, code := run(append(args, "--format", "json")...)
		require.Equal(t, 0, code, stderr)
		var l []explain.Line
		require.NoError(t, json.Unmarshal([]byte(stdout), &l), stdout)
		return l
	}
	for range 2 {
		_, stderr, code := run("build")
		require.Equal(t, 0, code, stderr)
	}
	require.Nil(t, explain.FirstRun(lines("explain", "a")), "the second build of a is cached")
	require.Nil(t, explain.FirstRun(lines("plan", "b")), "nothing changed for b")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.txt"), []byte("A "+marker()), 0o644)) // new to the daemon, also under -count
	planned := lines("plan", "a")
	require.NotEqual(t, explain.Cached, findLine(t, planned, "cat /a.txt").State, "%+v", planned)
	require.Nil(t, explain.FirstRun(lines("plan", "b")), "b does not read a.txt")
	_, stderr, code := run("build")
	require.Equal(t, 0, code, stderr)
	l := findLine(t, lines("explain", "a"), "COPY a.txt")
	require.Equal(t, explain.Runs, l.State)
	require.Equal(t, explain.CauseContext, l.Cause, l.Reason)
	require.Nil(t, explain.FirstRun(lines("explain", "b")))
}

// TestRecordReadsTheFileSyncWalk: a build keeps the file sync's walk of its
// context, and a record made from it lists what the daemon got (a file
// removed after the build is still listed), the same list as a walk of the
// disk made before, for each local source, .dockerignore applied.
func TestRecordReadsTheFileSyncWalk(t *testing.T) {
	env := testenv.Get(t)
	dir := t.TempDir()
	for p, s := range map[string]string{"app/a.txt": "a", "app/sub/b.txt": "b", "app/x.log": "x", "top.txt": "t", "unread/u.txt": "u", ".dockerignore": "*/*.log\n"} {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, p), []byte(s), 0o644))
	}
	c, err := driver.Connect(t.Context(), driver.ConnectOptions{Addr: env.BuildkitHost})
	require.NoError(t, err)
	defer c.Close()
	var walks explain.Walks
	so := driver.BuildOptions{ContextDir: dir, Progress: "quiet", WrapContext: walks.Wrap}
	stage := dsl.From("busybox").Copy("app", "/app").Copy("top.txt", "/top.txt").Run("cat /app/a.txt /top.txt > /out")
	res, err := c.Build(t.Context(), stage, so)
	require.NoError(t, err)
	require.True(t, walks.Walked("context"), "the daemon's file sync walked the context")

	g, err := (&explain.Record{Definition: mustMarshal(t, res.Compiled)}).Graph()
	require.NoError(t, err)
	var srcs []*pb.SourceOp
	for _, s := range g.Steps {
		if s.LocalName() == "context" {
			srcs = append(srcs, s.Op.GetSource())
		}
	}
	require.NotEmpty(t, srcs)
	disk := map[*pb.SourceOp][]explain.File{}
	cache := explain.LoadStatCache("") // knows b.txt's digest once it is gone
	for _, src := range srcs {
		disk[src], err = explain.HashContext(t.Context(), dir, src, cache, nil)
		require.NoError(t, err)
	}
	require.NoError(t, os.Remove(filepath.Join(dir, "app/sub/b.txt")))
	for _, src := range srcs {
		kept, err := explain.HashContext(t.Context(), dir, src, cache, &walks)
		require.NoError(t, err)
		require.Equal(t, disk[src], kept, "source %v", src.GetAttrs())
	}
	var all []string
	for _, f := range disk[srcs[0]] {
		all = append(all, f.Path)
	}
	for _, src := range srcs[1:] {
		for _, f := range disk[src] {
			all = append(all, f.Path)
		}
	}
	require.Contains(t, all, "app/sub/b.txt")
	require.NotContains(t, all, "app/x.log")
	require.NotContains(t, all, "unread/u.txt")
}

func mustMarshal(t *testing.T, r *dsl.Result) []byte {
	t.Helper()
	dt, err := r.Definition.ToPB().MarshalVT()
	require.NoError(t, err)
	return dt
}
