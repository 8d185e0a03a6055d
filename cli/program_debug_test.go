package cli

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// debug and --on-error with a Program: what the command line gets wrong is
// a usage error, before any build.
func TestProgramDebugUsage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"debug"}, "debug takes one target"},
		{[]string{"debug", "api", "worker"}, `debug api "worker": want FILE:LINE, and a command after --`},
		{[]string{"debug", "api", "main.go:3", "main.go:4"}, "debug takes one target"},
		{[]string{"debug", "nope"}, `unknown target "nope"`},
		{[]string{"--on-error", "shell", "llb", "api"}, "--on-error is for build, run and debug; llb runs no step"},
		{[]string{"--on-error", "exec", "build"}, "--on-error \"exec\": exec needs a command"},
	} {
		_, stderr, code := runProgram(t, testProgram(), tc.args...)
		require.Equal(t, 2, code, "%q: %s", tc.args, stderr)
		require.Contains(t, stderr, tc.want, "%q", tc.args)
	}
}
