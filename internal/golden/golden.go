// Package golden compares what a test made with a file in the test's
// testdata directory; `go test -update` rewrites the files instead.
// Importing it registers the -update flag.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// Update reports whether the test run rewrites golden files.
func Update() bool { return *update }

// Check requires got to equal testdata/NAME, or with -update writes it there.
func Check(t testing.TB, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), got, "go test -update rewrites %s", path)
}
