package main

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/internal/testenv"
)

// TestRedisEndToEnd is the redis example's promise: the Debian variant builds on a
// real buildkitd, exports as an OCI archive, runs with runc, and answers
// PING; a second build of the same program is fully cached.
func TestRedisEndToEnd(t *testing.T) {
	env := testenv.Get(t)
	ctx := t.Context()
	c, err := driver.Connect(ctx, driver.ConnectOptions{Addr: env.BuildkitHost})
	require.NoError(t, err)
	defer c.Close()

	dir := t.TempDir()
	archive := filepath.Join(dir, "redis.oci.tar")
	out := driver.Output{Type: "oci", Dest: archive, Attrs: map[string]string{"name": "redis:latest"}}
	var progress strings.Builder
	res, err := c.Build(ctx, Redis("debian"), driver.BuildOptions{
		Outputs:     []driver.Output{out},
		Progress:    "plain",
		ProgressOut: &progress,
	})
	require.NoError(t, err, progress.String())
	require.Regexp(t, `^sha256:[0-9a-f]{64}$`, res.ImageDigest())
	require.Equal(t, []string{"redis-server"}, res.Compiled.Image.Config.Cmd)
	leftovers, err := filepath.Glob(filepath.Join(dir, ".redis.oci.tar.tmp-*"))
	require.NoError(t, err)
	require.Empty(t, leftovers, "the temporary archive is renamed into place")

	t.Run("image answers PING", func(t *testing.T) {
		bundle := unpack(t, env, archive)
		port := freePort(t)
		stop := runContainer(t, bundle, "redis-server", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no")
		defer stop()
		require.Equal(t, "PONG", ping(t, port))
	})

	t.Run("second build is fully cached", func(t *testing.T) {
		var mu sync.Mutex
		vertices := map[digest.Digest]*client.Vertex{}
		res2, err := c.Build(ctx, Redis("debian"), driver.BuildOptions{
			Progress:    "quiet",
			ProgressOut: &strings.Builder{},
			OnStatus: func(st *client.SolveStatus) {
				mu.Lock()
				defer mu.Unlock()
				for _, v := range st.Vertexes {
					vertices[v.Digest] = v
				}
			},
		})
		require.NoError(t, err)
		ops := opDigests(t, res2.Compiled.Definition.Def)
		require.Equal(t, ops, opDigests(t, res.Compiled.Definition.Def), "same program, same LLB")
		seen := 0
		for d, op := range ops {
			v, ok := vertices[d]
			if !ok || op.GetSource() != nil {
				// The final return op has no vertex; a source op is only
				// resolved again, which BuildKit does not call a cache hit
				// (docker build prints no CACHED on FROM lines either).
				continue
			}
			seen++
			require.True(t, v.Cached, "step %q was not cached", v.Name)
		}
		require.Equal(t, 1, seen, "the RUN step reports status")
	})
}

func opDigests(t *testing.T, def [][]byte) map[digest.Digest]*pb.Op {
	t.Helper()
	m := map[digest.Digest]*pb.Op{}
	for _, dt := range def {
		var op pb.Op
		require.NoError(t, op.UnmarshalVT(dt))
		m[digest.FromBytes(dt)] = &op
	}
	return m
}

// unpack turns an OCI archive into a runtime bundle with umoci, and makes
// the container share the host's network so the test can reach it.
func unpack(t *testing.T, env *testenv.Env, archive string) string {
	t.Helper()
	dir := t.TempDir()
	layout := filepath.Join(dir, "layout")
	require.NoError(t, os.Mkdir(layout, 0o755))
	run(t, "tar", "-xf", archive, "-C", layout)
	bundle := filepath.Join(dir, "bundle")
	run(t, "umoci", "unpack", "--image", layout+":latest", bundle)

	cfgPath := filepath.Join(bundle, "config.json")
	dt, err := os.ReadFile(cfgPath)
	require.NoError(t, err)
	var cfg map[string]any
	require.NoError(t, json.Unmarshal(dt, &cfg))
	linux := cfg["linux"].(map[string]any)
	var namespaces []any
	for _, ns := range linux["namespaces"].([]any) {
		if ns.(map[string]any)["type"] != "network" {
			namespaces = append(namespaces, ns)
		}
	}
	linux["namespaces"] = namespaces
	process := cfg["process"].(map[string]any)
	process["terminal"] = false
	// The image's own command, as docker run would start it.
	require.Equal(t, []any{"redis-server"}, process["args"])
	dt, err = json.Marshal(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cfgPath, dt, 0o644))
	return bundle
}

// runContainer starts the bundle with runc, overriding the command's
// arguments as `docker run IMAGE ARGS...` does, and returns a function that
// stops and deletes the container.
func runContainer(t *testing.T, bundle string, args ...string) func() {
	t.Helper()
	cfgPath := filepath.Join(bundle, "config.json")
	dt, err := os.ReadFile(cfgPath)
	require.NoError(t, err)
	var cfg map[string]any
	require.NoError(t, json.Unmarshal(dt, &cfg))
	anyArgs := make([]any, len(args))
	for i, a := range args {
		anyArgs[i] = a
	}
	cfg["process"].(map[string]any)["args"] = anyArgs
	dt, err = json.Marshal(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cfgPath, dt, 0o644))

	id := "slipway-redis-" + strconv.Itoa(os.Getpid())
	logPath := filepath.Join(t.TempDir(), "container.log")
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	cmd := exec.Command("runc", "run", "--bundle", bundle, id)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	return func() {
		exec.Command("runc", "kill", id, "KILL").Run()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
		exec.Command("runc", "delete", "--force", id).Run()
		logFile.Close()
		if t.Failed() {
			if out, err := os.ReadFile(logPath); err == nil {
				t.Logf("container output:\n%s", out)
			}
		}
	}
}

// ping asks the server with redis-cli, retrying while it starts.
func ping(t *testing.T, port int) string {
	t.Helper()
	var last string
	for range 50 {
		out, err := exec.Command("redis-cli", "-h", "127.0.0.1", "-p", strconv.Itoa(port), "ping").CombinedOutput()
		last = strings.TrimSpace(string(out))
		if err == nil && last == "PONG" {
			return last
		}
		time.Sleep(200 * time.Millisecond)
	}
	return last
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	require.NoError(t, err, "%s %s:\n%s", name, strings.Join(args, " "), out)
}
