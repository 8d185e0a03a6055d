package driver_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/internal/testenv"
)

// statusLog records every vertex, which vertices logged output, and the
// output.
type statusLog struct {
	mu       sync.Mutex
	vertices map[digest.Digest]*client.Vertex
	logged   map[digest.Digest]bool
	output   strings.Builder
}

// text is the output every step logged.
func (l *statusLog) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.output.String()
}

func newStatusLog() *statusLog {
	return &statusLog{vertices: map[digest.Digest]*client.Vertex{}, logged: map[digest.Digest]bool{}}
}

func (l *statusLog) update(st *client.SolveStatus) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, v := range st.Vertexes {
		l.vertices[v.Digest] = v
	}
	for _, lg := range st.Logs {
		l.logged[lg.Vertex] = true
		l.output.Write(lg.Data)
	}
}

// execAndFileOps are the digests of the exec and file ops of a definition.
func execAndFileOps(t *testing.T, def [][]byte) map[digest.Digest]*pb.Op {
	t.Helper()
	ops := map[digest.Digest]*pb.Op{}
	for _, dt := range def {
		var op pb.Op
		require.NoError(t, op.UnmarshalVT(dt))
		if op.GetExec() != nil || op.GetFile() != nil {
			ops[digest.FromBytes(dt)] = &op
		}
	}
	return ops
}

// Two daemons with separate state share a cache through the registry: a
// build on A exports it, the same build on B imports it, and on B every
// step reports cached and none runs.
func TestRegistryCacheSharedBetweenDaemons(t *testing.T) {
	env := testenv.Get(t)
	a := startDaemon(t, env, nil, connectReady(t, driver.ConnectOptions{}))
	b := startDaemon(t, env, nil, connectReady(t, driver.ConnectOptions{}))
	require.NotEqual(t, a.dir, b.dir)

	marker := time.Now().Format(time.RFC3339Nano)
	stage := dsl.From("busybox").
		Run("echo first step " + marker + " | tee /first").
		Workdir("/srv").
		Run("echo second step; cat /first > /srv/second")
	ref := env.Image("slipway-test/cache:" + strings.NewReplacer(":", "-", ".", "-", "+", "-").Replace(marker))
	export := driver.CacheEntry{Type: "registry", Attrs: map[string]string{"ref": ref, "mode": "max"}}
	imp := driver.CacheEntry{Type: "registry", Attrs: map[string]string{"ref": ref}}

	build := func(addr string, o driver.BuildOptions) (*driver.Result, *statusLog) {
		t.Helper()
		c, err := driver.Connect(t.Context(), driver.ConnectOptions{Addr: addr})
		require.NoError(t, err)
		defer c.Close()
		log := newStatusLog()
		var progress strings.Builder
		o.Progress, o.ProgressOut, o.OnStatus = "plain", &progress, log.update
		res, err := c.Build(t.Context(), stage, o)
		require.NoError(t, err, progress.String())
		return res, log
	}

	resA, logA := build(a.addr, driver.BuildOptions{CacheExports: []driver.CacheEntry{export}})
	ops := execAndFileOps(t, resA.Compiled.Definition.Def)
	require.GreaterOrEqual(t, len(ops), 2, "two RUN steps, and WORKDIR's mkdir if the DSL makes one")
	for d := range ops {
		require.False(t, logA.vertices[d].Cached, "A runs %q", logA.vertices[d].Name)
	}

	resB, logB := build(b.addr, driver.BuildOptions{CacheImports: []driver.CacheEntry{imp}})
	require.Equal(t, ops, execAndFileOps(t, resB.Compiled.Definition.Def), "same build, same ops")
	for d := range ops {
		v, ok := logB.vertices[d]
		require.True(t, ok, "B reports step %s", d)
		require.True(t, v.Cached, "step %q is cached on B", v.Name)
		require.False(t, logB.logged[d], "step %q ran on B", v.Name)
	}

	t.Run("no-cache runs every step again", func(t *testing.T) {
		_, log := build(b.addr, driver.BuildOptions{CacheImports: []driver.CacheEntry{imp}, NoCache: true})
		for d := range ops {
			v := log.vertices[d]
			require.NotNil(t, v)
			require.False(t, v.Cached, "step %q ran again", v.Name)
			if ops[d].GetExec() != nil {
				require.True(t, log.logged[d], "step %q printed its output again", v.Name)
			}
		}
	})
}
