package cli

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/internal/testenv"
)

// --on-error for a Program: the first target whose RUN fails gets the
// process, in its failed step's container as the command left it; a second
// failing target is reported and opens nothing; the exit status is the
// build's. Without --fail-fast the target that succeeds writes its archive,
// the failed ones none; with it, no archive is written, and the process is
// not canceled by the failure that cancels the other targets.
func TestTargetsOnErrorExecRunsInFirstFailedStep(t *testing.T) {
	env := testenv.Get(t)
	for _, failFast := range []bool{false, true} {
		t.Run("fail-fast="+strconv.FormatBool(failFast), func(t *testing.T) {
			dir := t.TempDir()
			m := marker()
			failing := func(name string) dsl.Stage {
				return dsl.From("busybox").Run("echo left by " + name + " " + m + " > /left-behind && exit 3")
			}
			out := func(name string) []string {
				return []string{"type=oci,dest=" + filepath.Join(dir, name+".tar")}
			}
			p := Program{Targets: []Target{
				{Name: "good", Build: dsl.From("busybox").Run("echo fine " + m + " > /fine"), Outputs: out("good")},
				{Name: "bad", Build: failing("bad"), Outputs: out("bad")},
				{Name: "worse", Build: failing("worse"), Outputs: out("worse")},
			}}
			args := []string{"--addr", env.BuildkitHost, "--progress", "plain", "--on-error", "exec cat /left-behind"}
			if failFast {
				args = append(args, "--fail-fast")
			}
			stdout, stderr, code := runProgram(t, p, append(args, "build")...)
			require.Equal(t, 1, code, stderr)

			// One process, in the step of one failed target: its file.
			const opening = `opening ["cat" "/left-behind"] in the failed step [`
			require.Equal(t, 1, strings.Count(stderr, opening), "one process for two failures:\n%s", stderr)
			var first string
			for _, name := range []string{"bad", "worse"} {
				if strings.Contains(stderr, opening+name+"] ") {
					first = name
				}
			}
			require.NotEmpty(t, first, "the notice names the target:\n%s", stderr)
			require.Equal(t, "left by "+first+" "+m+"\n", stdout, "the failed step's file, as the command left it")
			failed := func(name string) string {
				return `(?m)^(cli\.test: )?target ` + name + `: step \[stage-0 2/2\] RUN echo left by ` + name + ` .* exit code: 3$`
			}
			require.Regexp(t, failed(first), stderr)

			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if failFast {
				require.Empty(t, names, "--fail-fast writes no archive")
				return
			}
			// Both failures reported; the other target finished and wrote
			// its archive.
			require.Regexp(t, failed("bad"), stderr)
			require.Regexp(t, failed("worse"), stderr)
			require.Equal(t, []string{"good.tar"}, names)
		})
	}
}

// debug TARGET FILE:LINE -- CMD runs CMD at that target's step made at
// the line: the step's file is there, the next step's is not.
func TestTargetDebugStopsAtLine(t *testing.T) {
	env := testenv.Get(t)
	m := marker()
	p := Program{Targets: []Target{
		{Name: "other", Build: dsl.From("busybox").Run("echo other > /one")},
		{Name: "app", Build: dsl.From("busybox").
			Run("echo app " + m + " > /one").
			Run("echo two > /two")},
	}}
	_, _, line, _ := runtime.Caller(0)
	oneLine := line - 3
	stdout, stderr, code := runProgram(t, p, "--addr", env.BuildkitHost, "--progress", "plain",
		"debug", "app", "cli/targets_debug_e2e_test.go:"+strconv.Itoa(oneLine), "--", "sh", "-c", "cat /one; ls /two")
	require.Equal(t, 1, code, "ls of the absent file fails:\n%s", stderr)
	require.Contains(t, stdout, "app "+m+"\n", "the step at the line, of the target named:\n%s", stderr)
	require.NotContains(t, stdout, "/two\n", "not the step after it")
}
