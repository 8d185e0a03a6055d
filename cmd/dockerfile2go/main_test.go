package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestConvertsFileAndStdin(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	df := filepath.Join(dir, "Dockerfile")
	require.NoError(t, os.WriteFile(df, []byte("FROM alpine\nRUN apk add --update redis\nCMD [\"redis-server\"]\n"), 0o644))

	var stdout, stderr strings.Builder
	require.Equal(t, 0, run([]string{df}, nil, &stdout, &stderr), stderr.String())
	require.Contains(t, stdout.String(), `dsl.From("alpine")`)
	require.Contains(t, stdout.String(), "cli.Main(Build)")

	stdout.Reset()
	require.Equal(t, 0, run([]string{"-package", "images", "-func", "Redis", "-"}, strings.NewReader("FROM alpine\n"), &stdout, &stderr))
	require.Contains(t, stdout.String(), "package images")
	require.Contains(t, stdout.String(), "func Redis() dsl.Stage")
	require.NotContains(t, stdout.String(), "func main")

	out := filepath.Join(dir, "main.go")
	require.Equal(t, 0, run([]string{"-o", out, df}, nil, &stdout, &stderr))
	dt, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Contains(t, string(dt), "package main")
}

func TestErrorsAndExitCodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "Dockerfile")
	require.NoError(t, os.WriteFile(bad, []byte("FROM alpine\nCOPY --chmod=99999 a b\n"), 0o644))
	out := filepath.Join(dir, "main.go")
	require.NoError(t, os.WriteFile(out, []byte("keep me"), 0o644))

	var stdout, stderr strings.Builder
	require.Equal(t, 1, run([]string{"-o", out, bad}, nil, &stdout, &stderr))
	require.True(t, strings.HasPrefix(stderr.String(), bad+":2: "), stderr.String())
	require.Equal(t, 1, strings.Count(stderr.String(), "\n"), "one line")
	dt, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, "keep me", string(dt), "a failed conversion leaves -o alone")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 2, "no temporary file left")

	stderr.Reset()
	require.Equal(t, 1, run([]string{filepath.Join(dir, "missing")}, nil, &stdout, &stderr))
	require.Contains(t, stderr.String(), "no such file")

	require.Equal(t, 2, run([]string{"-bogus"}, nil, &stdout, &stderr))
	require.Equal(t, 2, run([]string{"a", "b"}, nil, &stdout, &stderr))
	stderr.Reset()
	require.Equal(t, 1, run([]string{"-func", "1x", "-"}, strings.NewReader("FROM a\n"), &stdout, &stderr))
	require.Contains(t, stderr.String(), "not a Go identifier")
}
