package main

import (
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
		bundle := testenv.Unpack(t, archive)
		testenv.EditBundle(t, bundle, func(cfg map[string]any) {
			// The image's own command, as docker run would start it.
			require.Equal(t, []any{"redis-server"}, cfg["process"].(map[string]any)["args"])
		})
		port := testenv.FreePort(t)
		stop, _ := testenv.RunBundle(t, bundle, "redis-server", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no")
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
