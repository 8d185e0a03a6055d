package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/internal/golden"
)

// testProgram is a matrix (a loop over variants), an inherited target (a
// function call) and a shared stage (a value), as a team would write them.
func testProgram() Program {
	base := dsl.From("busybox").Run("echo base > /base")
	image := func(name string) Target {
		return Target{Name: name, Build: base.Cmd("echo", name), Tags: []string{"reg.example/" + name + ":1", "reg.example/" + name + ":latest"}}
	}
	var p Program
	for _, v := range []string{"api", "worker"} {
		p.Targets = append(p.Targets, image(v))
	}
	debug := image("api")
	debug.Name, debug.Description = "api-debug", "api with a shell"
	debug.Args = map[string]string{"DEBUG": "1"}
	debug.Platforms = []string{"linux/amd64", "linux/arm64"}
	p.Targets = append(p.Targets, debug, Target{Name: "test", Build: base.Run("true"), Outputs: []string{"type=cacheonly"}, CacheFrom: []string{"type=local,src=/cache"}})
	p.Groups = []Group{{Name: "default", Targets: []string{"api", "worker"}}, {Name: "ci", Description: "what CI runs", Targets: []string{"default", "test"}}}
	return p
}

func runProgram(t *testing.T, p Program, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := p.Run(t.Context(), flag.NewFlagSet("prog", flag.ContinueOnError), args, &stdout, &stderr)
	code := exitCode(err, &stderr)
	return stdout.String(), stderr.String(), code
}

func TestListJSONIsBakesPrint(t *testing.T) {
	t.Parallel()
	stdout, stderr, code := runProgram(t, testProgram(), "list", "--format", "json")
	require.Equal(t, 0, code, stderr)
	golden.Check(t, "list.json", stdout)
}

func TestListText(t *testing.T) {
	t.Parallel()
	stdout, stderr, code := runProgram(t, testProgram(), "list")
	require.Equal(t, 0, code, stderr)
	golden.Check(t, "list.txt", stdout)
}

// printed runs list --format json with args and returns the targets.
func printed(t *testing.T, args ...string) map[string]printedTarget {
	t.Helper()
	stdout, stderr, code := runProgram(t, testProgram(), append(args, "list", "--format", "json")...)
	require.Equal(t, 0, code, stderr)
	var got struct{ Target map[string]printedTarget }
	require.NoError(t, json.Unmarshal([]byte(stdout), &got))
	return got.Target
}

// Flags apply to every target, --set to one, over what the program
// declares; a list field's first --set replaces, later ones add.
func TestSetOverrides(t *testing.T) {
	t.Parallel()
	got := printed(t,
		"--build-arg", "DEBUG=0", "--build-arg", "V=2", "--platform", "linux/386",
		"--set", "api.tags=r/a:x,r/a:y", "--set", "api.tags=r/a:z",
		"--set", "api-debug.args.DEBUG=2", "--set", "api-debug.platform=linux/s390x",
		"--set", "worker.output=type=local,dest=out/worker", "--set", "worker.no-cache=true",
		"--set", "*.cache-to=type=inline", "--set", "test.cache-from=type=local,src=/other",
		"--set", "api.push=true", "--set", "api.target=build")
	require.Equal(t, []string{"r/a:x", "r/a:y", "r/a:z"}, got["api"].Tags)
	require.Equal(t, []string{"type=image,\"name=r/a:x,r/a:y,r/a:z\",push=true"}, got["api"].Output, "a push alone, no archive")
	require.Equal(t, "build", got["api"].Target)
	require.Equal(t, map[string]string{"DEBUG": "2", "V": "2"}, got["api-debug"].Args, "--set over --build-arg over the program")
	require.Equal(t, map[string]string{"DEBUG": "0", "V": "2"}, got["api"].Args)
	require.Equal(t, []string{"linux/s390x"}, got["api-debug"].Platforms)
	require.Equal(t, []string{"linux/386"}, got["worker"].Platforms, "--platform applies to every target")
	require.Equal(t, []string{"type=local,dest=out/worker"}, got["worker"].Output)
	require.True(t, got["worker"].NoCache)
	require.False(t, got["api"].NoCache)
	for _, name := range []string{"api", "worker", "api-debug", "test"} {
		require.Equal(t, []string{"type=inline"}, got[name].CacheTo, name)
	}
	require.Equal(t, []string{"type=local,src=/other"}, got["test"].CacheFrom)
}

func TestProgramUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"build", "nope"}, `unknown target or group "nope": targets: api, api-debug, test, worker; groups: ci, default`},
		{[]string{"llb", "ci"}, `unknown target "ci": targets: api, api-debug, test, worker; groups: ci, default`},
		{[]string{"llb"}, "llb takes one target"},
		{[]string{"run", "api", "worker"}, "run takes one target"},
		{[]string{"--set", "nope.tags=x", "list"}, `--set "nope.tags=x": unknown target "nope"`},
		{[]string{"--set", "api.colour=red", "list"}, `--set "api.colour=red": unknown field "colour"`},
		{[]string{"--set", "api", "list"}, `--set "api": want TARGET.FIELD=VALUE`},
		{[]string{"--set", "api.no-cache=maybe", "list"}, "no-cache: want true or false"},
		{[]string{"--format", "yaml", "list"}, `--format "yaml": want text or json`},
		{[]string{"--push", "r/x", "build"}, "--push names one image"},
		{[]string{"--set", "*.output=type=oci,dest=x.tar", "build"}, "targets api and worker both write x.tar"},
		{[]string{"--set", "api.tags=", "--set", "api.push=true", "build", "api"}, "target api: push needs tags"},
	} {
		_, stderr, code := runProgram(t, testProgram(), tc.args...)
		require.Equal(t, 2, code, "%v: %s", tc.args, stderr)
		require.Contains(t, stderr, tc.want, "%v", tc.args)
	}
}

func TestProgramDeclarationErrors(t *testing.T) {
	t.Parallel()
	s := dsl.From("busybox")
	for _, tc := range []struct {
		p    Program
		want string
	}{
		{Program{Targets: []Target{{Name: "api", Build: s}, {Name: "api", Build: s}}}, `target "api" is declared twice`},
		{Program{Targets: []Target{{Name: "api", Build: s}}, Groups: []Group{{Name: "api"}}}, `group "api" is declared twice (already a target)`},
		{Program{Targets: []Target{{Name: "", Build: s}}}, "a target has no name"},
		{Program{Targets: []Target{{Name: "a b", Build: s}}}, `target "a b": a name has letters`},
		{Program{Targets: []Target{{Name: "api", Build: s}}, Groups: []Group{{Name: "default", Targets: []string{"wrker"}}}}, `group "default": unknown target "wrker": targets: api; groups: default`},
	} {
		// Rejected whatever the command, before anything is built.
		_, stderr, code := runProgram(t, tc.p, "list")
		require.Equal(t, 2, code, stderr)
		require.Contains(t, stderr, tc.want)
	}
}

func TestSelectTargets(t *testing.T) {
	t.Parallel()
	p := testProgram()
	names := func(ts []Target) []string {
		var out []string
		for _, t := range ts {
			out = append(out, t.Name)
		}
		return out
	}
	ts, err := p.selectTargets(nil)
	require.NoError(t, err)
	require.Equal(t, []string{"api", "worker"}, names(ts), "group default")
	ts, err = p.selectTargets([]string{"test", "ci", "api"})
	require.NoError(t, err)
	require.Equal(t, []string{"test", "api", "worker"}, names(ts), "each once, in the order first named")
	p.Groups = nil
	ts, err = p.selectTargets(nil)
	require.NoError(t, err)
	require.Equal(t, []string{"api", "worker", "api-debug", "test"}, names(ts), "no group default: all")
	p.Groups = []Group{{Name: "a", Targets: []string{"b"}}, {Name: "b", Targets: []string{"a"}}}
	_, err = p.selectTargets([]string{"a"})
	require.ErrorContains(t, err, "includes itself")
}

// TestOwnFlagClash: a program's own flag with the name of one of ours is
// a clear error, not the flag package's panic.
func TestOwnFlagClash(t *testing.T) {
	for _, prog := range []string{"single", "program"} {
		fs := flag.NewFlagSet("prog", flag.ContinueOnError)
		fs.String("format", "", "the program's own")
		var stderr bytes.Buffer
		var err error
		if prog == "single" {
			err = Run(t.Context(), fs, []string{"llb"}, func() dsl.Stage { return dsl.From("busybox") }, io.Discard, &stderr)
		} else {
			err = Program{Targets: []Target{{Name: "a", Build: dsl.From("busybox")}}}.Run(t.Context(), fs, []string{"list"}, io.Discard, &stderr)
		}
		require.Error(t, err, prog)
		require.Contains(t, err.Error(), "the program declares the flag -format", prog)
		require.Equal(t, 2, exitCode(err, &stderr), prog)
	}
}

// A target's own context is relative to --context, which is the default;
// --set TARGET.context replaces it the same way.
func TestTargetContext(t *testing.T) {
	t.Parallel()
	p := testProgram()
	p.Targets[0].Context = "services/api" // api
	p.Targets[1].Context = "/abs/worker"  // worker
	stdout, stderr, code := runProgram(t, p, "--context", "repo", "--set", "test.context=tools", "list", "--format", "json")
	require.Equal(t, 0, code, stderr)
	var got struct{ Target map[string]printedTarget }
	require.NoError(t, json.Unmarshal([]byte(stdout), &got))
	require.Equal(t, "repo/services/api", got.Target["api"].Context)
	require.Equal(t, "/abs/worker", got.Target["worker"].Context)
	require.Equal(t, "repo", got.Target["api-debug"].Context, "--context is the default")
	require.Equal(t, "repo/tools", got.Target["test"].Context)
}
