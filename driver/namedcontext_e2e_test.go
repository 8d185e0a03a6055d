package driver_test

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
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
	o := driver.Output{Type: "local", Dest: out}
	ctx := dsl.Context("conf")
	stage := dsl.From("busybox").
		Copy("app.yaml*", "/etc/app/", ctx).
		Run("cat /certs/ca.pem > /ca.copy", dsl.BindMount("/certs", ctx, dsl.Source("certs")))
	_, err := c.Build(t.Context(), stage, driver.BuildOptions{
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

// sameCacheAsFrontend builds a Dockerfile with buildctl and the Dockerfile
// frontend, given the named contexts as buildctl options, then the DSL
// stage of the same steps with the same contexts, and requires every exec
// and file op of the DSL build to be a cache hit from the first: the same
// ops, so the same cache keys. It returns the DSL build's result.
func sameCacheAsFrontend(t *testing.T, dockerfile string, buildctlArgs []string, stage dsl.Stage, contexts map[string]string, compile ...dsl.CompileOption) *driver.Result {
	t.Helper()
	env := testenv.Get(t)
	c := connect(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644))
	args := append([]string{"build", "--progress", "plain", "--frontend", "dockerfile.v0",
		"--local", "context=" + dir, "--local", "dockerfile=" + dir}, buildctlArgs...)
	out, err := env.BuildctlCmd(t.Context(), args...).CombinedOutput()
	require.NoError(t, err, "%s", out)

	log := newStatusLog()
	res, err := c.Build(t.Context(), stage, driver.BuildOptions{
		ContextDir: dir, Progress: "quiet", ProgressOut: io.Discard, OnStatus: log.update, Contexts: contexts, Compile: compile,
	})
	require.NoError(t, err)
	ops := execAndFileOps(t, res.Compiled.Definition.Def)
	require.NotEmpty(t, ops)
	for dgst, op := range ops {
		v := log.vertices[dgst]
		require.NotNil(t, v, "op %s ran", dgst)
		require.True(t, v.Cached, "op %s (%T) is cached from the frontend's build: the same cache key", dgst, op.Op)
	}
	return res
}

// A named context given as an image replaces the image FROM names, and a
// COPY --from, as docker buildx build --build-context
// NAME=docker-image://REF does with the Dockerfile frontend.
func TestNamedContextImage(t *testing.T) {
	marker := "named image context " + time.Now().Format(time.RFC3339Nano)
	res := sameCacheAsFrontend(t,
		"FROM base\nRUN echo '"+marker+"' > /marker && cat /etc/os-release | head -1 > /os\nCOPY --from=tools /bin/busybox /copied-busybox\n",
		[]string{"--opt", "context:base=docker-image://debian:bookworm-slim", "--opt", "context:tools=docker-image://busybox:latest"},
		dsl.From("base").
			Run("echo '"+marker+"' > /marker && cat /etc/os-release | head -1 > /os").
			Copy("/bin/busybox", "/copied-busybox", dsl.From("tools")),
		map[string]string{"base": "docker-image://debian:bookworm-slim", "tools": "docker-image://busybox:latest"})
	for _, op := range res.Compiled.Definition.Def {
		require.NotContains(t, string(op), "docker.io/library/base", "FROM base reads the named context, not an image named base")
	}
}

// A named context that is a directory replaces the image a COPY --from
// names.
func TestNamedContextDirectoryReplacesImage(t *testing.T) {
	marker := "named dir context " + time.Now().Format(time.RFC3339Nano)
	conf := t.TempDir()
	writeTree(t, conf, map[string]string{"app.yaml": marker + "\n"})
	sameCacheAsFrontend(t,
		"FROM busybox\nCOPY --from=conf app.yaml /etc/app.yaml\nRUN cat /etc/app.yaml > /copy\n",
		[]string{"--local", "conf=" + conf, "--opt", "context:conf=local:conf"},
		dsl.From("busybox").Copy("app.yaml", "/etc/app.yaml", dsl.From("conf")).Run("cat /etc/app.yaml > /copy"),
		map[string]string{"conf": conf})
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

// A named context that is a git repository, served by a local git daemon.
func TestNamedContextGit(t *testing.T) {
	marker := "named git context " + time.Now().Format(time.RFC3339Nano)
	repo := gitServer(t, map[string]string{"hello.txt": marker + "\n"}) + "#main"
	sameCacheAsFrontend(t,
		"FROM busybox\nCOPY --from=src hello.txt /hello.txt\nRUN cat /hello.txt > /copy\n",
		[]string{"--opt", "context:src=" + repo},
		dsl.From("busybox").Copy("hello.txt", "/hello.txt", dsl.From("src")).Run("cat /hello.txt > /copy"),
		map[string]string{"src": repo})
}

// ociLayoutOf writes the test registry's image repoTag into a new OCI
// layout directory, tagged latest, and returns the directory and the
// image's digest.
func ociLayoutOf(t *testing.T, repoTag string) (string, string) {
	t.Helper()
	env := testenv.Get(t)
	ref, err := name.ParseReference(env.Image(repoTag), name.Insecure)
	require.NoError(t, err)
	img, err := remote.Image(ref, remote.WithContext(t.Context()))
	require.NoError(t, err)
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	require.NoError(t, err)
	require.NoError(t, p.AppendImage(img, layout.WithAnnotations(map[string]string{ocispecs.AnnotationRefName: "latest"})))
	dgst, err := img.Digest()
	require.NoError(t, err)
	return dir, dgst.String()
}

// A named context that is an image in an OCI layout directory replaces
// the image FROM names, as docker buildx build --build-context
// NAME=oci-layout://PATH does: the daemon reads the image from the
// client's store, and the steps on it share the frontend's cache.
func TestNamedContextOCILayout(t *testing.T) {
	dir, dgst := ociLayoutOf(t, "library/busybox:latest")
	marker := "oci layout context " + time.Now().Format(time.RFC3339Nano)
	res := sameCacheAsFrontend(t,
		"FROM base\nRUN echo '"+marker+"' > /marker && ls /bin/busybox > /found\n",
		[]string{"--oci-layout", "layoutstore=" + dir, "--opt", "context:base=oci-layout://layoutstore@" + dgst},
		dsl.From("base").Run("echo '"+marker+"' > /marker && ls /bin/busybox > /found"),
		map[string]string{"base": "oci-layout://" + dir})
	var found bool
	for _, dt := range res.Compiled.Definition.Def {
		found = found || strings.Contains(string(dt), "oci-layout://docker.io/library/base@"+dgst)
	}
	require.True(t, found, "FROM base reads the layout's image by its digest")
	require.Contains(t, res.Compiled.Image.Config.Env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "the layout's image config is inherited")

	c := connect(t)
	_, err := c.Build(t.Context(), dsl.From("base"), driver.BuildOptions{
		ContextDir: t.TempDir(), Contexts: map[string]string{"base": "oci-layout://" + dir + ":v9"}, Progress: "quiet", ProgressOut: io.Discard,
	})
	require.ErrorContains(t, err, `build context base: oci-layout://`+dir+`:v9: the OCI layout tags no image "v9"`)
}

// epochFromContext builds, with buildctl and then the DSL, a stage that
// declares SOURCE_DATE_EPOCH and writes it out, the arg naming the named
// context src given as value, and requires the DSL's step to be a cache
// hit: the same time in the same environment.
func epochFromContext(t *testing.T, value string) *driver.Result {
	t.Helper()
	run := "echo \"$SOURCE_DATE_EPOCH " + value + " " + time.Now().Format(time.RFC3339Nano) + "\" > /stamp"
	return sameCacheAsFrontend(t,
		"FROM busybox\nARG SOURCE_DATE_EPOCH\nRUN "+run+"\n",
		[]string{"--opt", "context:src=" + value, "--opt", "build-arg:SOURCE_DATE_EPOCH=src"},
		dsl.From("busybox").Arg("SOURCE_DATE_EPOCH").Run(run),
		map[string]string{"src": value}, dsl.WithBuildArgs(map[string]string{"SOURCE_DATE_EPOCH": "src"}))
}

// SOURCE_DATE_EPOCH may name a named context, as with the frontend: a git
// repository gives its commit's time. The stage that declares the arg
// runs with the same value as the frontend's build (a cache hit), and the
// build's epoch is that time.
func TestSourceDateEpochFromGitContext(t *testing.T) {
	repo := gitServer(t, map[string]string{"hello.txt": time.Now().Format(time.RFC3339Nano) + "\n"}) + "#main"
	res := epochFromContext(t, repo)
	require.NotNil(t, res.Compiled.Epoch)
	require.WithinDuration(t, time.Now(), *res.Compiled.Epoch, 5*time.Minute, "the commit was made by this test")
}

// An http file gives its Last-Modified time; without one, an archive gives
// the time of its newest file, which the daemon downloads for it.
func TestSourceDateEpochFromHTTPContext(t *testing.T) {
	modified := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	newest := time.Date(2011, 12, 13, 14, 15, 16, 0, time.UTC)
	var archive bytes.Buffer
	tw := tar.NewWriter(&archive)
	for name, tm := range map[string]time.Time{"a.txt": newest.Add(-time.Hour), "b.txt": newest} {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: 1, ModTime: tm, Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte("x"))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/file.txt":
			http.ServeContent(w, r, "file.txt", modified, strings.NewReader("content\n"))
		case "/app.tar":
			w.Write(archive.Bytes()) // no Last-Modified
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)

	for path, want := range map[string]time.Time{"/file.txt": modified, "/app.tar": newest} {
		t.Run(path, func(t *testing.T) {
			res := epochFromContext(t, srv.URL+path)
			require.NotNil(t, res.Compiled.Epoch)
			require.True(t, want.Equal(*res.Compiled.Epoch), "epoch %v, want %v", res.Compiled.Epoch, want)
		})
	}
}
