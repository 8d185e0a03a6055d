package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/internal/explain"
)

// --diff names the steps that differ between two LLB files, or between an
// LLB file and a program, and how.
func TestDiff(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	old, cur := filepath.Join(dir, "old.llb"), filepath.Join(dir, "new.llb")
	_, stderr, code := dsl2llb(t, "--lock", multistageLock, "-o", old, "./testdata/args")
	require.Equal(t, 0, code, stderr)
	_, stderr, code = dsl2llb(t, "--lock", multistageLock, "-o", cur, "--build-arg", "GREETING=bonjour", "./testdata/args")
	require.Equal(t, 0, code, stderr)

	files, stderr, code := dsl2llb(t, "--diff", old, cur)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, files, `env GREETING: "hello" → "bonjour"`)

	pkg, stderr, code := dsl2llb(t, "--lock", multistageLock, "--build-arg", "GREETING=bonjour", "--diff", old, "./testdata/args")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, files, pkg, "a program diffs as its LLB file does")

	out, stderr, code := dsl2llb(t, "--diff", old, "--format", "json", cur)
	require.Equal(t, 0, code, stderr)
	var lines []explain.Line
	require.NoError(t, json.Unmarshal([]byte(out), &lines), out)
	require.NotEmpty(t, lines)
	require.Equal(t, "env", lines[0].Cause)

	same, stderr, code := dsl2llb(t, "--diff", old, old)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "no step differs\n", same)
}

func TestDiffErrors(t *testing.T) {
	t.Parallel()
	bad := filepath.Join(t.TempDir(), "bad.llb")
	require.NoError(t, os.WriteFile(bad, []byte("not llb at all"), 0o644))
	_, stderr, code := dsl2llb(t, "--diff", bad, bad)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "reading "+bad+": not an LLB definition")

	_, stderr, code = dsl2llb(t, "--diff", "testdata/no-such.llb", bad)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "testdata/no-such.llb")

	_, stderr, code = dsl2llb(t, "--diff", bad, "--format", "dot", bad)
	require.Equal(t, 2, code)
	require.Contains(t, stderr, `unknown --format "dot" with --diff (want text or json)`)
}
