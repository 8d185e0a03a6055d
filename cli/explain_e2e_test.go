package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/internal/explain"
	"github.com/slipway-build/slipway/internal/testenv"
	"github.com/slipway-build/slipway/lockfile"
)

// knobs are what the edits of the cache story change in its program.
type knobs struct {
	a, first, gen string
	insert, swap  bool
}

// storyBuild is the program of the cache story: a stage with an env, two
// RUNs, a copy from the context, a RUN that reads a build argument, and a
// copy from a second stage.
func storyBuild(k knobs) dsl.Stage {
	gen := dsl.From("busybox").As("gen").Run(k.gen)
	steps := []string{k.first, "echo second > /second"}
	if k.swap {
		steps[0], steps[1] = steps[1], steps[0]
	}
	if k.insert {
		steps = []string{steps[0], "echo inserted > /inserted", steps[1]}
	}
	s := dsl.From("busybox").Arg("V").Env("A", k.a)
	for _, c := range steps {
		s = s.Run(c)
	}
	return s.Copy("app", "/app").Run("cat /app/a.txt > /a-copy").Run("echo $V > /v").
		Copy("/out/f", "/gen-f", gen).Run("cat /gen-f")
}

// story runs one program through a series of edits on the test daemon.
type story struct {
	t          *testing.T
	env        *testenv.Env
	dir, lock  string
	k          knobs
	v          string
	platform   string
	agree, all int
}

func (s *story) run(args ...string) (string, string, int) {
	s.t.Helper()
	var stdout, stderr bytes.Buffer
	k := s.k
	err := Run(s.t.Context(), flag.NewFlagSet("prog", flag.ContinueOnError), args,
		func() dsl.Stage { return storyBuild(k) }, &stdout, &stderr)
	code := exitCode(err, &stderr)
	return stdout.String(), stderr.String(), code
}

func (s *story) flags(extra ...string) []string {
	return append([]string{"--addr", s.env.BuildkitHost, "--lock", s.lock, "--context", s.dir,
		"--progress", "quiet", "--platform", s.platform, "--build-arg", "V=" + s.v}, extra...)
}

func (s *story) lines(args ...string) []explain.Line {
	s.t.Helper()
	stdout, stderr, code := s.run(s.flags(append(args, "--format", "json", "--all-steps")...)...)
	require.Equal(s.t, 0, code, stderr)
	var lines []explain.Line
	require.NoError(s.t, json.Unmarshal([]byte(stdout), &lines), stdout)
	return lines
}

func (s *story) lastRecord() *explain.Record {
	s.t.Helper()
	st, err := explain.DefaultStore(programName(), "")
	require.NoError(s.t, err)
	records, err := st.Load()
	require.NoError(s.t, err)
	require.NotEmpty(s.t, records)
	return records[len(records)-1]
}

func findLine(t *testing.T, lines []explain.Line, text string) explain.Line {
	t.Helper()
	for _, l := range lines {
		if strings.Contains(l.Step, text) {
			return l
		}
	}
	require.Failf(t, "no such step", "%q in %+v", text, lines)
	return explain.Line{}
}

// edit is one edit of the story: plan, build, explain. plan is the state
// the plan must give steps (by a part of their name), why the cause the
// explanation must give; nothing means no step may run.
func (s *story) edit(name string, buildFlags []string, plan map[string]explain.State, why map[string]string, nothing bool) (stderr string) {
	s.t.Helper()
	s.t.Logf("edit: %s", name)
	planned := s.lines(append(append([]string{}, buildFlags...), "plan")...)
	// After a prune the plan can only tell an empty cache (DECISIONS.md
	// D79), and under ./hack/test other packages build on the same daemon
	// at once, so its cache is never empty: eviction is for
	// --fail-on-cache-miss=after and explain, which this edit checks.
	blind := name == "cache pruned"
	if blind {
		plan, planned = nil, nil
	}
	for text, st := range plan {
		require.Equal(s.t, st, findLine(s.t, planned, text).State, "%s: plan of %q: %+v", name, text, planned)
	}
	if nothing {
		require.Nil(s.t, explain.FirstRun(planned), "%s: %+v", name, planned)
	}
	_, stderr, code := s.run(s.flags(append(append([]string{}, buildFlags...), "--output", "type=cacheonly", "build")...)...)
	if name == "cache pruned" {
		require.Equal(s.t, 1, code, "%s: %s", name, stderr)
	} else {
		require.Equal(s.t, 0, code, "%s: %s", name, stderr)
	}
	rec := s.lastRecord()
	for _, l := range planned {
		if l.State != explain.Runs && l.State != explain.Cached {
			continue
		}
		r := rec.Steps[l.Digest]
		require.NotNil(s.t, r, "%s: %s is not in the solve", name, l.Step)
		s.all++
		if (l.State == explain.Runs) == !r.Cached {
			s.agree++
		} else {
			s.t.Errorf("%s: the plan said %s for %s, the solve's cached flag is %v", name, l.State, l.Step, r.Cached)
		}
		if nothing {
			require.True(s.t, r.Cached, "%s: %s ran", name, l.Step)
		}
	}
	if len(why) == 0 {
		return stderr
	}
	explained := s.lines("explain")
	for text, cause := range why {
		l := findLine(s.t, explained, text)
		require.Equal(s.t, explain.Runs, l.State, "%s: %+v", name, l)
		require.Equal(s.t, cause, l.Cause, "%s: %s: %s", name, l.Step, l.Reason)
	}
	return stderr
}

// moveBusybox pushes a second busybox (another config, so another digest)
// to the test registry and pins the lock to it.
func moveBusybox(t *testing.T, env *testenv.Env, lockPath, platform string) digest.Digest {
	t.Helper()
	src, err := name.ParseReference(env.Registry+"/library/busybox:latest", name.Insecure)
	require.NoError(t, err)
	img, err := remote.Image(src, remote.WithContext(t.Context()))
	require.NoError(t, err)
	cfg, err := img.ConfigFile()
	require.NoError(t, err)
	cfg = cfg.DeepCopy()
	cfg.Config.Labels = map[string]string{"moved": time.Now().String()}
	moved, err := mutate.ConfigFile(img, cfg)
	require.NoError(t, err)
	dst, err := name.ParseReference(env.Registry+"/library/busybox:moved", name.Insecure)
	require.NoError(t, err)
	require.NoError(t, remote.Write(dst, moved, remote.WithContext(t.Context())))
	d, err := moved.Digest()
	require.NoError(t, err)
	raw, err := moved.RawConfigFile()
	require.NoError(t, err)
	lock, err := lockfile.Load(lockPath)
	require.NoError(t, err)
	p := ocispecs.Platform{OS: "linux", Architecture: strings.TrimPrefix(platform, "linux/")}
	_, err = lock.Set("docker.io/library/busybox:latest", p, lockfile.Image{Digest: digest.Digest(d.String()), Config: raw})
	require.NoError(t, err)
	require.NoError(t, lock.Save())
	return digest.Digest(d.String())
}

// TestCacheStory: a series of edits, each followed by plan, a build and
// explain; the plan agrees with the solve's cached flags on every step it
// is sure of. (Long on purpose: one story, each build the next one's
// history.)
func TestCacheStory(t *testing.T) {
	env := testenv.Get(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	write := func(p, content string, mode os.FileMode) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, p), []byte(content), mode))
		require.NoError(t, os.Chmod(filepath.Join(dir, p), mode))
	}
	write("app/a.txt", "a", 0o644)
	write("app/b.txt", "b", 0o644)
	write(".dockerignore", "app/*.log\n", 0o644)
	write("other/z.txt", "z", 0o644)
	s := &story{t: t, env: env, dir: dir, lock: filepath.Join(t.TempDir(), "lock.json"), v: "1",
		platform: "linux/amd64",
		k:        knobs{a: "1", first: "echo first > /first", gen: "mkdir -p /out && echo same > /out/f"}}
	_, stderr, code := s.run(s.flags("--update-lock", "llb")...)
	require.Equal(t, 0, code, stderr)

	R, C, D := explain.Runs, explain.Cached, explain.Depends
	s.edit("first build", nil, nil, nil, false)
	s.edit("nothing changed", nil, nil, nil, true)
	_, stderr, code = s.run(s.flags("--fail-on-cache-miss", "--output", "type=cacheonly", "build")...)
	require.Equal(t, 0, code, "a cached build passes the gate: %s", stderr)

	s.k.a = "2"
	_, stderr, code = s.run(s.flags("--fail-on-cache-miss", "--output", "type=cacheonly", "build")...)
	require.Equal(t, 1, code)
	require.Regexp(t, `--fail-on-cache-miss: \[stage-1 2/8\] RUN echo first > /first \(cli/explain_e2e_test\.go:\d+\) would run: env A: "1" → "2"`, stderr)
	s.edit("env value changed", nil, map[string]explain.State{"echo first": R}, map[string]string{"echo first": "env"}, false)

	s.k.first = "echo uno > /first"
	s.edit("RUN command changed", nil, map[string]explain.State{"echo uno": R, "echo second": R}, map[string]string{"echo uno": "command", "echo second": explain.CauseInput}, false)

	s.k.insert = true
	s.edit("step added in the middle", nil, map[string]explain.State{"echo uno": C, "echo inserted": R, "echo second": R},
		map[string]string{"echo inserted": explain.CauseNew, "echo second": explain.CauseInput}, false)
	s.k.insert = false
	s.edit("step removed again", nil, nil, nil, false)

	s.k.swap = true
	s.edit("two steps swapped", nil, map[string]explain.State{"echo second": R, "echo uno": R},
		map[string]string{"echo second": explain.CauseInput, "echo uno": explain.CauseInput}, false)

	write("app/a.txt", "a2", 0o644)
	s.edit("context file modified", nil, map[string]explain.State{"COPY app": R, "cat /app/a.txt": R, "echo second": C},
		map[string]string{"COPY app": explain.CauseContext, "cat /app/a.txt": explain.CauseInput}, false)

	future := time.Now().Add(time.Hour)
	require.NoError(t, os.Chtimes(filepath.Join(dir, "app/a.txt"), future, future))
	s.edit("file touched, same content", nil, nil, nil, true)

	require.NoError(t, os.Chmod(filepath.Join(dir, "app/a.txt"), 0o755))
	s.edit("file mode changed", nil, map[string]explain.State{"COPY app": R}, map[string]string{"COPY app": explain.CauseContext}, false)

	write("app/debug.log", "log", 0o644)
	s.edit("file added that .dockerignore excludes", nil, nil, nil, true)

	write("other/new.txt", "new", 0o644)
	s.edit("file added outside the paths the build reads", nil, nil, nil, true)

	moveBusybox(t, env, s.lock, s.platform)
	s.edit("base image moved", nil, map[string]explain.State{"echo second": R}, map[string]string{"echo second": explain.CauseInput}, false)
	ex := s.lines("explain")
	require.Equal(t, "image", findLine(t, ex, "FROM").Cause)
	require.Contains(t, findLine(t, ex, "echo second").Reason, "because base image docker.io/library/busybox:latest moved: sha256:")

	s.v = "2"
	s.edit("build argument changed", nil, map[string]explain.State{"> /v": R}, map[string]string{"> /v": "arg"}, false)

	s.edit("--no-cache", []string{"--no-cache"}, map[string]explain.State{"echo second": R}, map[string]string{"echo second": explain.CauseNoCache}, false)

	cmd := env.BuildctlCmd(t.Context(), "prune", "--all")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	stderr = s.edit("cache pruned", []string{"--fail-on-cache-miss=after"}, map[string]explain.State{"echo second": R, "cat /gen-f": R},
		map[string]string{"echo second": explain.CauseEvicted}, false)
	require.Contains(t, stderr, "--fail-on-cache-miss=after: ")
	require.Contains(t, stderr, "the daemon no longer had the result")

	s.k.gen = "mkdir -p /out; echo same > /out/f"
	s.edit("a RUN gives the same content again", nil, map[string]explain.State{"[gen 2/2] RUN": R, "COPY /out/f": D, "cat /gen-f": D},
		map[string]string{"[gen 2/2] RUN": "command"}, false)
	rec := s.lastRecord()
	g, err := rec.Graph()
	require.NoError(t, err)
	for _, st := range g.Steps {
		if strings.Contains(st.Name, "COPY /out/f") || strings.Contains(st.Name, "cat /gen-f") {
			require.True(t, rec.Steps[st.Digest.String()].Cached, "%s: the re-run gave the same file", st.Name)
		}
	}

	s.platform = "linux/amd64/v2"
	_, stderr, code = s.run(s.flags("--update-lock", "llb")...)
	require.Equal(t, 0, code, stderr)
	s.edit("platform changed", nil, map[string]explain.State{"echo second": R}, map[string]string{"echo second": "platform"}, false)

	require.Equal(t, s.all, s.agree)
	t.Logf("plan accuracy: %d/%d steps", s.agree, s.all)
}
