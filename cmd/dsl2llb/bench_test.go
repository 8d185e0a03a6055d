package main

import (
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// reportMedian adds the median of the measured runs, in milliseconds: a
// process's wall time has a long tail that the mean hides.
func reportMedian(b *testing.B, runs []time.Duration) {
	b.Helper()
	if len(runs) == 0 {
		return
	}
	slices.Sort(runs)
	b.ReportMetric(float64(runs[len(runs)/2].Microseconds())/1000, "ms-median")
}

// BenchmarkProgramLLB is the whole process of the built redis example in
// its llb mode, fully locked: exec, package init, compile, write.
func BenchmarkProgramLLB(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "redis")
	if out, err := exec.CommandContext(b.Context(), "go", "build", "-o", bin, redisPkg).CombinedOutput(); err != nil {
		b.Fatalf("%v: %s", err, out)
	}
	var runs []time.Duration
	for b.Loop() {
		start := time.Now()
		cmd := exec.CommandContext(b.Context(), bin, "--lock", redisLock, "llb")
		var stderr strings.Builder
		cmd.Stdout, cmd.Stderr = io.Discard, &stderr
		if err := cmd.Run(); err != nil {
			b.Fatalf("%v: %s", err, stderr.String())
		}
		runs = append(runs, time.Since(start))
	}
	reportMedian(b, runs)
}

// BenchmarkDsl2llbUnchanged is dsl2llb on a package that has not changed
// since the last run: the go build cache check, the symbol check, the
// program's llb mode and the output.
func BenchmarkDsl2llbUnchanged(b *testing.B) {
	args := []string{"--lock", redisLock, redisPkg}
	if err := run(b.Context(), args, io.Discard, io.Discard); err != nil {
		b.Fatal(err)
	}
	var runs []time.Duration
	for b.Loop() {
		start := time.Now()
		if err := run(b.Context(), args, io.Discard, io.Discard); err != nil {
			b.Fatal(err)
		}
		runs = append(runs, time.Since(start))
	}
	reportMedian(b, runs)
}
