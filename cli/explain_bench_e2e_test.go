package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/slipway-build/slipway/internal/testenv"
)

// BenchmarkExplainAndPlan is the whole program (process start to exit) of
// a 50-step build whose context has 10,000 files, 200 MB, after a first
// run: plan (offline, with the lock file), explain, and a cached rebuild
// with and without its record, against `buildctl build` of the same
// definition, fully cached, on the same daemon. Each iteration runs every
// command once; the medians and their ratios are reported:
//
//	./hack/env -- go test -run '^$' -bench ExplainAndPlan -benchtime 10x -benchmem ./cli/
func BenchmarkExplainAndPlan(b *testing.B) {
	env := testenv.Get(b)
	b.Setenv("XDG_CACHE_HOME", b.TempDir())
	dir := b.TempDir()
	bin := filepath.Join(dir, "fifty")
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/fifty").CombinedOutput(); err != nil {
		b.Fatalf("building the program: %v\n%s", err, out)
	}
	ctxDir := filepath.Join(dir, "ctx")
	dt := make([]byte, 20<<10)
	for i := range 10000 {
		p := filepath.Join(ctxDir, "src", fmt.Sprintf("d%02d", i%100), fmt.Sprintf("f%05d", i))
		if i < 100 {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				b.Fatal(err)
			}
		}
		dt[0], dt[1] = byte(i), byte(i>>8)
		if err := os.WriteFile(p, dt, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	lock := filepath.Join(dir, "lock.json")
	llbFile := filepath.Join(dir, "def.llb")
	prog := func(args ...string) func() *exec.Cmd {
		return func() *exec.Cmd {
			c := exec.Command(bin, append([]string{"--addr", env.BuildkitHost, "--context", ctxDir, "--lock", lock, "--progress", "quiet"}, args...)...)
			c.Dir = dir
			return c
		}
	}
	run := func(name string, c *exec.Cmd) {
		if out, err := c.CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", name, err, out)
		}
	}
	run("update-lock", prog("--update-lock", "llb")())
	def, err := prog("llb")().Output()
	if err != nil {
		b.Fatalf("llb: %v", err)
	}
	if err := os.WriteFile(llbFile, def, 0o644); err != nil {
		b.Fatal(err)
	}
	buildctl := func() *exec.Cmd {
		c := env.BuildctlCmd(b.Context(), "build", "--progress", "quiet", "--local", "context="+ctxDir)
		in, err := os.Open(llbFile)
		if err != nil {
			b.Fatal(err)
		}
		c.Stdin = in
		return c
	}
	tools := []struct {
		name string
		cmd  func() *exec.Cmd
	}{
		{"buildctl", buildctl},
		{"build", prog("--output", "type=cacheonly", "build")},
		{"build-norecord", prog("--output", "type=cacheonly", "--record=false", "build")},
		{"plan", func() *exec.Cmd {
			c := prog("plan")()
			c.Args = slices.DeleteFunc(c.Args, func(a string) bool { return a == env.BuildkitHost || a == "--addr" })
			return c
		}},
		{"explain", prog("explain")},
	}
	// A first run fills the daemon's cache, the records and the stat
	// cache; explain needs two builds; the rest warms every command.
	run("build", tools[1].cmd())
	run("build", tools[1].cmd())
	for range 2 {
		for _, t := range tools {
			run(t.name, t.cmd())
		}
	}
	times := make([][]time.Duration, len(tools))
	for b.Loop() {
		for i, t := range tools {
			start := time.Now()
			run(t.name, t.cmd())
			times[i] = append(times[i], time.Since(start))
		}
	}
	med := make([]float64, len(tools))
	for i, t := range tools {
		slices.Sort(times[i])
		med[i] = float64(times[i][len(times[i])/2].Microseconds()) / 1000
		b.ReportMetric(med[i], t.name+"-ms")
	}
	b.ReportMetric(med[3]/med[0], "plan/buildctl")
	b.ReportMetric(med[4]/med[0], "explain/buildctl")
	b.ReportMetric(med[1]/med[2], "build/build-norecord")
	b.ReportMetric(med[1]/med[0], "build/buildctl")
}
