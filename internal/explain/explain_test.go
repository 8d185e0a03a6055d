package explain

import (
	"context"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb/sourceresolver"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/internal/offline"
)

// movedResolver is the offline resolver with another digest for every
// image: the base image moved.
type movedResolver struct{ *offline.Resolver }

func (r movedResolver) ResolveImageConfig(ctx context.Context, ref string, opt sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	ref, _, dt, err := r.Resolver.ResolveImageConfig(ctx, ref, opt)
	return ref, digest.FromString("moved " + ref), dt, err
}

// record compiles a build into a record, as a build would keep it (with
// no solve flags).
func record(t *testing.T, s dsl.Stage, opts ...dsl.CompileOption) *Record {
	t.Helper()
	opts = append([]dsl.CompileOption{dsl.WithResolver(offline.NewResolver(nil)), dsl.WithPlatform(ocispecs.Platform{OS: "linux", Architecture: "amd64"})}, opts...)
	res, err := dsl.Compile(t.Context(), s, opts...)
	require.NoError(t, err)
	dt, err := res.Definition.ToPB().MarshalVT()
	require.NoError(t, err)
	r := &Record{Definition: dt, Steps: map[string]*StepResult{}}
	_, err = r.Graph()
	require.NoError(t, err)
	return r
}

// plan is the plan of cur after prev, as step → state and reason.
func plan(t *testing.T, prev, cur *Record) []Line {
	t.Helper()
	lines, err := Plan([]*Record{prev}, cur)
	require.NoError(t, err)
	return lines
}

// find is the line of the step whose name contains text.
func find(t *testing.T, lines []Line, text string) Line {
	t.Helper()
	for _, l := range lines {
		if strings.Contains(l.Step, text) {
			return l
		}
	}
	require.Failf(t, "no such step", "%q in %v", text, lines)
	return Line{}
}

func base() dsl.Stage {
	return dsl.From("busybox").Env("A", "1").Run("echo one two three > /f").Run("cat /f")
}

func TestPlanCommandChanged(t *testing.T) {
	t.Parallel()
	prev := record(t, base())
	cur := record(t, dsl.From("busybox").Env("A", "1").Run("echo one 2 three > /f").Run("cat /f"))
	lines := plan(t, prev, cur)
	l := find(t, lines, "echo one 2")
	require.Equal(t, Runs, l.State)
	require.Equal(t, "command", l.Cause)
	require.Contains(t, l.Reason, "[-two-] {+2+}")
	next := find(t, lines, "cat /f")
	require.Equal(t, Runs, next.State)
	require.Equal(t, CauseInput, next.Cause)
	require.Contains(t, next.Reason, "echo one 2")
	require.Equal(t, Transfers, find(t, lines, "FROM").State)
}

func TestPlanEnvChanged(t *testing.T) {
	t.Parallel()
	prev := record(t, base())
	cur := record(t, dsl.From("busybox").Env("A", "2").Run("echo one two three > /f").Run("cat /f"))
	l := find(t, plan(t, prev, cur), "echo one")
	require.Equal(t, Runs, l.State)
	require.Equal(t, "env", l.Cause)
	require.Equal(t, `env A: "1" → "2"`, l.Reason)
}

func TestPlanBuildArgChanged(t *testing.T) {
	t.Parallel()
	s := dsl.From("busybox").Arg("V").Run("echo $V")
	prev := record(t, s, dsl.WithBuildArgs(map[string]string{"V": "1"}))
	prev.BuildArgs = map[string]string{"V": "1"}
	cur := record(t, s, dsl.WithBuildArgs(map[string]string{"V": "2"}))
	cur.BuildArgs = map[string]string{"V": "2"}
	l := find(t, plan(t, prev, cur), "RUN echo")
	require.Equal(t, "arg", l.Cause)
	require.Equal(t, `build argument V: "1" → "2"`, l.Reason)
}

func TestPlanBaseImageMoved(t *testing.T) {
	t.Parallel()
	prev := record(t, base())
	cur := record(t, base(), dsl.WithResolver(movedResolver{offline.NewResolver(nil)}))
	lines := plan(t, prev, cur)
	l := find(t, lines, "FROM")
	require.Equal(t, "image", l.Cause)
	require.Contains(t, l.Reason, "base image docker.io/library/busybox:latest moved: sha256:")
	run := find(t, lines, "echo one")
	require.Equal(t, Runs, run.State)
	require.Contains(t, run.Reason, "because base image docker.io/library/busybox:latest moved")
}

func TestPlanPlatformChanged(t *testing.T) {
	t.Parallel()
	prev := record(t, base())
	cur := record(t, base(), dsl.WithPlatform(ocispecs.Platform{OS: "linux", Architecture: "arm64"}))
	l := find(t, plan(t, prev, cur), "echo one")
	require.Equal(t, Runs, l.State)
	require.Equal(t, "platform", l.Cause)
	require.Equal(t, "platform linux/amd64 → linux/arm64", l.Reason)
}

func TestPlanStepAddedInTheMiddle(t *testing.T) {
	t.Parallel()
	prev := record(t, base())
	cur := record(t, dsl.From("busybox").Env("A", "1").Run("echo one two three > /f").Run("touch /g").Run("cat /f"))
	lines := plan(t, prev, cur)
	require.Equal(t, Cached, find(t, lines, "echo one").State)
	added := find(t, lines, "touch /g")
	require.Equal(t, Runs, added.State)
	require.Equal(t, CauseNew, added.Cause)
	after := find(t, lines, "cat /f")
	require.Equal(t, Runs, after.State)
	require.Equal(t, CauseInput, after.Cause)
	require.Contains(t, after.Reason, "touch /g")
}

func TestPlanStepsSwapped(t *testing.T) {
	t.Parallel()
	prev := record(t, dsl.From("busybox").Run("echo a").Run("echo b"))
	cur := record(t, dsl.From("busybox").Run("echo b").Run("echo a"))
	lines := plan(t, prev, cur)
	b := find(t, lines, "echo b")
	require.Equal(t, Runs, b.State)
	require.Equal(t, CauseInput, b.Cause)
	require.Contains(t, b.Reason, "the step before it is now")
	a := find(t, lines, "echo a")
	require.Equal(t, Runs, a.State)
	require.Contains(t, a.Reason, "echo b")
}

func TestPlanCopyFromStageDepends(t *testing.T) {
	t.Parallel()
	build := func(cmd string) dsl.Stage {
		b := dsl.From("busybox").As("build").Run(cmd)
		return dsl.From("busybox").Copy("/out", "/out", b).Run("ls /out")
	}
	prev := record(t, build("mkdir /out && echo x > /out/x"))
	cur := record(t, build("mkdir /out; echo x > /out/x"))
	lines := plan(t, prev, cur)
	require.Equal(t, Runs, find(t, lines, "mkdir /out;").State)
	cp := find(t, lines, "COPY")
	require.Equal(t, Depends, cp.State)
	require.Equal(t, Depends, find(t, lines, "ls /out").State)

	// The solve re-ran the step, the copy hit the cache: the explanation
	// names only the step.
	for _, l := range lines {
		cur.Steps[l.Digest] = &StepResult{Name: l.Step, Cached: l.State != Runs}
	}
	ex, err := Explain([]*Record{prev}, cur)
	require.NoError(t, err)
	require.Equal(t, Cached, find(t, ex, "COPY").State)
	require.Equal(t, Cached, find(t, ex, "ls /out").State)

	// Had the copy run, a step before it gave a different result.
	cur.Steps[cp.Digest].Cached = false
	ex, err = Explain([]*Record{prev}, cur)
	require.NoError(t, err)
	require.Equal(t, CauseResult, find(t, ex, "COPY").Cause)
}

func TestPlanContextFiles(t *testing.T) {
	t.Parallel()
	s := dsl.From("busybox").Copy("app", "/app").Run("cat /app/a")
	prev := record(t, s)
	prev.Contexts = map[string]*Context{"context": {Files: []File{
		{Path: "app", Mode: 0o755 | 1<<31}, {Path: "app/a", Digest: "sha256:1", Size: 1, Mode: 0o644}, {Path: "app/b", Digest: "sha256:2", Size: 1, Mode: 0o644}}}}
	cases := []struct {
		name  string
		files []File
		want  State
		why   string
	}{
		{"same", prev.Contexts["context"].Files, Cached, ""},
		{"modified", []File{{Path: "app", Mode: 0o755 | 1<<31}, {Path: "app/a", Digest: "sha256:3", Size: 1, Mode: 0o644}, {Path: "app/b", Digest: "sha256:2", Size: 1, Mode: 0o644}}, Runs, "context files changed: modified app/a"},
		{"mode", []File{{Path: "app", Mode: 0o755 | 1<<31}, {Path: "app/a", Digest: "sha256:1", Size: 1, Mode: 0o755}, {Path: "app/b", Digest: "sha256:2", Size: 1, Mode: 0o644}}, Runs, "context files changed: mode 644 → 755 app/a"},
		{"added", []File{{Path: "app", Mode: 0o755 | 1<<31}, {Path: "app/a", Digest: "sha256:1", Size: 1, Mode: 0o644}, {Path: "app/b", Digest: "sha256:2", Size: 1, Mode: 0o644}, {Path: "app/c", Size: 1, Mode: 0o644}}, Runs, "context files changed: added app/c"},
		{"outside", []File{{Path: "app", Mode: 0o755 | 1<<31}, {Path: "app/a", Digest: "sha256:1", Size: 1, Mode: 0o644}, {Path: "app/b", Digest: "sha256:2", Size: 1, Mode: 0o644}, {Path: "other", Size: 1, Mode: 0o644}}, Cached, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cur := record(t, s)
			cur.Contexts = map[string]*Context{"context": {Files: c.files}}
			lines := plan(t, prev, cur)
			cp := find(t, lines, "COPY")
			require.Equal(t, c.want, cp.State)
			require.Equal(t, c.why, cp.Reason)
			require.Equal(t, c.want, find(t, lines, "cat /app/a").State)
		})
	}
}

func TestExplainEvictedAndNoCache(t *testing.T) {
	t.Parallel()
	prev := record(t, base())
	cur := record(t, base())
	g, _ := cur.Graph()
	for _, s := range g.Steps {
		cur.Steps[s.Digest.String()] = &StepResult{Name: s.Name}
	}
	lines, err := Explain([]*Record{prev}, cur)
	require.NoError(t, err)
	for _, text := range []string{"echo one", "cat /f"} {
		l := find(t, lines, text)
		require.Equal(t, Runs, l.State)
		require.Equal(t, CauseEvicted, l.Cause, text)
	}
	// Nothing of the solve ran, so a plan says so.
	require.Nil(t, FirstRun(plan(t, prev, record(t, base()))))

	cur.NoCache = true
	lines, err = Explain([]*Record{prev}, cur)
	require.NoError(t, err)
	require.Equal(t, CauseNoCache, find(t, lines, "cat /f").Cause)
}

func TestExplainNeedsHistory(t *testing.T) {
	t.Parallel()
	_, err := Explain(nil, record(t, base()))
	require.ErrorIs(t, err, errNoHistory)
}

func TestWordDiff(t *testing.T) {
	t.Parallel()
	require.Equal(t, "apt-get install [-curl-] {+wget+} -y", WordDiff("apt-get install curl -y", "apt-get install wget -y"))
	require.Equal(t, "a b {+c+}", WordDiff("a b", "a b c"))
}

func TestDiff(t *testing.T) {
	t.Parallel()
	prev := record(t, base())
	cur := record(t, dsl.From("busybox").Env("A", "1").Run("echo one two three > /f").Run("cat /f /f"))
	lines, err := Diff(prev.def, cur.def)
	require.NoError(t, err)
	require.Len(t, lines, 1)
	require.Equal(t, "command", lines[0].Cause)
	require.Contains(t, lines[0].Reason, "cat /f {+/f+}")

	lines, err = Diff(prev.def, prev.def)
	require.NoError(t, err)
	require.Empty(t, lines)
}
