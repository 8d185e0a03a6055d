package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

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

	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.txt"), []byte("A"), 0o644))
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
