package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/buildkit/client/llb"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/internal/testenv"
)

func marker() string {
	return strings.NewReplacer(":", "-", ".", "-", "+", "-", " ", "-").Replace(time.Now().Format(time.RFC3339Nano))
}

// One target pushed under two tags and another built for two platforms
// into an image index, built together.
func TestTargetsPushTagsAndIndex(t *testing.T) {
	env := testenv.Get(t)
	m := marker()
	tags := []string{env.Image("slipway-test/targets:a-" + m), env.Image("slipway-test/targets:b-" + m)}
	index := env.Image("slipway-test/targets-index:" + m)
	p := Program{Targets: []Target{
		{Name: "tagged", Build: dsl.From("busybox").Run("echo " + m + " > /m"), Tags: tags, Push: true},
		// No RUN: the 386 image need not execute here.
		{Name: "multi", Build: dsl.From("scratch").Env("MARKER", m).Cmd("/run"), Tags: []string{index}, Push: true,
			Platforms: []string{"linux/amd64", "linux/386"}},
	}}
	_, stderr, code := runProgram(t, p, "--addr", env.BuildkitHost, "--progress", "plain", "build", "tagged", "multi")
	require.Equal(t, 0, code, stderr)

	var digests []string
	for _, tag := range tags {
		ref, err := name.ParseReference(tag, name.Insecure)
		require.NoError(t, err)
		desc, err := remote.Get(ref, remote.WithContext(t.Context()))
		require.NoError(t, err, tag)
		digests = append(digests, desc.Digest.String())
	}
	require.Equal(t, digests[0], digests[1], "one image under both tags")
	require.Contains(t, stderr, "pushed "+strings.Join(tags, ",")+"@"+digests[0])

	ref, err := name.ParseReference(index, name.Insecure)
	require.NoError(t, err)
	idx, err := remote.Index(ref, remote.WithContext(t.Context()))
	require.NoError(t, err)
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	var archs []string
	for _, d := range im.Manifests {
		if d.Platform != nil && d.Platform.Architecture != "unknown" {
			archs = append(archs, d.Platform.OS+"/"+d.Platform.Architecture)
		}
	}
	require.ElementsMatch(t, []string{"linux/amd64", "linux/386"}, archs)
	// The solve tells the daemon which platforms it asked for, so the
	// exporter does not warn that the result's differ.
	require.NotContains(t, stderr, "do not match")
	require.NotContains(t, stderr, "does not match")
	require.Contains(t, stderr, "[multi] exporting to image", "steps are named by their target")
	require.Contains(t, stderr, "[tagged] [stage-0 2/2] RUN echo "+m)
}

// Eight targets at once on one daemon share their first step, each writes
// its archive, and no goroutine is left behind.
func TestEightTargetsLeaveNoGoroutine(t *testing.T) {
	env := testenv.Get(t)
	dir := t.TempDir()
	m := marker()
	shared := dsl.From("busybox").Run("echo shared " + m + " > /shared")
	var p Program
	for i := range 8 {
		p.Targets = append(p.Targets, Target{
			Name:    fmt.Sprintf("t%d", i),
			Build:   shared.Run(fmt.Sprintf("echo %d > /own", i)),
			Outputs: []string{fmt.Sprintf("type=oci,dest=%s", filepath.Join(dir, fmt.Sprintf("t%d.tar", i)))},
		})
	}
	before := runtime.NumGoroutine()
	_, stderr, code := runProgram(t, p, "--addr", env.BuildkitHost, "--progress", "plain", "build")
	require.Equal(t, 0, code, stderr)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 8, "eight archives, no temporary file")
	// The shared RUN is one step (one #N), reported under the names of
	// the targets that share it.
	require.Equal(t, 1, countSteps(stderr, "RUN echo shared "+m))

	// Connections close in the background: wait for them, bounded.
	after := runtime.NumGoroutine()
	for i := 0; i < 100 && after > before; i++ {
		time.Sleep(50 * time.Millisecond)
		after = runtime.NumGoroutine()
	}
	if after > before {
		var buf bytes.Buffer
		pprof.Lookup("goroutine").WriteTo(&buf, 1)
		t.Fatalf("%d goroutines before the build, %d after:\n%s", before, after, buf.String())
	}
}

// countSteps counts the distinct step numbers of the plain display whose
// name contains s.
func countSteps(plain, s string) int {
	steps := map[string]bool{}
	for _, line := range strings.Split(plain, "\n") {
		if num, rest, ok := strings.Cut(line, " "); ok && strings.HasPrefix(num, "#") && strings.HasPrefix(rest, "[") && strings.Contains(rest, s) {
			steps[num] = true
		}
	}
	return len(steps)
}

// run TARGET and llb TARGET work on one target, with its own settings and
// --set over them.
func TestTargetRunAndLLB(t *testing.T) {
	env := testenv.Get(t)
	p := Program{Targets: []Target{
		{Name: "a", Build: dsl.From("busybox").Arg("MSG").Env("MSG", "$MSG").Cmd("sh", "-c", "echo a says $MSG"), Args: map[string]string{"MSG": "declared"}},
		{Name: "b", Build: dsl.From("busybox").Cmd("echo", "from b")},
	}}
	stdout, stderr, code := runProgram(t, p, "--addr", env.BuildkitHost, "--progress", "quiet", "run", "a")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "a says declared\n", stdout)
	stdout, stderr, code = runProgram(t, p, "--addr", env.BuildkitHost, "--progress", "quiet", "--set", "a.args.MSG=set", "run", "a")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "a says set\n", stdout)

	stdout, stderr, code = runProgram(t, p, "--addr", env.BuildkitHost, "llb", "b")
	require.Equal(t, 0, code, stderr)
	def, err := llb.ReadFrom(strings.NewReader(stdout))
	require.NoError(t, err)
	require.NotEmpty(t, def.Def)
	var found bool
	for _, md := range def.Metadata {
		if cfg, ok := md.Description["containerimage.config"]; ok {
			require.Contains(t, cfg, `"Cmd":["echo","from b"]`)
			found = true
		}
	}
	require.True(t, found, "the image config rides in the definition")
}

// Targets that copy the same context share the copy and the steps after
// it: one step each in the solve status, whatever the targets.
func TestTargetsShareTheContext(t *testing.T) {
	env := testenv.Get(t)
	ctxDir := t.TempDir()
	m := marker()
	require.NoError(t, os.WriteFile(filepath.Join(ctxDir, "f"), []byte(m), 0o644))
	shared := dsl.From("busybox").Copy(".", "/ctx/").Run("cat /ctx/f > /seen")
	var p Program
	for i := range 3 {
		p.Targets = append(p.Targets, Target{Name: fmt.Sprintf("t%d", i), Build: shared.Run(fmt.Sprintf("echo %d > /own", i)), Outputs: []string{"type=cacheonly"}})
	}
	_, stderr, code := runProgram(t, p, "--addr", env.BuildkitHost, "--progress", "plain", "--context", ctxDir, "build")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, 1, countSteps(stderr, "RUN cat /ctx/f"), stderr)
	require.Equal(t, 1, countSteps(stderr, "load build context"), stderr)
}

// Targets may each read their own context directory: each gets its own
// files, and a directory two targets read is loaded once for both.
func TestTargetsOwnContexts(t *testing.T) {
	env := testenv.Get(t)
	root, out := t.TempDir(), t.TempDir()
	m := marker()
	for _, d := range []string{"a", "b"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, d), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, d, "f"), []byte(d+" "+m), 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(root, "f"), []byte("root "+m), 0o644))
	image := dsl.From("scratch").Copy("f", "/f")
	dest := func(name string) []string { return []string{"type=local,dest=" + filepath.Join(out, name)} }
	p := Program{Targets: []Target{
		{Name: "a", Context: "a", Build: image, Outputs: dest("a")},
		{Name: "b", Context: filepath.Join(root, "b"), Build: image, Outputs: dest("b")},
		{Name: "a2", Context: "a", Build: image.Label("second", "yes"), Outputs: dest("a2")},
		{Name: "default", Build: image, Outputs: dest("default")},
	}}
	_, stderr, code := runProgram(t, p, "--addr", env.BuildkitHost, "--progress", "plain", "--context", root, "build")
	require.Equal(t, 0, code, stderr)
	for name, want := range map[string]string{"a": "a", "b": "b", "a2": "a", "default": "root"} {
		got, err := os.ReadFile(filepath.Join(out, name, "f"))
		require.NoError(t, err, name)
		require.Equal(t, want+" "+m, string(got), name)
	}
	// Three directories, three loads: a and a2 share theirs.
	require.Equal(t, 3, countSteps(stderr, "load build context"), stderr)
}
