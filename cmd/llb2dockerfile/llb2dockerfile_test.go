package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-build/slipway/internal/golden"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/internal/cmdutil"
	"github.com/slipway-build/slipway/internal/parity"
	"github.com/slipway-build/slipway/lockfile"
)

// lock pins golang:1.22 and busybox, the images of the multi-stage build.
const lock = "../dsl2llb/testdata/multistage.lock.json"

// llb2dockerfile runs the command in process and returns stdout, stderr and
// the exit status.
func llb2dockerfile(t *testing.T, stdin []byte, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), args, bytes.NewReader(stdin), &stdout, &stderr)
	code := cmdutil.ExitCode("llb2dockerfile", err, &stderr)
	return stdout.String(), stderr.String(), code
}

// compile compiles a Dockerfile with the frontend, resolving from the lock,
// and writes its definition and image config into dir.
func compile(t *testing.T, dockerfile []byte, dir string) (llbFile, configFile string, out *parity.Output) {
	t.Helper()
	l, err := lockfile.Load(lock)
	require.NoError(t, err)
	out, err = parity.Dockerfile(t.Context(), dockerfile, parity.Options{Resolver: l.Resolver(nil), Caps: parity.AllCaps()})
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, llb.WriteTo(out.Definition, &b))
	llbFile = filepath.Join(dir, "build.llb")
	require.NoError(t, os.WriteFile(llbFile, b.Bytes(), 0o644))
	configFile = filepath.Join(dir, "image.json")
	require.NoError(t, os.WriteFile(configFile, out.Image, 0o644))
	return llbFile, configFile, out
}

// TestMultiStage decompiles the frontend's definition of a multi-stage
// Dockerfile; the command's own check compiles the result back.
func TestMultiStage(t *testing.T) {
	src, err := os.ReadFile("testdata/multistage.Dockerfile.in")
	require.NoError(t, err)
	llbFile, configFile, want := compile(t, src, t.TempDir())
	stdout, stderr, code := llb2dockerfile(t, nil, "--lock", lock, "--config", configFile, llbFile)
	require.Equal(t, 0, code, stderr)
	golden.Check(t, "multistage.Dockerfile", stdout)

	// From stdin, and the result compiles to the same digest and config.
	dt, err := os.ReadFile(llbFile)
	require.NoError(t, err)
	again, stderr, code := llb2dockerfile(t, dt, "--lock", lock, "--config", configFile, "-")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, stdout, again)
	_, _, got := compile(t, []byte(stdout), t.TempDir())
	require.Empty(t, parity.Diff(want, got))
}

// TestFromDSL closes the loop from every example program: dsl2llb writes
// the LLB, with the image config in its metadata, and llb2dockerfile writes
// a Dockerfile that its check compiles to that definition and config.
func TestFromDSL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds dsl2llb and the examples")
	}
	merged := mergeLocks(t, lock, "../dsl2llb/testdata/redis.lock.json")
	for _, tc := range []struct {
		pkg  string
		args []string
		want []string
	}{
		{"../../examples/redis", nil, []string{"FROM alpine:latest@sha256:", "RUN apk add --update redis\n", `CMD ["redis-server"]`}},
		{"../../examples/redis", []string{"-variant", "debian"}, []string{"FROM debian:bookworm-slim@sha256:"}},
		{"../../examples/multistage", nil, []string{"FROM debian:bookworm-slim@sha256:", "AS stage-0", "COPY --from=stage-0"}},
		{"../dsl2llb/testdata/multistage", nil, []string{"FROM golang:1.22@sha256:", "ENTRYPOINT ["}},
	} {
		t.Run(strings.Join(append([]string{filepath.Base(tc.pkg)}, tc.args...), " "), func(t *testing.T) {
			llbFile := filepath.Join(t.TempDir(), "build.llb")
			cmd := exec.Command("go", append([]string{"run", "../dsl2llb", "--lock", merged, "-o", llbFile, tc.pkg}, tc.args...)...)
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			stdout, stderr, code := llb2dockerfile(t, nil, "--lock", merged, llbFile)
			require.Equal(t, 0, code, stderr)
			for _, w := range tc.want {
				require.Contains(t, stdout, w)
			}
		})
	}
}

// mergeLocks writes one lock file with the images of several.
func mergeLocks(t *testing.T, files ...string) string {
	t.Helper()
	merged := map[string]any{"version": 1}
	images := map[string]any{}
	for _, f := range files {
		dt, err := os.ReadFile(f)
		require.NoError(t, err)
		var l struct {
			Images map[string]any `json:"images"`
		}
		require.NoError(t, json.Unmarshal(dt, &l))
		for k, v := range l.Images {
			images[k] = v
		}
	}
	merged["images"] = images
	dt, err := json.MarshalIndent(merged, "", "  ")
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "merged.lock.json")
	require.NoError(t, os.WriteFile(p, dt, 0o644))
	return p
}

func TestBestEffortAndErrors(t *testing.T) {
	// A merge of two images: no Dockerfile makes one.
	merged := llb.Merge([]llb.State{llb.Image("busybox"), llb.Image("golang:1.22")})
	def, err := merged.Marshal(t.Context())
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, llb.WriteTo(def, &b))
	mergeOp := ""
	for _, dt := range def.Def {
		var op pb.Op
		require.NoError(t, op.UnmarshalVT(dt))
		if op.GetMerge() != nil {
			mergeOp = digest.FromBytes(dt).String()
		}
	}

	stdout, stderr, code := llb2dockerfile(t, b.Bytes(), "--lock", lock)
	require.Equal(t, 1, code)
	require.Empty(t, stdout, "no output on error")
	require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %s", stderr)
	require.Contains(t, stderr, "op "+mergeOp)
	require.Contains(t, stderr, "not a copy onto scratch as COPY --link makes")

	// With --best-effort, what a Dockerfile cannot say is a comment at its
	// place; the rest is written.
	hostname := mustDef(t, llb.Image("busybox").Run(llb.Shlex("true"), llb.Hostname("builder")).Root())
	stdout, stderr, code = llb2dockerfile(t, hostname, "--lock", lock)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, `sets hostname "builder"`)
	stdout, stderr, code = llb2dockerfile(t, hostname, "--lock", lock, "--best-effort")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "# llb2dockerfile: op sha256:")
	require.Contains(t, stdout, "FROM busybox:latest\n# llb2dockerfile: op sha256:")
	require.Contains(t, stdout, "RUN [\"true\"]\n")

	for _, tc := range []struct {
		name  string
		stdin []byte
		args  []string
		code  int
		msg   string
	}{
		{"empty input", nil, nil, 1, "stdin: empty"},
		{"not a definition", []byte("FROM alpine\n"), nil, 1, "not an LLB definition"},
		{"missing file", nil, []string{"/nonexistent/build.llb"}, 1, "no such file"},
		{"two files", nil, []string{"a", "b"}, 2, "one LLB file at most"},
		{"unknown flag", nil, []string{"--frobnicate"}, 2, "flag provided but not defined"},
		{"bad platform", b.Bytes(), []string{"--platform", "not/a/plat/form/x"}, 2, "--platform"},
		{"bad config", b.Bytes(), []string{"--config", "llb2dockerfile_test.go"}, 1, "not a JSON image config"},
		{"missing lock entry", mustDef(t, llb.Image("alpine").Run(llb.Shlex("true")).Root()), []string{"--lock", lock}, 1, "not in the lock file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := llb2dockerfile(t, tc.stdin, tc.args...)
			require.Equal(t, tc.code, code, stderr)
			require.Empty(t, stdout)
			require.Contains(t, stderr, tc.msg)
			require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %s", stderr)
		})
	}
}

// TestVerifyRefusesAWrongDockerfile: a definition compiled for another
// platform than the one given cannot be written back for it; the check
// says so and nothing is written.
func TestVerifyRefusesAWrongDockerfile(t *testing.T) {
	src, err := os.ReadFile("testdata/multistage.Dockerfile.in")
	require.NoError(t, err)
	llbFile, configFile, _ := compile(t, src, t.TempDir())
	var img map[string]any
	dt, err := os.ReadFile(configFile)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(dt, &img))
	img["config"].(map[string]any)["Cmd"] = []string{"changed"}
	dt, err = json.Marshal(img)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(configFile, dt, 0o644))
	// The config says CMD, the history does not: the result differs in
	// its history, which the check finds.
	stdout, stderr, code := llb2dockerfile(t, nil, "--lock", lock, "--config", configFile, llbFile)
	require.Equal(t, 1, code)
	require.Empty(t, stdout)
	require.Contains(t, stderr, "verifying: the Dockerfile's image config differs")
}

func mustDef(t *testing.T, st llb.State) []byte {
	t.Helper()
	def, err := st.Marshal(t.Context())
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, llb.WriteTo(def, &b))
	return b.Bytes()
}
