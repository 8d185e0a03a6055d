package testenv_test

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/internal/testenv"
)

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func TestRegistryServesBaseImages(t *testing.T) {
	env := testenv.Get(t)
	for _, tc := range []struct {
		repoTag string
		cmd     []string
	}{
		{"library/debian:bookworm-slim", []string{"bash"}},
		{"library/busybox:latest", []string{"sh"}},
	} {
		t.Run(tc.repoTag, func(t *testing.T) {
			t.Parallel()
			ref, err := name.ParseReference(env.Image(tc.repoTag), name.Insecure)
			require.NoError(t, err)
			img, err := remote.Image(ref, remote.WithContext(t.Context()))
			require.NoError(t, err)

			mt, err := img.MediaType()
			require.NoError(t, err)
			require.Equal(t, types.OCIManifestSchema1, mt)
			layers, err := img.Layers()
			require.NoError(t, err)
			require.Len(t, layers, 1)

			cfg, err := img.ConfigFile()
			require.NoError(t, err)
			require.Equal(t, "linux", cfg.OS)
			require.Equal(t, runtime.GOARCH, cfg.Architecture)
			require.Contains(t, cfg.Config.Env, defaultPath)
			require.Equal(t, tc.cmd, cfg.Config.Cmd)
		})
	}
}

func TestDaemonListsWorker(t *testing.T) {
	env := testenv.Get(t)
	out, err := env.BuildctlCmd(t.Context(), "debug", "workers", "--format", "{{json .}}").Output()
	require.NoError(t, err, "buildctl debug workers: %s", stderrOf(err))

	var workers []struct {
		ID        string `json:"id"`
		Platforms []struct {
			OS           string `json:"os"`
			Architecture string `json:"architecture"`
		} `json:"platforms"`
	}
	require.NoError(t, json.Unmarshal(out, &workers), "buildctl output: %s", out)
	var platforms []string
	for _, w := range workers {
		for _, p := range w.Platforms {
			platforms = append(platforms, p.OS+"/"+p.Architecture)
		}
	}
	require.Contains(t, platforms, "linux/"+runtime.GOARCH, "buildctl output: %s", out)
}

// TestSolveThroughMirror builds Dockerfiles whose FROM names docker.io
// images, which the daemon pulls from the local registry. The debian case
// also reaches Debian's package mirror from a RUN step over the host
// network.
func TestSolveThroughMirror(t *testing.T) {
	env := testenv.Get(t)
	for _, tc := range []struct {
		name, dockerfile, file, want string
	}{
		{
			name:       "busybox",
			dockerfile: "FROM busybox\nRUN echo hi > /hi\n",
			file:       "hi",
			want:       "hi\n",
		},
		{
			name: "debian",
			dockerfile: "FROM debian:bookworm-slim\n" +
				"RUN apt-get update && apt-get install -y --no-install-recommends hello && hello > /greeting\n",
			file: "greeting",
			want: "Hello, world!\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			src := filepath.Join(dir, "src")
			require.NoError(t, os.Mkdir(src, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(src, "Dockerfile"), []byte(tc.dockerfile), 0o644))
			archive := filepath.Join(dir, "image.tar")
			rootfs := filepath.Join(dir, "rootfs")

			out, err := env.BuildctlCmd(t.Context(), "build", "--progress=plain",
				"--frontend", "dockerfile.v0",
				"--local", "context="+src, "--local", "dockerfile="+src,
				"--output", "type=oci,dest="+archive,
				"--output", "type=local,dest="+rootfs,
			).CombinedOutput()
			require.NoError(t, err, "buildctl build:\n%s", out)

			got, err := os.ReadFile(filepath.Join(rootfs, tc.file))
			require.NoError(t, err)
			require.Equal(t, tc.want, string(got))
			require.Contains(t, tarNames(t, archive), "index.json")
		})
	}
}

// recorder is a testing.TB that notes Fatal and Skip instead of stopping.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()           {}
func (r *recorder) Fatal(args ...any) { r.fatal = fmt.Sprint(args...) }
func (r *recorder) Skip(args ...any)  { r.skip = fmt.Sprint(args...) }

// A missing program fails the test under hack/test or CI, and skips it
// elsewhere, with the line that says how to get it.
func TestNeedProgram(t *testing.T) {
	const want = "slipway-no-such-program is not on PATH: install it with apt-get install slipway-pkg, or run ./hack/test, which does"
	for _, tc := range []struct {
		name, e2e, ci string
		fails         bool
	}{
		{"hack/test", "1", "", true},
		{"CI", "", "true", true},
		{"by hand", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SLIPWAY_E2E", tc.e2e)
			t.Setenv("CI", tc.ci)
			r := &recorder{TB: t}
			require.Empty(t, testenv.NeedProgram(r, "slipway-no-such-program", "slipway-pkg"))
			if tc.fails {
				require.Equal(t, want, r.fatal)
				require.Empty(t, r.skip)
			} else {
				require.Equal(t, want, r.skip)
				require.Empty(t, r.fatal)
			}
		})
	}
	sh, err := exec.LookPath("sh")
	require.NoError(t, err)
	r := &recorder{TB: t}
	require.Equal(t, sh, testenv.NeedProgram(r, "sh", "dash"))
	require.Empty(t, r.fatal+r.skip)
}

func tarNames(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var names []string
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		require.NoError(t, err)
		names = append(names, h.Name)
	}
}

func stderrOf(err error) string {
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return string(ee.Stderr)
	}
	return ""
}
