package frontend_test

import (
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/solver/pb"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/internal/frontend"
	"github.com/slipway-build/slipway/internal/offline"
)

// frontendImage is the image config the frontend makes of a Dockerfile
// whose base image is base.
func frontendImage(t *testing.T, dockerfile string, base dockerspec.DockerOCIImage) *dockerspec.DockerOCIImage {
	t.Helper()
	caps := frontend.AllCaps()
	platform := ocispecs.Platform{OS: "linux", Architecture: "amd64"}
	res, err := dockerfile2llb.Dockerfile2LLB(t.Context(), []byte(dockerfile), dockerfile2llb.ConvertOpt{
		Config:         dockerui.Config{},
		MetaResolver:   offline.NewResolver(map[string]dockerspec.DockerOCIImage{"docker.io/library/base:latest": base}),
		TargetPlatform: &platform,
		LLBCaps:        &caps,
	})
	require.NoError(t, err)
	return res.Image
}

func TestInitFromImageAsTheFrontend(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, workdir, wantDir string
		env                    []string
	}{
		{"absolute workdir, PATH missing", "/srv/app", "/srv/app", []string{"A=1"}},
		{"relative workdir against itself", "app", "/app/app", []string{"PATH=/bin"}},
		{"no workdir", "", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := offline.DefaultImage()
			base.Config.Env = tc.env
			base.Config.WorkingDir = tc.workdir
			base.Config.User = "nobody"
			want := frontendImage(t, "FROM base\n", base)

			img := frontend.Clone(base)
			img.OS = "linux"
			start, err := frontend.InitFromImage(&img, "linux")
			require.NoError(t, err)
			require.Equal(t, want.Config.Env, img.Config.Env)
			require.Equal(t, want.Config.Env, start.Env)
			require.Equal(t, tc.wantDir, start.Dir)
			if tc.wantDir != "" {
				require.Equal(t, want.Config.WorkingDir, img.Config.WorkingDir)
			}
			require.Equal(t, "nobody", start.User)
		})
	}
}

func TestInitFromImageWindowsLeavesPATH(t *testing.T) {
	t.Parallel()
	var img dockerspec.DockerOCIImage
	start, err := frontend.InitFromImage(&img, "windows")
	require.NoError(t, err)
	require.Empty(t, start.Env)
	require.Empty(t, img.Config.Env)
}

func TestAddEnvAsTheFrontend(t *testing.T) {
	t.Parallel()
	base := offline.DefaultImage()
	base.Config.Env = []string{"A=1", "B=2"}
	want := frontendImage(t, "FROM base\nENV B=3 C=4 a=5\n", base)

	env := []string{"A=1", "B=2"}
	if !frontend.HasEnv(env, "PATH") {
		env = append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	for _, kv := range [][2]string{{"B", "3"}, {"C", "4"}, {"a", "5"}} {
		env = frontend.AddEnv(env, kv[0], kv[1])
	}
	require.Equal(t, want.Config.Env, env)
}

func TestHasEnv(t *testing.T) {
	t.Parallel()
	require.True(t, frontend.HasEnv([]string{"A=1", "PATH=/bin"}, "PATH"))
	require.False(t, frontend.HasEnv([]string{"PATHS=/bin", "A"}, "PATH"))
	require.True(t, frontend.HasEnv([]string{"A"}, "A"))
}

func TestHistoryCommentAsTheFrontend(t *testing.T) {
	t.Parallel()
	img := frontendImage(t, "FROM base\nENV A=1\n", offline.DefaultImage())
	require.NotEmpty(t, img.History)
	require.Equal(t, frontend.HistoryComment, img.History[len(img.History)-1].Comment)
}

func TestShell(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"/bin/sh", "-c"}, frontend.Shell(nil, "linux"))
	require.Equal(t, []string{"cmd", "/S", "/C"}, frontend.Shell(nil, "windows"))
	own := []string{"/bin/bash", "-c"}
	got := frontend.Shell(own, "windows")
	require.Equal(t, own, got)
	got[0] = "changed"
	require.Equal(t, "/bin/bash", own[0], "the image's shell is copied")
}

func TestHTTPFilename(t *testing.T) {
	t.Parallel()
	for src, want := range map[string]string{
		"https://example.com/a/b.tar.gz?x=1": "b.tar.gz",
		"https://example.com/":               "__unnamed__",
		"https://example.com":                "__unnamed__",
		"http://[::1":                        "__unnamed__",
	} {
		require.Equal(t, want, frontend.HTTPFilename(src), src)
	}
}

func TestAllCaps(t *testing.T) {
	t.Parallel()
	caps := frontend.AllCaps()
	require.NoError(t, caps.Supports(pb.CapMergeOp))
	require.NoError(t, caps.Supports(pb.CapExecMountBindReadWriteNoOutput))
}

func TestEmpty(t *testing.T) {
	t.Parallel()
	img := frontend.Empty(ocispecs.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"})
	require.Equal(t, "/", img.Config.WorkingDir)
	require.Equal(t, []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, img.Config.Env)
	require.Equal(t, "layers", img.RootFS.Type)
	require.Empty(t, frontend.Empty(ocispecs.Platform{OS: "windows"}).Config.Env)
}

func TestCloneIsDeep(t *testing.T) {
	t.Parallel()
	src := frontend.Empty(ocispecs.Platform{OS: "linux"})
	src.Config.Labels = map[string]string{"a": "1"}
	c := frontend.Clone(src)
	c.Config.Env[0] = "PATH=/x"
	c.Config.Labels["a"] = "2"
	require.NotEqual(t, "PATH=/x", src.Config.Env[0])
	require.Equal(t, "1", src.Config.Labels["a"])
}
