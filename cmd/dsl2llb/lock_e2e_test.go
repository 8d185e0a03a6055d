package main

import (
	"archive/tar"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/internal/testenv"
	"github.com/slipway-build/slipway/lockfile"
)

// TestLockEndToEnd: --update-lock on the test daemon writes a lock; the
// locked, offline output is the same LLB; `buildctl build` of that LLB, with
// the image config from its metadata as the exporter attribute, gives the
// same image config as the program's own build path with the same lock.
// (Long on purpose: one story, each step reading the files the last wrote.)
func TestLockEndToEnd(t *testing.T) {
	env := testenv.Get(t)
	dir := t.TempDir()
	lockPath := filepath.Join(dir, "redis.lock.json")
	updated := filepath.Join(dir, "updated.llb")

	stdout, stderr, code := dsl2llb(t, "--lock", lockPath, "--update-lock", "-o", updated, redisPkg, "-variant", "debian")
	require.Equal(t, 0, code, stderr)
	require.Empty(t, stdout)
	lock, err := lockfile.Load(lockPath)
	require.NoError(t, err)
	require.Equal(t, []string{"docker.io/library/debian:bookworm-slim"}, lock.Refs())
	lockBytes, err := os.ReadFile(lockPath)
	require.NoError(t, err)

	t.Run("offline output is the same", func(t *testing.T) {
		offline, stderr, code := dsl2llb(t, "--lock", lockPath, redisPkg, "-variant", "debian")
		require.Equal(t, 0, code, stderr)
		want, err := os.ReadFile(updated)
		require.NoError(t, err)
		require.True(t, bytes.Equal(want, []byte(offline)), "the LLB of the updating run and of the locked run differ")
	})

	t.Run("update all keeps a current lock byte for byte", func(t *testing.T) {
		_, stderr, code := dsl2llb(t, "--lock", lockPath, "--update-lock=all", redisPkg, "-variant", "debian")
		require.Equal(t, 0, code, stderr)
		after, err := os.ReadFile(lockPath)
		require.NoError(t, err)
		require.Equal(t, string(lockBytes), string(after))
	})

	t.Run("json is what buildctl debug dump-llb prints, with Go locations", func(t *testing.T) {
		js, stderr, code := dsl2llb(t, "--lock", lockPath, "--format", "json", redisPkg, "-variant", "debian")
		require.Equal(t, 0, code, stderr)
		dump := env.BuildctlCmd(t.Context(), "debug", "dump-llb")
		dump.Stdin = bytes.NewReader(mustRead(t, updated))
		var dumpOut, dumpErr bytes.Buffer
		dump.Stdout, dump.Stderr = &dumpOut, &dumpErr
		require.NoError(t, dump.Run(), dumpErr.String())
		got := strings.Split(strings.TrimSuffix(js, "\n"), "\n")
		want := strings.Split(strings.TrimSuffix(dumpOut.String(), "\n"), "\n")
		require.Len(t, got, len(want))
		located := 0
		for i := range want[:len(want)-1] {
			// dump-llb's object, and the Go line that made the op.
			var op map[string]json.RawMessage
			require.NoError(t, json.Unmarshal([]byte(got[i]), &op))
			if loc, ok := op["Location"]; ok {
				require.Regexp(t, `^"examples/redis/main\.go:\d+"$`, string(loc))
				located++
				delete(op, "Location")
			}
			dt, err := json.Marshal(op)
			require.NoError(t, err)
			require.JSONEq(t, want[i], string(dt), "op %d", i)
		}
		require.NotZero(t, located, "no op carries its Go location")
		var last map[string]json.RawMessage
		require.NoError(t, json.Unmarshal([]byte(got[len(got)-1]), &last))
		require.Contains(t, last, "ImageConfig")
		delete(last, "ImageConfig")
		delete(last, "Location")
		lastDt, err := json.Marshal(last)
		require.NoError(t, err)
		require.JSONEq(t, want[len(want)-1], string(lastDt))
	})

	prog := filepath.Join(dir, "redis")
	out, err := exec.CommandContext(t.Context(), "go", "build", "-o", prog, redisPkg).CombinedOutput()
	require.NoError(t, err, "%s", out)

	t.Run("build path reports a missing image with the command that adds it", func(t *testing.T) {
		cmd := exec.CommandContext(t.Context(), prog, "--lock", lockPath, "--progress", "quiet", "-o", "type=oci,dest="+filepath.Join(dir, "never.tar"))
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, "%s", out)
		require.Equal(t, 1, exit.ExitCode())
		require.Contains(t, string(out), "image docker.io/library/alpine:latest for platform")
		require.Contains(t, string(out), "add it with: redis --update-lock --lock "+lockPath+" --progress quiet -o type=oci,dest=")
		require.NoFileExists(t, filepath.Join(dir, "never.tar"))
	})

	// The build path: the program itself, resolving from the lock.
	viaProgram := filepath.Join(dir, "program.oci.tar")
	// No provenance: buildctl makes none, and the archives compare as plain manifests.
	cmd := exec.CommandContext(t.Context(), prog, "--lock", lockPath, "--progress", "plain", "--provenance=false", "-o", "type=oci,dest="+viaProgram, "-variant", "debian")
	out, err = cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)

	// buildctl, from the LLB file alone.
	def, err := llb.ReadFrom(bytes.NewReader(mustRead(t, updated)))
	require.NoError(t, err)
	cfg := def.Metadata[lastDigest(t, def)].Description[dsl.ImageConfigKey]
	require.NotEmpty(t, cfg)
	viaBuildctl := filepath.Join(dir, "buildctl.oci.tar")
	output := csvLine(t, "type=oci", "dest="+viaBuildctl, dsl.ImageConfigKey+"="+cfg)
	bc := env.BuildctlCmd(t.Context(), "build", "--progress", "plain", "--output", output)
	bc.Stdin = bytes.NewReader(mustRead(t, updated))
	out, err = bc.CombinedOutput()
	require.NoError(t, err, "%s", out)

	want := imageConfig(t, viaProgram)
	got := imageConfig(t, viaBuildctl)
	require.Equal(t, []any{"redis-server"}, want["config"].(map[string]any)["Cmd"])
	require.Equal(t, want, got)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	dt, err := os.ReadFile(path)
	require.NoError(t, err)
	return dt
}

// csvLine joins fields as buildctl's --output reads them: CSV, quoted where
// a field has commas or quotes.
func csvLine(t *testing.T, fields ...string) string {
	t.Helper()
	var b strings.Builder
	w := csv.NewWriter(&b)
	require.NoError(t, w.Write(fields))
	w.Flush()
	require.NoError(t, w.Error())
	return strings.TrimSuffix(b.String(), "\n")
}

// imageConfig reads the image config out of an OCI archive, without the
// creation times, which differ between any two exports.
func imageConfig(t *testing.T, archive string) map[string]any {
	t.Helper()
	blobs := map[string][]byte{}
	f, err := os.Open(archive)
	require.NoError(t, err)
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if h.Typeflag != tar.TypeReg || (h.Name != "index.json" && h.Size > 1<<20) {
			continue
		}
		dt, err := io.ReadAll(tr)
		require.NoError(t, err)
		blobs[h.Name] = dt
	}
	blob := func(d string) []byte {
		dt, ok := blobs["blobs/"+strings.Replace(d, ":", "/", 1)]
		require.True(t, ok, "blob %s in %s", d, archive)
		return dt
	}
	var index ocispecs.Index
	require.NoError(t, json.Unmarshal(blobs["index.json"], &index))
	require.Len(t, index.Manifests, 1)
	var manifest ocispecs.Manifest
	require.NoError(t, json.Unmarshal(blob(index.Manifests[0].Digest.String()), &manifest))
	var cfg map[string]any
	require.NoError(t, json.Unmarshal(blob(manifest.Config.Digest.String()), &cfg))
	delete(cfg, "created")
	if hist, ok := cfg["history"].([]any); ok {
		for _, h := range hist {
			delete(h.(map[string]any), "created")
		}
	}
	return cfg
}
