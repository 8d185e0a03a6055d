package cli

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A bad --on-error is a usage error naming the flag, found before the
// daemon is reached.
func TestOnErrorUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--on-error", "exec"}, `--on-error "exec": exec needs a command`},
		{[]string{"--on-error", "debug"}, `--on-error "debug": want shell [CMD...] or exec CMD...`},
		{[]string{"--on-error", "exec 'cat"}, `--on-error "exec 'cat": `},
		{[]string{"--on-error", " "}, `--on-error is empty`},
		{[]string{"--on-error", "shell", "llb"}, "--on-error is for build, run and debug; llb runs no step"},
		{[]string{"debug", "main.go"}, `debug "main.go": want FILE:LINE, as in main.go:12`},
		{[]string{"debug", "main.go:0"}, `debug "main.go:0": want FILE:LINE with a line from 1`},
		{[]string{"--output", "type=oci,dest=x.tar", "debug"}, "debug exports nothing"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, stderr, code := run(t, append([]string{"--addr", "unix:///nonexistent/buildkitd.sock"}, tc.args...)...)
			require.Equal(t, 2, code, stderr)
			require.Contains(t, stderr, tc.want)
		})
	}
}

// The words of --on-error split as a shell splits them.
func TestParseDebugShell(t *testing.T) {
	t.Parallel()
	sh, err := parseDebugShell("--on-error", `exec sh -c 'cat "$F" /x'`, nil, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"sh", "-c", `cat "$F" /x`}, sh.Args)
	require.Nil(t, sh.Stdin, "exec reads no input")
	require.Nil(t, sh.Terminal)
	sh, err = parseDebugShell("--on-error", "shell /bin/bash -l", nil, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"/bin/bash", "-l"}, sh.Args)
	require.NotNil(t, sh.Stdin, "a shell reads this program's input")
}

func TestParseDebugArgs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		file string
		line int
		cmd  []string
	}{
		{nil, "", 0, nil},
		{[]string{"main.go:12"}, "main.go", 12, nil},
		{[]string{"examples/app/main.go:3", "--", "ls", "-l"}, "examples/app/main.go", 3, []string{"ls", "-l"}},
		{[]string{"main.go:3", "cat", "/x"}, "main.go", 3, []string{"cat", "/x"}},
		{[]string{"ls", "-l"}, "", 0, []string{"ls", "-l"}},
	} {
		file, line, cmd, err := parseDebugArgs(tc.args)
		require.NoError(t, err, "%q", tc.args)
		require.Equal(t, tc.file, file, "%q", tc.args)
		require.Equal(t, tc.line, line, "%q", tc.args)
		require.Equal(t, len(tc.cmd), len(cmd), "%q", tc.args)
		if len(cmd) > 0 {
			require.Equal(t, tc.cmd, cmd, "%q", tc.args)
		}
	}
}
