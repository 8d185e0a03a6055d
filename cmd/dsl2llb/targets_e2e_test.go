package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/internal/testenv"
)

// A program with several targets compiles the one named after the package;
// without one, the program's error lists them.
func TestProgramTarget(t *testing.T) {
	testenv.Get(t)
	stdout, stderr, code := dsl2llb(t, "--format", "json", "../../examples/monorepo", "worker")
	require.Equal(t, 0, code, stderr)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var last struct {
		ImageConfig struct {
			Config struct{ Cmd []string }
		}
	}
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &last))
	require.Equal(t, []string{"/usr/local/bin/worker"}, last.ImageConfig.Config.Cmd)

	_, stderr, code = dsl2llb(t, "../../examples/monorepo")
	require.Equal(t, 2, code, stderr)
	require.Contains(t, stderr, "llb takes one target: targets: api, test, worker; groups: ci, default")
}
