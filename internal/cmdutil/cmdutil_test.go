package cmdutil

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExitCode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err    error
		code   int
		stderr string
	}{
		{nil, ExitOK, ""},
		{flag.ErrHelp, ExitOK, ""},
		{fmt.Errorf("parsing: %w", flag.ErrHelp), ExitOK, ""},
		{Usagef("unknown command %q", "x"), ExitUsage, "prog: unknown command \"x\" (see prog -h)\n"},
		{Reported(errors.New("flag provided but not defined: -x")), ExitUsage, ""},
		{ExitStatus(42), 42, ""},
		{fmt.Errorf("running: %w", ExitStatus(3)), 3, ""},
		{Located(errors.New("Dockerfile:2: unknown instruction")), ExitFailure, "Dockerfile:2: unknown instruction\n"},
		{errors.New("build failed"), ExitFailure, "prog: build failed\n"},
	} {
		var stderr strings.Builder
		require.Equal(t, tc.code, ExitCode("prog", tc.err, &stderr), "%v", tc.err)
		require.Equal(t, tc.stderr, stderr.String(), "%v", tc.err)
	}
	require.ErrorIs(t, Reported(errors.New("x")), ErrUsage)
}

func TestStringList(t *testing.T) {
	t.Parallel()
	var l StringList
	fs := flag.NewFlagSet("prog", flag.ContinueOnError)
	fs.Var(&l, "v", "")
	require.NoError(t, fs.Parse([]string{"-v", "a", "-v", "b c"}))
	require.Equal(t, StringList{"a", "b c"}, l)
}

func TestUpdateLockCommand(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"dsl2llb", "--update-lock", "--lock", "x.json", "./prog"},
		UpdateLockCommand("dsl2llb", []string{"--lock", "x.json", "-update-lock", "--update-lock", "./prog"}))
}
