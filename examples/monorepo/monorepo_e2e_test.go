package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/client"
	digest "github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/internal/testenv"
)

// TestMonorepo builds the example's three targets together on the daemon,
// runs the two images, and then fails its tests on purpose: once with the
// other targets finishing, once with --fail-fast. The cases share one
// daemon cache, so only the first compiles the standard library.
func TestMonorepo(t *testing.T) {
	env := testenv.Get(t)
	goroot := runtime.GOROOT()
	build := func(t *testing.T, src, out string, extra ...string) (string, error) {
		t.Helper()
		// With the default provenance, as a user builds them: the archives
		// hold an image index (testenv.Unpack picks the image from it).
		args := []string{"--addr", env.BuildkitHost, "--progress", "rawjson",
			"--context", src, "--build-context", "go=" + goroot,
			"--set", "api.output=type=oci,dest=" + filepath.Join(out, "api.tar"),
			"--set", "worker.output=type=oci,dest=" + filepath.Join(out, "worker.tar")}
		args = append(append(args, extra...), "build", "default", "ci")
		var stderr bytes.Buffer
		err := Program().Run(t.Context(), flag.NewFlagSet("monorepo", flag.ContinueOnError), args, io.Discard, &stderr)
		return stderr.String(), err
	}

	t.Run("shared steps run once and both images run", func(t *testing.T) {
		src := sources(t, map[string]string{"marker.txt": time.Now().String()})
		out := t.TempDir()
		progress, err := build(t, src, out)
		require.NoError(t, err, tail(progress))

		// The builder's go build is one vertex that ran, not from the
		// cache, reported under every target that needs it.
		ran := map[digest.Digest]*client.Vertex{}
		prefixes := map[string]bool{}
		for _, v := range vertexes(t, progress) {
			if !strings.Contains(v.Name, "RUN go build") {
				continue
			}
			prefixes[v.Name[:strings.Index(v.Name, "] ")+1]] = true
			if v.Completed != nil && !v.Cached {
				ran[v.Digest] = v
			}
		}
		require.Len(t, ran, 1, "go build ran once")
		require.Subset(t, keys(prefixes), []string{"[api]", "[worker]", "[test]"})

		require.Equal(t, []string{"api.tar", "worker.tar"}, files(t, out), "the test target exports nothing")
		api := testenv.Unpack(t, filepath.Join(out, "api.tar"))
		port := testenv.FreePort(t)
		stop, _ := testenv.RunBundle(t, api, "/usr/local/bin/api", "-addr", "127.0.0.1:"+strconv.Itoa(port))
		defer stop()
		require.Equal(t, "hello from api", get(t, port))
		worker := testenv.Unpack(t, filepath.Join(out, "worker.tar"))
		stopWorker, logs := testenv.RunBundle(t, worker, "/usr/local/bin/worker", "-jobs", "2")
		stopWorker()
		require.Contains(t, logs(), "hello from worker\nprocessed job 1\nprocessed job 2\n")
	})

	failing := map[string]string{"greet/fail_test.go": "package greet\n\nimport \"testing\"\n\nfunc TestFails(t *testing.T) { t.Fatal(\"failing on purpose\") }\n"}

	t.Run("a failing test fails the group and the images are still written", func(t *testing.T) {
		src := sources(t, failing)
		out := t.TempDir()
		progress, err := build(t, src, out)
		require.Error(t, err)
		require.Contains(t, err.Error(), "target test: ", tail(progress))
		require.NotContains(t, err.Error(), "target api")
		require.NotContains(t, err.Error(), "target worker")
		require.Equal(t, []string{"api.tar", "worker.tar"}, files(t, out))
	})

	t.Run("--fail-fast writes nothing", func(t *testing.T) {
		src := sources(t, failing)
		out := t.TempDir()
		progress, err := build(t, src, out, "--fail-fast")
		require.Error(t, err)
		require.Contains(t, err.Error(), "target test: ", tail(progress))
		require.Empty(t, files(t, out), "no archive and no temporary file")
	})
}

// sources copies testdata/src to a new directory, with extra files.
func sources(t *testing.T, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS("testdata/src")))
	for name, content := range extra {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	return dir
}

// vertexes reads the rawjson progress display.
func vertexes(t *testing.T, progress string) []*client.Vertex {
	t.Helper()
	var out []*client.Vertex
	sc := bufio.NewScanner(strings.NewReader(progress))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var st client.SolveStatus
		if json.Unmarshal(sc.Bytes(), &st) != nil {
			continue // the lines after the display
		}
		out = append(out, st.Vertexes...)
	}
	require.NoError(t, sc.Err())
	return out
}

func tail(s string) string {
	if len(s) > 4000 {
		return s[len(s)-4000:]
	}
	return s
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func files(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// get asks the service for /, retrying while it starts.
func get(t *testing.T, port int) string {
	t.Helper()
	var last error
	for range 50 {
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/")
		if err == nil {
			dt, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			return strings.TrimSpace(string(dt))
		}
		last = err
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("the service did not answer: %v", last)
	return ""
}
