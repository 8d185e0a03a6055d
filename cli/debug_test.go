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
		{[]string{"--on-error", "shell", "llb"}, "--on-error is for build and run; llb runs no step"},
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
