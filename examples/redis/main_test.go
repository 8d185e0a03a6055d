package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/dsltest"
	"github.com/slipway-build/slipway/internal/parity"
)

// The program is the tutorial Dockerfile, op for op.
func TestRedisMatchesTheDockerfile(t *testing.T) {
	t.Parallel()
	for variant, dockerfile := range map[string]string{
		"alpine": "FROM alpine\nRUN apk add --update redis\nCMD [\"redis-server\"]\n",
		"debian": "FROM debian:bookworm-slim\nRUN apt-get update && apt-get install -y --no-install-recommends redis-server\nCMD [\"redis-server\"]\n",
	} {
		o := parity.Options{Resolver: dsltest.NewResolver(nil)}
		want, err := parity.Dockerfile(t.Context(), []byte(dockerfile), o)
		require.NoError(t, err)
		got, err := parity.DSL(t.Context(), Redis(variant), o)
		require.NoError(t, err)
		require.Empty(t, parity.Diff(want, got), variant)
	}
}

// buildProgram compiles this example once per test binary.
func buildProgram(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "redis")
	out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

// With no daemon anywhere and no way to start one, the program says what it
// tried and what to do, on one line, with exit code 1, quickly.
func TestNoDaemonIsOneClearLine(t *testing.T) {
	t.Parallel()
	bin := buildProgram(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-variant", "debian")
	cmd.Dir = dir
	// No BUILDKIT_HOST, and a PATH without runc: nothing can be started.
	cmd.Env = []string{"PATH=" + dir, "HOME=" + dir}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "must give up within 10 seconds")
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	require.Equal(t, 1, exit.ExitCode())
	msg := strings.TrimSpace(stderr.String())
	require.NotContains(t, msg, "\n", "one line")
	require.Contains(t, msg, "BUILDKIT_HOST")
	require.Contains(t, msg, "runc")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		require.NotContains(t, e.Name(), "redis.oci.tar", "no output file")
	}
}

func TestUnknownVariantIsAUsageError(t *testing.T) {
	t.Parallel()
	bin := buildProgram(t)
	out, err := exec.CommandContext(t.Context(), bin, "-variant", "ubuntu").CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	require.Equal(t, 2, exit.ExitCode())
	require.Contains(t, string(out), `invalid value "ubuntu" for flag -variant: want alpine or debian`)
}
