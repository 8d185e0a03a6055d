package lockfile_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/dsltest"
	"github.com/slipway-build/slipway/internal/golden"
	"github.com/slipway-build/slipway/lockfile"
)

var (
	amd64 = ocispecs.Platform{OS: "linux", Architecture: "amd64"}
	arm64 = ocispecs.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
)

func request(p ocispecs.Platform) sourceresolver.Opt {
	return sourceresolver.Opt{ImageOpt: &sourceresolver.ResolveImageOpt{Platform: &p, ResolveMode: llb.ResolveModeDefault.String()}}
}

// filled is a lock with alpine and busybox on two platforms, resolved by the
// fake resolver.
func filled(t *testing.T, path string) *lockfile.Lock {
	t.Helper()
	l := lockfile.New(path)
	u := l.Updater(dsltest.NewResolver(nil), lockfile.UpdateMissing, nil)
	for _, ref := range []string{"busybox", "alpine", "docker.io/library/alpine:latest"} {
		for _, p := range []ocispecs.Platform{amd64, arm64} {
			_, _, _, err := u.ResolveImageConfig(t.Context(), ref, request(p))
			require.NoError(t, err)
		}
	}
	return l
}

func TestRoundTripIsByteIdentical(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "images.lock.json")
	l := filled(t, path)
	require.NoError(t, l.Save())
	first, err := os.ReadFile(path)
	require.NoError(t, err)

	loaded, err := lockfile.Load(path)
	require.NoError(t, err)
	require.NoError(t, loaded.Save())
	second, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(first), string(second))

	// A second, independent fill gives the same bytes: no map order, no time.
	again, err := filled(t, path).Bytes()
	require.NoError(t, err)
	require.Equal(t, string(first), string(again))

	require.Equal(t, []string{"docker.io/library/alpine:latest", "docker.io/library/busybox:latest"}, loaded.Refs())
	require.True(t, strings.HasPrefix(string(first), "{\n  \"version\": 1,\n  \"images\": {\n    \"docker.io/library/alpine:latest\": {\n      \"linux/amd64\": {\n        \"digest\": \"sha256:"), string(first))
	require.True(t, strings.HasSuffix(string(first), "\n      }\n    }\n  }\n}\n"), string(first))
	leftovers, err := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp-*"))
	require.NoError(t, err)
	require.Empty(t, leftovers)
}

// A hand-edited file, valid but not in canonical form, is rewritten in the
// order of the format (version, images; digest, config), references and
// platforms sorted, the config's keys sorted and its numbers kept.
func TestSaveIsCanonical(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "l.json")
	in := `{"images":{"docker.io/library/alpine:latest":{"linux/amd64":{"config":{"os":"linux","architecture":"amd64","rootfs":{"type":"layers","diff_ids":[]},"config":{"StopSignal":"SIGTERM","Env":["A=1"]},"size":1.50e3}, "digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000"}}},"version":1}`
	require.NoError(t, os.WriteFile(path, []byte(in), 0o644))
	l, err := lockfile.Load(path)
	require.NoError(t, err)
	require.NoError(t, l.Save())
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	want := `{
  "version": 1,
  "images": {
    "docker.io/library/alpine:latest": {
      "linux/amd64": {
        "digest": "sha256:0000000000000000000000000000000000000000000000000000000000000000",
        "config": {
          "architecture": "amd64",
          "config": {
            "Env": [
              "A=1"
            ],
            "StopSignal": "SIGTERM"
          },
          "os": "linux",
          "rootfs": {
            "diff_ids": [],
            "type": "layers"
          },
          "size": 1.50e3
        }
      }
    }
  }
}
`
	require.Equal(t, want, string(got))
}

func TestLockResolverAnswersFromTheFile(t *testing.T) {
	t.Parallel()
	l := filled(t, "x.json")
	r := l.Resolver(nil)
	ref, dgst, cfg, err := r.ResolveImageConfig(t.Context(), "alpine", request(arm64))
	require.NoError(t, err)
	require.Equal(t, "alpine", ref)
	_, wantDgst, wantCfg, err := dsltest.NewResolver(nil).ResolveImageConfig(t.Context(), "docker.io/library/alpine:latest", request(arm64))
	require.NoError(t, err)
	require.Equal(t, wantDgst, dgst)
	require.JSONEq(t, string(wantCfg), string(cfg))

	// linux/arm64 and linux/arm64/v8 are one platform.
	_, dgst2, _, err := r.ResolveImageConfig(t.Context(), "alpine:latest", request(ocispecs.Platform{OS: "linux", Architecture: "arm64"}))
	require.NoError(t, err)
	require.Equal(t, dgst, dgst2)
}

func TestMissingReferenceNamesItAndTheCommand(t *testing.T) {
	t.Parallel()
	l := filled(t, "testdata/app.lock.json")
	cmd := []string{"redis", "--update-lock", "--lock", "testdata/app.lock.json", "-variant", "it's", "llb"}
	for _, tc := range []struct {
		ref  string
		p    ocispecs.Platform
		want string
	}{
		{"debian:bookworm-slim", amd64, "image docker.io/library/debian:bookworm-slim for platform linux/amd64 is not in the lock file testdata/app.lock.json; add it with: redis --update-lock --lock testdata/app.lock.json -variant 'it'\\''s' llb"},
		{"alpine", ocispecs.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, "image docker.io/library/alpine:latest for platform linux/arm/v7 is not in the lock file"},
	} {
		_, _, _, err := l.Resolver(cmd).ResolveImageConfig(t.Context(), tc.ref, request(tc.p))
		require.ErrorIs(t, err, lockfile.ErrMissing)
		require.ErrorContains(t, err, tc.want)
	}
	_, _, _, err := l.Resolver(nil).ResolveImageConfig(t.Context(), "redis", request(amd64))
	require.EqualError(t, err, "image docker.io/library/redis:latest for platform linux/amd64 is not in the lock file testdata/app.lock.json; add it by running again with --update-lock")
}

// countingResolver counts upstream requests.
type countingResolver struct {
	mu    sync.Mutex
	n     int
	inner llb.ImageMetaResolver
}

func (c *countingResolver) ResolveImageConfig(ctx context.Context, ref string, opt sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.inner.ResolveImageConfig(ctx, ref, opt)
}

func TestUpdaterModes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "l.json")
	l := filled(t, path)
	require.NoError(t, l.Save())
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	// missing: a locked image is not asked for; a new one is, once, and the
	// file is saved as soon as it is added.
	up := &countingResolver{inner: dsltest.NewResolver(nil)}
	u := l.Updater(up, lockfile.UpdateMissing, lockfile.Save)
	for range 3 {
		_, _, _, err := u.ResolveImageConfig(t.Context(), "alpine", request(amd64))
		require.NoError(t, err)
	}
	require.Equal(t, 0, up.n)
	for range 2 {
		_, _, _, err = u.ResolveImageConfig(t.Context(), "debian:bookworm-slim", request(amd64))
		require.NoError(t, err)
	}
	require.Equal(t, 1, up.n)
	saved, err := lockfile.Load(path)
	require.NoError(t, err)
	_, ok := saved.Get("docker.io/library/debian:bookworm-slim", amd64)
	require.True(t, ok, "saved on change")

	// all: every image is asked for again, once per run; unchanged answers
	// leave the file alone.
	require.NoError(t, os.WriteFile(path, before, 0o644))
	l2, err := lockfile.Load(path)
	require.NoError(t, err)
	up2 := &countingResolver{inner: dsltest.NewResolver(nil)}
	saves := 0
	u2 := l2.Updater(up2, lockfile.UpdateAll, func(*lockfile.Lock) error { saves++; return nil })
	for range 2 {
		_, _, _, err := u2.ResolveImageConfig(t.Context(), "alpine", request(amd64))
		require.NoError(t, err)
	}
	require.Equal(t, 1, up2.n)
	require.Equal(t, 0, saves)

	// An upstream error is returned as it is and changes nothing.
	boom := errors.New("registry down")
	_, _, _, err = l2.Updater(failing{boom}, lockfile.UpdateAll, nil).ResolveImageConfig(t.Context(), "alpine", request(amd64))
	require.ErrorIs(t, err, boom)
}

type failing struct{ err error }

func (f failing) ResolveImageConfig(context.Context, string, sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	return "", "", nil, f.err
}

func TestUpdateModeFlag(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]lockfile.UpdateMode{"true": lockfile.UpdateMissing, "missing": lockfile.UpdateMissing, "all": lockfile.UpdateAll, "false": lockfile.UpdateNone} {
		var m lockfile.UpdateMode
		require.NoError(t, m.Set(in))
		require.Equal(t, want, m, in)
	}
	var m lockfile.UpdateMode
	require.EqualError(t, m.Set("some"), "want missing (the default) or all")
	require.True(t, m.IsBoolFlag())
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := lockfile.Load(filepath.Join(t.TempDir(), "nope.json"))
	require.ErrorIs(t, err, fs.ErrNotExist)
}

// Every malformed file is rejected with the file and the key named; the
// cases are files in testdata/malformed, the expected errors in
// testdata/malformed/errors.json (go test -update rewrites it).
func TestMalformed(t *testing.T) {
	files, err := filepath.Glob("testdata/malformed/*.lock.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	got := map[string]string{}
	for _, f := range files {
		_, err := lockfile.Load(f)
		require.Error(t, err, f)
		require.True(t, strings.HasPrefix(err.Error(), "lock file "+f+": "), "names the file")
		got[filepath.Base(f)] = err.Error()
	}
	dt, err := json.MarshalIndent(got, "", "  ")
	require.NoError(t, err)
	golden.Check(t, "malformed/errors.json", string(dt)+"\n")
}
