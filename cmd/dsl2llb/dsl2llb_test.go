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
	"github.com/moby/buildkit/client/llb/sourceresolver"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/dsltest"
	"github.com/slipway-build/slipway/internal/cmdutil"
	"github.com/slipway-build/slipway/internal/parity"
	"github.com/slipway-build/slipway/internal/testenv"
	"github.com/slipway-build/slipway/lockfile"
)

const (
	redisPkg       = "../../examples/redis"
	redisLock      = "testdata/redis.lock.json"
	multistagePkg  = "./testdata/multistage"
	multistageLock = "testdata/multistage.lock.json"
	multistageDf   = `FROM golang:1.22 AS builder
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -o /out/app ./cmd/app

FROM busybox
COPY --from=builder /out/app /usr/local/bin/app
USER 1000:1000
ENTRYPOINT ["/usr/local/bin/app"]
`
)

// The redis example's Dockerfiles, one per variant of the redis example.
var redisDockerfiles = map[string]string{
	"alpine": "FROM alpine\nRUN apk add --update redis\nCMD [\"redis-server\"]\n",
	"debian": "FROM debian:bookworm-slim\nRUN apt-get update && apt-get install -y --no-install-recommends redis-server\nCMD [\"redis-server\"]\n",
}

// lockPlatforms are the platforms the committed lock covers: this machine's
// and the usual other one.
var lockPlatforms = []ocispecs.Platform{
	{OS: "linux", Architecture: "amd64"},
	{OS: "linux", Architecture: "arm64"},
}

// lockFiles are the committed lock files and the images each pins, as the
// fake resolver answers, for the platforms in lockPlatforms.
var lockFiles = map[string][]string{
	redisLock:      {"docker.io/library/alpine:latest", "docker.io/library/debian:bookworm-slim"},
	multistageLock: {"docker.io/library/golang:1.22", "docker.io/library/busybox:latest"},
}

// TestLockFiles keeps the lock files in testdata; -update rewrites them.
func TestLockFiles(t *testing.T) {
	for path, refs := range lockFiles {
		l := lockfile.New(path)
		u := l.Updater(dsltest.NewResolver(nil), lockfile.UpdateAll, nil)
		for _, ref := range refs {
			for _, p := range lockPlatforms {
				_, _, _, err := u.ResolveImageConfig(t.Context(), ref, sourceresolver.Opt{ImageOpt: &sourceresolver.ResolveImageOpt{Platform: &p}})
				require.NoError(t, err)
			}
		}
		want, err := l.Bytes()
		require.NoError(t, err)
		if golden.Update() {
			require.NoError(t, l.Save())
		}
		got, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got), "go test -update ./cmd/dsl2llb/ rewrites %s", path)
	}
}

// dsl2llb runs the command in this process and returns stdout, stderr and
// the exit status.
func dsl2llb(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), args, &stdout, &stderr)
	code := cmdutil.ExitCode("dsl2llb", err, &stderr)
	return stdout.String(), stderr.String(), code
}

func lastDigest(t *testing.T, def *llb.Definition) digest.Digest {
	t.Helper()
	require.NotEmpty(t, def.Def)
	return digest.FromBytes(def.Def[len(def.Def)-1])
}

// The program's LLB, compiled offline from the lock, is what BuildKit's
// Dockerfile frontend makes of the redis example's Dockerfile with the same lock, and
// carries the same image config.
func TestRedisMatchesDockerfile2LLB(t *testing.T) {
	t.Parallel()
	lock, err := lockfile.Load(redisLock)
	require.NoError(t, err)
	for variant, dockerfile := range redisDockerfiles {
		for _, p := range []string{"", "linux/arm64"} {
			t.Run(variant+"/"+p, func(t *testing.T) {
				t.Parallel()
				args := []string{"--lock", redisLock}
				o := parity.Options{Resolver: lock.Resolver(nil)}
				if p != "" {
					args = append(args, "--platform", p)
					o.Platform = &lockPlatforms[1]
				}
				args = append(args, redisPkg, "-variant", variant)
				out, stderr, code := dsl2llb(t, args...)
				require.Equal(t, 0, code, stderr)
				require.Empty(t, stderr)
				def, err := llb.ReadFrom(strings.NewReader(out))
				require.NoError(t, err)

				want, err := parity.Dockerfile(t.Context(), []byte(dockerfile), o)
				require.NoError(t, err)
				require.Equal(t, want.Digest, lastDigest(t, def))

				md := def.Metadata[lastDigest(t, def)]
				require.JSONEq(t, string(want.Image), md.Description[dsl.ImageConfigKey])
				// And the source op pins the locked digest.
				require.Contains(t, out, "docker-image://docker.io/library/")
			})
		}
	}
}

// The same for a multi-stage program with a build context.
func TestMultiStageMatchesDockerfile2LLB(t *testing.T) {
	t.Parallel()
	lock, err := lockfile.Load(multistageLock)
	require.NoError(t, err)
	out, stderr, code := dsl2llb(t, "--lock", multistageLock, multistagePkg)
	require.Equal(t, 0, code, stderr)
	def, err := llb.ReadFrom(strings.NewReader(out))
	require.NoError(t, err)
	want, err := parity.Dockerfile(t.Context(), []byte(multistageDf), parity.Options{Resolver: lock.Resolver(nil)})
	require.NoError(t, err)
	require.Equal(t, want.Digest, lastDigest(t, def))
	require.JSONEq(t, string(want.Image), def.Metadata[lastDigest(t, def)].Description[dsl.ImageConfigKey])
}

func TestOutputIsByteIdentical(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"pb", "json", "dot"} {
		first, stderr, code := dsl2llb(t, "--lock", redisLock, "--format", format, redisPkg)
		require.Equal(t, 0, code, stderr)
		second, stderr, code := dsl2llb(t, "--lock", redisLock, "--format", format, redisPkg)
		require.Equal(t, 0, code, stderr)
		require.NotEmpty(t, first)
		require.True(t, first == second, "%s output differs between runs", format)
	}
}

// golden compares got with testdata/NAME, or rewrites it with -update.
func TestFormatJSON(t *testing.T) {
	t.Parallel()
	out, stderr, code := dsl2llb(t, "--lock", redisLock, "--platform", "linux/amd64", "--format", "json", redisPkg)
	require.Equal(t, 0, code, stderr)
	golden.Check(t, "redis.json", out)

	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 3, "FROM, RUN and the result; CMD makes no op")
	for i, line := range lines {
		var op map[string]json.RawMessage
		require.NoError(t, json.Unmarshal([]byte(line), &op))
		require.Contains(t, op, "Op")
		require.Contains(t, op, "Digest")
		require.Contains(t, op, "OpMetadata")
		if i == len(lines)-1 {
			var img dockerspec.DockerOCIImage
			require.NoError(t, json.Unmarshal(op["ImageConfig"], &img))
			require.Equal(t, []string{"redis-server"}, img.Config.Cmd)
		} else {
			require.NotContains(t, op, "ImageConfig")
		}
	}
}

func TestFormatDot(t *testing.T) {
	t.Parallel()
	out, stderr, code := dsl2llb(t, "--lock", redisLock, "--platform", "linux/amd64", "--format", "dot", redisPkg, "-variant", "debian")
	require.Equal(t, 0, code, stderr)
	golden.Check(t, "redis.dot", out)
	require.Contains(t, out, `RUN apt-get update && apt-get install -y --no-install-recommends redis-server`)
	require.Contains(t, out, `FROM docker.io/library/debian:bookworm-slim@sha256:`)

	require.Contains(t, renderSVG(t, out), "redis&#45;server")
}

// The multi-stage graph: both stages, the context, and the copy between
// them, each op named by its instruction; graphviz renders it.
func TestFormatDotMultiStage(t *testing.T) {
	t.Parallel()
	out, stderr, code := dsl2llb(t, "--lock", multistageLock, "--platform", "linux/amd64", "--format", "dot", multistagePkg)
	require.Equal(t, 0, code, stderr)
	golden.Check(t, "multistage.dot", out)
	for _, want := range []string{
		"[builder 1/6] FROM docker.io/library/golang:1.22@sha256:",
		"[builder 6/6] RUN CGO_ENABLED=0 go build -o /out/app ./cmd/app",
		"[stage-1 2/2] COPY /out/app /usr/local/bin/app",
		`[label="/out/app"]`,
		"local://context",
	} {
		require.Contains(t, out, want)
	}
	renderSVG(t, out)
}

func renderSVG(t *testing.T, dot string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), testenv.NeedProgram(t, "dot", "graphviz"), "-Tsvg")
	cmd.Stdin = strings.NewReader(dot)
	var svg, dotErr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &svg, &dotErr
	require.NoError(t, cmd.Run(), dotErr.String())
	require.Empty(t, dotErr.String())
	require.Contains(t, svg.String(), "<svg")
	return svg.String()
}

func TestWritesOutputFileAtomically(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "redis.llb")
	stdout, stderr, code := dsl2llb(t, "--lock", redisLock, "-o", out, redisPkg)
	require.Equal(t, 0, code, stderr)
	require.Empty(t, stdout)
	dt, err := os.ReadFile(out)
	require.NoError(t, err)
	_, err = llb.ReadFrom(bytes.NewReader(dt))
	require.NoError(t, err)

	// A failed run leaves the old file as it was, and nothing else.
	_, stderr, code = dsl2llb(t, "--lock", "testdata/no-such.lock.json", "-o", out, redisPkg)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "no-such.lock.json")
	after, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, dt, after)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary files left")
}

func TestErrors(t *testing.T) {
	t.Parallel()
	malformed := filepath.Join(t.TempDir(), "bad.lock.json")
	require.NoError(t, os.WriteFile(malformed, []byte(`{"version":1,"images":{"docker.io/library/alpine:latest":{"linux/amd64":{"digest":"sha256:nope","config":{}}}}}`), 0o644))
	notJSON := filepath.Join(t.TempDir(), "notjson.lock.json")
	require.NoError(t, os.WriteFile(notJSON, []byte("{\n  \"version\": 1,\n  oops\n}\n"), 0o644))
	onlyAlpine := filepath.Join(t.TempDir(), "alpine.lock.json")
	l, err := lockfile.Load(redisLock)
	require.NoError(t, err)
	only := lockfile.New(onlyAlpine)
	for _, p := range lockPlatforms {
		img, ok := l.Get("docker.io/library/alpine:latest", p)
		require.True(t, ok)
		_, err := only.Set("docker.io/library/alpine:latest", p, img)
		require.NoError(t, err)
	}
	require.NoError(t, only.Save())

	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no package", nil, 2, []string{"dsl2llb: no PACKAGE given (see dsl2llb -h)"}},
		{"unknown format", []string{"--format", "yaml", redisPkg}, 2, []string{`dsl2llb: unknown --format "yaml" (want pb, json or dot)`}},
		{"unknown flag", []string{"--nope", redisPkg}, 2, []string{"flag provided but not defined: -nope"}},
		{"bad platform", []string{"--platform", "linux/", redisPkg}, 2, []string{`--platform "linux/"`}},
		{"update without lock", []string{"--update-lock", redisPkg}, 2, []string{"--update-lock needs --lock FILE"}},
		{"update mode without =", []string{"--lock", redisLock, "--update-lock", "all", redisPkg}, 2, []string{"write --update-lock=all, with '='"}},
		{"bad update mode", []string{"--update-lock=some", redisPkg}, 2, []string{"want missing (the default) or all"}},
		{"bad program flag", []string{"--lock", redisLock, redisPkg, "-variant", "ubuntu"}, 2, []string{`invalid value "ubuntu" for flag -variant`}},
		{"does not compile", []string{"./testdata/broken"}, 1, []string{
			`cannot use "not a number"`,
			"dsl2llb: building ./testdata/broken failed (compiler errors above)",
		}},
		{"no such package", []string{"./testdata/nothing-here"}, 1, []string{"dsl2llb: building ./testdata/nothing-here: "}},
		{"not a DSL program", []string{"./testdata/notdsl"}, 1, []string{"dsl2llb: ./testdata/notdsl is not a slipway DSL program: its main does not call cli.Main"}},
		{"a library", []string{"../../lockfile"}, 1, []string{"dsl2llb: ../../lockfile is not a slipway DSL program: it is not a main package"}},
		{"lock not JSON", []string{"--lock", notJSON, redisPkg}, 1, []string{"dsl2llb: " + redisPkg + ": lock file " + notJSON + ": not valid JSON: line 3, column 3: invalid character 'o'"}},
		{"bad digest", []string{"--lock", malformed, redisPkg}, 1, []string{"lock file " + malformed + `: images["docker.io/library/alpine:latest"]["linux/amd64"].digest: "sha256:nope" is not a valid digest`}},
		{"missing reference", []string{"--lock", onlyAlpine, "--platform", "linux/arm64", redisPkg, "-variant", "debian"}, 1, []string{
			"dsl2llb: " + redisPkg + ": examples/redis/main.go:35: FROM: resolving debian:bookworm-slim: image docker.io/library/debian:bookworm-slim for platform linux/arm64 is not in the lock file " + onlyAlpine +
				"; add it with: dsl2llb --update-lock --lock " + onlyAlpine + " --platform linux/arm64 " + redisPkg + " -variant debian\n",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stdout, stderr, code := dsl2llb(t, tc.args...)
			require.Equal(t, tc.code, code, stderr)
			require.Empty(t, stdout)
			for _, w := range tc.want {
				require.Contains(t, stderr, w)
			}
			require.NotContains(t, stderr, "panic")
			require.NotContains(t, stderr, "not LLB", "a program that is not a DSL program never runs")
		})
	}
}

// --build-arg reaches the program: the ARG's value is in the RUN step's env.
func TestBuildArgs(t *testing.T) {
	t.Parallel()
	out, stderr, code := dsl2llb(t, "--lock", multistageLock, "--format", "json", "--build-arg", "GREETING=bonjour", "./testdata/args")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, `"GREETING=bonjour"`)
	out, stderr, code = dsl2llb(t, "--lock", multistageLock, "--format", "json", "./testdata/args")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, `"GREETING=hello"`, "the default without --build-arg")
}

// --target compiles one stage of the program, as docker build --target.
func TestTarget(t *testing.T) {
	t.Parallel()
	out, stderr, code := dsl2llb(t, "--lock", multistageLock, "--format", "json", "--target", "builder", "./testdata/multistage")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "go build -o /out/app", "the builder stage")
	require.NotContains(t, out, "docker.io/library/busybox", "not the final stage")

	_, stderr, code = dsl2llb(t, "--lock", multistageLock, "--target", "release", "./testdata/multistage")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, `target stage "release" not found (the build's stages: builder)`)
}
