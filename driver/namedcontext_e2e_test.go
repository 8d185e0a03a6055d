package driver_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/internal/testenv"
)

// A named build context is sent beside the main one, with its own
// .dockerignore, and read by COPY and bind mounts.
func TestNamedBuildContext(t *testing.T) {
	c := connect(t)
	conf := t.TempDir()
	writeTree(t, conf, map[string]string{
		"app.yaml":      "port: 8080\n",
		"app.yaml.bak":  "old\n",
		"certs/ca.pem":  "CA\n",
		".dockerignore": "*.bak\n",
	})
	out := filepath.Join(t.TempDir(), "out")
	o, err := driver.ParseOutput("type=local,dest=" + out)
	require.NoError(t, err)
	ctx := dsl.Context("conf")
	stage := dsl.From("busybox").
		Copy("app.yaml*", "/etc/app/", ctx).
		Run("cat /certs/ca.pem > /ca.copy", dsl.BindMount("/certs", ctx, dsl.Source("certs")))
	_, err = c.Build(t.Context(), stage, driver.BuildOptions{
		ContextDir: t.TempDir(), Contexts: map[string]string{"conf": conf},
		Outputs: []driver.Output{o}, Progress: "quiet", ProgressOut: io.Discard,
	})
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(out, "etc", "app", "app.yaml"))
	require.NoFileExists(t, filepath.Join(out, "etc", "app", "app.yaml.bak"), "the context's .dockerignore applies")
	ca, err := os.ReadFile(filepath.Join(out, "ca.copy"))
	require.NoError(t, err)
	require.Equal(t, "CA\n", string(ca))

	_, err = c.Build(t.Context(), stage, driver.BuildOptions{
		Contexts: map[string]string{"conf": filepath.Join(conf, "missing")}, Progress: "quiet", ProgressOut: io.Discard,
	})
	require.ErrorContains(t, err, "build context conf:")
}

// A named context given as an image replaces the image FROM names, as
// docker buildx build --build-context NAME=docker-image://REF does with the
// Dockerfile frontend. The frontend builds first, on the same daemon; the
// DSL build of the same steps then finds every one of them in the cache:
// the same ops, so the same cache keys.
func TestNamedContextImage(t *testing.T) {
	env := testenv.Get(t)
	c := connect(t)
	marker := "named image context " + time.Now().Format(time.RFC3339Nano)
	dir := t.TempDir()
	df := "FROM base\nRUN echo '" + marker + "' > /marker && cat /etc/os-release | head -1 > /os\nCOPY --from=tools /bin/busybox /copied-busybox\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644))
	out, err := env.BuildctlCmd(t.Context(), "build", "--progress", "plain", "--frontend", "dockerfile.v0",
		"--local", "context="+dir, "--local", "dockerfile="+dir,
		"--opt", "context:base=docker-image://debian:bookworm-slim",
		"--opt", "context:tools=docker-image://busybox:latest").CombinedOutput()
	require.NoError(t, err, "%s", out)

	stage := dsl.From("base").
		Run("echo '"+marker+"' > /marker && cat /etc/os-release | head -1 > /os").
		Copy("/bin/busybox", "/copied-busybox", dsl.From("tools"))
	log := newStatusLog()
	res, err := c.Build(t.Context(), stage, driver.BuildOptions{
		ContextDir: dir, Progress: "quiet", ProgressOut: io.Discard, OnStatus: log.update,
		Contexts: map[string]string{"base": "docker-image://debian:bookworm-slim", "tools": "docker-image://busybox:latest"},
	})
	require.NoError(t, err)
	ops := execAndFileOps(t, res.Compiled.Definition.Def)
	require.Len(t, ops, 2)
	for dgst, op := range ops {
		v := log.vertices[dgst]
		require.NotNil(t, v, "op %s ran", dgst)
		require.True(t, v.Cached, "op %s (%T) is cached from the frontend's build: the same cache key", dgst, op.Op)
	}
	for _, op := range res.Compiled.Definition.Def {
		require.NotContains(t, string(op), "docker.io/library/base", "FROM base reads the named context, not an image named base")
	}
}

// A named context that is a directory replaces the image a COPY --from
// names, as with the frontend: same ops, so the DSL build of a Dockerfile's
// steps is a cache hit after the frontend's.
func TestNamedContextDirectoryReplacesImage(t *testing.T) {
	env := testenv.Get(t)
	c := connect(t)
	marker := "named dir context " + time.Now().Format(time.RFC3339Nano)
	conf := t.TempDir()
	writeTree(t, conf, map[string]string{"app.yaml": marker + "\n"})
	dir := t.TempDir()
	df := "FROM busybox\nCOPY --from=conf app.yaml /etc/app.yaml\nRUN cat /etc/app.yaml > /copy\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644))
	out, err := env.BuildctlCmd(t.Context(), "build", "--progress", "plain", "--frontend", "dockerfile.v0",
		"--local", "context="+dir, "--local", "dockerfile="+dir, "--local", "conf="+conf,
		"--opt", "context:conf=local:conf").CombinedOutput()
	require.NoError(t, err, "%s", out)

	stage := dsl.From("busybox").Copy("app.yaml", "/etc/app.yaml", dsl.From("conf")).Run("cat /etc/app.yaml > /copy")
	log := newStatusLog()
	res, err := c.Build(t.Context(), stage, driver.BuildOptions{
		ContextDir: dir, Progress: "quiet", ProgressOut: io.Discard, OnStatus: log.update,
		Contexts: map[string]string{"conf": conf},
	})
	require.NoError(t, err)
	ops := execAndFileOps(t, res.Compiled.Definition.Def)
	require.Len(t, ops, 2)
	for dgst, op := range ops {
		require.True(t, log.vertices[dgst].Cached, "op %s (%T) is cached from the frontend's build: the same cache key", dgst, op.Op)
	}
}

// gitServer serves a repository holding files over git:// on 127.0.0.1
// with `git daemon`, and returns its URL.
func gitServer(t *testing.T, files map[string]string) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is needed to serve a repository: %v", err)
	}
	root := t.TempDir()
	work := t.TempDir()
	writeTree(t, work, files)
	git := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "git %v: %s", args, out)
	}
	git(root, "init", "--quiet", "--bare", "--initial-branch=main", "repo.git")
	git(work, "init", "--quiet", "--initial-branch=main")
	git(work, "add", ".")
	git(work, "commit", "--quiet", "-m", "files")
	git(work, "push", "--quiet", filepath.Join(root, "repo.git"), "main")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	daemon := exec.Command("git", "daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1", fmt.Sprintf("--port=%d", port), "--base-path="+root, root)
	require.NoError(t, daemon.Start())
	t.Cleanup(func() {
		daemon.Process.Kill()
		daemon.Wait()
	})
	url := fmt.Sprintf("git://127.0.0.1:%d/repo.git", port)
	require.Eventually(t, func() bool {
		return exec.Command("git", "ls-remote", url).Run() == nil
	}, 10*time.Second, 100*time.Millisecond, "git daemon serves %s", url)
	return url
}

// A named context that is a git repository is read as with the frontend:
// after buildctl builds the Dockerfile with the same context, the DSL build
// of its steps is all cache hits.
func TestNamedContextGit(t *testing.T) {
	env := testenv.Get(t)
	c := connect(t)
	marker := "named git context " + time.Now().Format(time.RFC3339Nano)
	repo := gitServer(t, map[string]string{"hello.txt": marker + "\n"}) + "#main"
	dir := t.TempDir()
	df := "FROM busybox\nCOPY --from=src hello.txt /hello.txt\nRUN cat /hello.txt > /copy\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644))
	out, err := env.BuildctlCmd(t.Context(), "build", "--progress", "plain", "--frontend", "dockerfile.v0",
		"--local", "context="+dir, "--local", "dockerfile="+dir, "--opt", "context:src="+repo).CombinedOutput()
	require.NoError(t, err, "%s", out)

	stage := dsl.From("busybox").Copy("hello.txt", "/hello.txt", dsl.From("src")).Run("cat /hello.txt > /copy")
	log := newStatusLog()
	res, err := c.Build(t.Context(), stage, driver.BuildOptions{
		ContextDir: dir, Progress: "quiet", ProgressOut: io.Discard, OnStatus: log.update,
		Contexts: map[string]string{"src": repo},
	})
	require.NoError(t, err)
	ops := execAndFileOps(t, res.Compiled.Definition.Def)
	require.Len(t, ops, 2)
	for dgst, op := range ops {
		require.True(t, log.vertices[dgst].Cached, "op %s (%T) is cached from the frontend's build: the same cache key", dgst, op.Op)
	}
}
