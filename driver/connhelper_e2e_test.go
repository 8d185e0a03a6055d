package driver_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/internal/testenv"
)

// Each of BuildKit's connection helpers reaches the daemon through the
// command it runs (docker exec, kubectl exec, ssh, ...). None of those
// tools is on this machine, so the test puts one on PATH that records its
// arguments and runs the real `buildctl dial-stdio` against the test
// daemon: the helper's own code, the stdio connection and the build on
// the daemon are all real; only the hop into a container is left out.
func TestConnectionHelpers(t *testing.T) {
	env := testenv.Get(t)
	for _, tc := range []struct {
		addr, tool, args string
	}{
		{"docker-container://bk1", "docker", "exec -i bk1 buildctl dial-stdio"},
		{"podman-container://bk2", "podman", "exec -i bk2 buildctl dial-stdio"},
		{"nerdctl-container://bk3?namespace=build", "nerdctl", "exec --namespace build -i bk3 buildctl dial-stdio"},
		{"kube-pod://bk-0?namespace=build&container=buildkitd", "kubectl", "--context= --namespace=build exec --container=buildkitd -i bk-0 -- buildctl dial-stdio"},
		{"ssh://builder@buildhost:2222/run/buildkit/buildkitd.sock", "ssh", "-l builder -p 2222 -- buildhost buildctl --addr unix:///run/buildkit/buildkitd.sock dial-stdio"},
	} {
		t.Run(tc.tool, func(t *testing.T) {
			bin := t.TempDir()
			log := filepath.Join(bin, "args")
			script := fmt.Sprintf("#!/bin/sh\necho \"$*\" >> %s\nexec %s --addr %s dial-stdio\n", log, env.Buildctl, env.BuildkitHost)
			require.NoError(t, os.WriteFile(filepath.Join(bin, tc.tool), []byte(script), 0o755))
			t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))

			c, err := driver.Connect(t.Context(), driver.ConnectOptions{Addr: tc.addr})
			require.NoError(t, err)
			defer c.Close()
			marker := fmt.Sprintf("through %s at %s", tc.tool, time.Now().Format(time.RFC3339Nano))
			logs := newStatusLog()
			_, err = c.Build(t.Context(), dsl.From("busybox").Run("echo "+marker), driver.BuildOptions{
				Progress: "quiet", ProgressOut: io.Discard, OnStatus: logs.update,
			})
			require.NoError(t, err)
			require.Contains(t, logs.text(), marker, "the step ran on the daemon")
			dt, err := os.ReadFile(log)
			require.NoError(t, err)
			require.Contains(t, string(dt), tc.args+"\n", "the helper ran %s with the arguments its scheme implies", tc.tool)
		})
	}
}
