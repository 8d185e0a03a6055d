package gen_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/dsltest"
	"github.com/slipway-build/slipway/gen"
	"github.com/slipway-build/slipway/internal/corpus"
	"github.com/slipway-build/slipway/internal/parity"
)

// corpusCases reads BuildKit's test Dockerfiles from the module cache.
func corpusCases(t testing.TB) []corpus.Case {
	t.Helper()
	cases, err := corpus.Cases()
	require.NoError(t, err)
	return cases
}

// buildkitDir is where the BuildKit module of go.mod is.
func buildkitDir(t testing.TB) string {
	t.Helper()
	dir, err := corpus.BuildKitDir()
	require.NoError(t, err)
	return dir
}

// knownDifferences are corpus cases the generator does not yet match, with
// the reason. Any other case that does not match fails the test, and so
// does a case on the list that matches. It is empty: the last four (FROM
// stage-$TARGETOS, --mount=type=$T) match since dsl.FromNamed and
// dsl.MountFlag.
var knownDifferences = map[string]string{}

// compiled is what the harness program prints for one case.
type compiled struct {
	Name   string          `json:"name"`
	Digest string          `json:"digest"`
	Image  json.RawMessage `json:"image"`
	Err    string          `json:"err"`
}

func TestCorpusParity(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a program of every corpus case")
	}
	cases := corpusCases(t)
	require.Greater(t, len(cases), 150, "the corpus was not found")
	o := parity.Options{Resolver: dsltest.NewResolver(nil), Caps: parity.AllCaps()}

	want := map[string]*parity.Output{}
	generated := map[string][]byte{}
	var failures []string
	rejected := 0
	for i, c := range cases {
		fn := fmt.Sprintf("Case%d", i)
		out, ferr := parity.Dockerfile(t.Context(), c.Dockerfile, o)
		src, gerr := gen.Generate(c.Dockerfile, gen.Options{Filename: c.Name, Func: fn})
		switch {
		case ferr != nil && gerr != nil:
			rejected++ // both reject it: parity
			var ge *gen.Error
			if !errors.As(gerr, &ge) {
				failures = append(failures, fmt.Sprintf("%s: rejected without a location: %v", c.Name, gerr))
			}
		case ferr != nil:
			failures = append(failures, fmt.Sprintf("%s: the frontend rejects it (%v), the generator does not", c.Name, ferr))
		case gerr != nil:
			failures = append(failures, fmt.Sprintf("%s: the generator rejects it: %v", c.Name, gerr))
		default:
			want[fn] = out
			generated[fn] = src
		}
	}
	got, buildErrs := runGenerated(t, generated)
	passed := rejected
	names := make([]string, 0, len(want))
	for fn := range want {
		names = append(names, fn)
	}
	sort.Strings(names)
	for _, fn := range names {
		i, _ := strconv.Atoi(strings.TrimPrefix(fn, "Case"))
		g, ok := got[fn]
		switch {
		case !ok:
			failures = append(failures, fmt.Sprintf("%s: generated Go does not compile: %s", cases[i].Name, buildErrs[fn]))
		case g.Err != "":
			failures = append(failures, fmt.Sprintf("%s: the generated program fails to compile the build: %s", cases[i].Name, g.Err))
		case g.Digest != string(want[fn].Digest):
			failures = append(failures, fmt.Sprintf("%s: definition digest %s, want %s", cases[i].Name, g.Digest, want[fn].Digest))
		case string(g.Image) != string(want[fn].Image):
			failures = append(failures, fmt.Sprintf("%s: image config differs:\n  want %s\n  got  %s", cases[i].Name, want[fn].Image, g.Image))
		default:
			passed++
		}
	}
	corpus.CheckFailures(t, failures, knownDifferences)
	t.Logf("corpus parity: %d/%d (%d rejected by both)", passed, len(cases), rejected)
}

var fileLine = regexp.MustCompile(`(?m)^\./(case\d+)\.go:\d+`)

// runGenerated writes every generated function into one program, in a
// temporary module that replaces this one, builds it once, and runs it: it
// compiles each case as the DSL does and prints the digest and config. A
// function whose Go does not compile is left out, and its first compiler
// error is in the second map, by function name.
func runGenerated(t *testing.T, generated map[string][]byte) (map[string]compiled, map[string]string) {
	t.Helper()
	dir := generatedModule(t)
	buildErrs := map[string]string{}
	byFile := map[string]string{}
	for fn, src := range generated {
		byFile[strings.ToLower(fn)] = fn
		require.NoError(t, os.WriteFile(filepath.Join(dir, strings.ToLower(fn)+".go"), src, 0o644))
	}
	bin := filepath.Join(dir, "harness")
	for attempt := 0; ; attempt++ {
		var table strings.Builder
		for fn := range generated {
			if _, err := os.Stat(filepath.Join(dir, strings.ToLower(fn)+".go")); err == nil {
				fmt.Fprintf(&table, "\t%q: %s,\n", fn, fn)
			}
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, "harness.go"), []byte(strings.Replace(harness, "\t// CASES\n", table.String(), 1)), 0o644))
		cmd := exec.Command("go", "build", "-mod=mod", "-o", bin, ".")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err == nil {
			break
		}
		bad := fileLine.FindAllStringSubmatch(string(out), -1)
		require.True(t, len(bad) > 0 && attempt < 5, "building the generated programs:\n%s", out)
		for _, m := range bad {
			p := filepath.Join(dir, m[1]+".go")
			if _, err := os.Stat(p); err == nil {
				buildErrs[byFile[m[1]]] = firstLine(string(out), m[1])
				os.Remove(p)
			}
		}
	}
	out, err := exec.Command(bin).Output()
	require.NoError(t, err)
	got := map[string]compiled{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var c compiled
		require.NoError(t, json.Unmarshal([]byte(line), &c))
		got[c.Name] = c
	}
	return got, buildErrs
}

// generatedModule is a new temporary module for generated programs, with
// this module's requirements and this module replaced by its checkout.
func generatedModule(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	dir := t.TempDir()
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	mod := strings.Replace(string(gomod), "module github.com/slipway-build/slipway", "module slipway.test/generated", 1)
	mod += "\nrequire github.com/slipway-build/slipway v0.0.0-00010101000000-000000000000\n" +
		"replace github.com/slipway-build/slipway => " + root + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644))
	gosum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), gosum, 0o644))
	return dir
}

func firstLine(out, file string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, file+".go") {
			return l
		}
	}
	return ""
}

// harness is the main of the generated program: it compiles every case as
// the parity harness does and prints one JSON line each.
const harness = `package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"

	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/dsltest"
)

var cases = map[string]func() dsl.Stage{
	// CASES
}

type result struct {
	Name   string          ` + "`json:\"name\"`" + `
	Digest string          ` + "`json:\"digest\"`" + `
	Image  json.RawMessage ` + "`json:\"image\"`" + `
	Err    string          ` + "`json:\"err\"`" + `
}

func main() {
	caps := pb.Caps.CapSet(pb.Caps.All())
	enc := json.NewEncoder(os.Stdout)
	for name, build := range cases {
		r := result{Name: name}
		res, err := dsl.Compile(context.Background(), build(), dsl.WithResolver(dsltest.NewResolver(nil)), dsl.WithCaps(caps))
		if err != nil {
			r.Err = err.Error()
		} else {
			if n := len(res.Definition.Def); n > 0 {
				r.Digest = string(digest.FromBytes(res.Definition.Def[n-1]))
			}
			r.Image, _ = json.Marshal(res.Image)
		}
		if err := enc.Encode(r); err != nil {
			panic(err)
		}
	}
}
`
