package cli

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRunUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--output", "type=oci,dest=x.tar", "run"}, "run exports nothing"},
		{[]string{"--export-cache", "type=registry", "run"}, "ref=REF is required for the registry cache"},
		{[]string{"build", "--", "sh"}, `unexpected argument "sh"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, stderr, code := run(t, tc.args...)
			require.Equal(t, 2, code, stderr)
			require.Contains(t, stderr, tc.want)
		})
	}
}
