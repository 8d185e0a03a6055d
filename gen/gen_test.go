package gen_test

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/format"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/dsltest"
	"github.com/slipway-build/slipway/gen"
	"github.com/slipway-build/slipway/internal/golden"
	"github.com/slipway-build/slipway/internal/parity"
)

// goldenOptions are the options of a golden case, from its folder name.
func goldenOptions(name string) gen.Options {
	o := gen.Options{Filename: name + "/Dockerfile"}
	if name == "target" {
		o.Target = "release"
	}
	return o
}

// TestGolden converts every testdata/<case>/Dockerfile and compares with
// testdata/<case>/main.go.golden; -update rewrites the golden files.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/Dockerfile")
	require.NoError(t, err)
	require.NotEmpty(t, dirs)
	for _, df := range dirs {
		name := filepath.Base(filepath.Dir(df))
		t.Run(name, func(t *testing.T) {
			dt, err := os.ReadFile(df)
			require.NoError(t, err)
			got, err := gen.Generate(dt, goldenOptions(name))
			require.NoError(t, err)
			golden.Check(t, name+"/main.go.golden", string(got))
			_, err = parser.ParseFile(token.NewFileSet(), "main.go", got, parser.ParseComments)
			require.NoError(t, err)
		})
	}
}

// TestGoldenParity compiles the golden programs and checks they build what
// the frontend builds from their Dockerfiles, byte for byte of every string.
func TestGoldenParity(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	dirs, err := filepath.Glob("testdata/*/Dockerfile")
	require.NoError(t, err)
	o := parity.Options{Resolver: dsltest.NewResolver(nil), Caps: parity.AllCaps()}
	want := map[string]*parity.Output{}
	generated := map[string][]byte{}
	for i, df := range dirs {
		name := filepath.Base(filepath.Dir(df))
		dt, err := os.ReadFile(df)
		require.NoError(t, err)
		fn := fmt.Sprintf("Case%d", i)
		opts := goldenOptions(name)
		opts.Func = fn
		src, err := gen.Generate(dt, opts)
		require.NoError(t, err)
		generated[fn] = src
		po := o
		out, err := parity.Dockerfile(t.Context(), dt, po)
		if opts.Target != "" {
			out, err = parity.DockerfileTarget(t.Context(), dt, po, opts.Target)
		}
		require.NoError(t, err, name)
		want[fn] = out
	}
	got, buildErrs := runGenerated(t, generated)
	require.Empty(t, buildErrs)
	for fn, w := range want {
		g := got[fn]
		require.Empty(t, g.Err, fn)
		require.Equal(t, string(w.Digest), g.Digest, fn)
		require.JSONEq(t, string(w.Image), string(g.Image), fn)
	}
}

// BuildKit's negative parser cases, and errors of our own making, are
// FILE:LINE: message errors, never a panic.
func TestBadDockerfiles(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(buildkitDir(t), "frontend/dockerfile/parser/testfiles-negative/*/Dockerfile"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		dt, err := os.ReadFile(f)
		require.NoError(t, err)
		_, err = gen.Generate(dt, gen.Options{Filename: "neg/Dockerfile"})
		require.Error(t, err, f)
		require.True(t, strings.HasPrefix(err.Error(), "neg/Dockerfile"), "%s: %v", f, err)
	}
	for dockerfile, want := range map[string]string{
		"": "Dockerfile: the Dockerfile cannot be empty",
		"FROM busybox\nRUN --mount=type=nope x\n": `Dockerfile:2: unsupported mount type "nope"`,
		"FROM busybox\nCOPY --chmod=999 a b\n":    "Dockerfile:2:",
		"FROM busybox\nNOPE x\n":                  "Dockerfile:2: unknown instruction: NOPE",
		"RUN x\n":                                 "Dockerfile:1:",
		"FROM busybox\nEXPOSE 80/icmp\n":          "Dockerfile:2:",
		// Triggers that name each other's stage, and both run.
		"FROM busybox AS a\nONBUILD COPY --from=b /x /x\nFROM busybox AS b\nONBUILD COPY --from=a /y /y\n" +
			"FROM a AS ca\nFROM b AS cb\nFROM scratch\nCOPY --from=ca /x /x\nCOPY --from=cb /y /y\n": `Dockerfile:2: ONBUILD "COPY --from=b /x /x" names a stage whose own triggers`,
	} {
		_, err := gen.Generate([]byte(dockerfile), gen.Options{})
		require.Error(t, err, "%q", dockerfile)
		require.Contains(t, err.Error(), want, "%q", dockerfile)
		var ge *gen.Error
		require.True(t, errors.As(err, &ge), "%q", dockerfile)
	}
	_, err = gen.Generate([]byte("FROM a\n"), gen.Options{Func: "not an identifier"})
	require.ErrorContains(t, err, `-func "not an identifier" is not a Go identifier`)
	_, err = gen.Generate([]byte("FROM a\n"), gen.Options{Target: "nope"})
	require.ErrorContains(t, err, "nope")
}

// typeChecker type-checks generated programs against the export data of
// the packages they import, which `go list -export` builds once.
func typeChecker(t testing.TB) func(src []byte) error {
	t.Helper()
	out, err := exec.Command("go", "list", "-export", "-f", "{{.ImportPath}} {{.Export}}",
		"github.com/slipway-build/slipway/dsl", "github.com/slipway-build/slipway/cli", "time").Output()
	require.NoError(t, err)
	exports := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, file, _ := strings.Cut(line, " ")
		exports[path] = file
	}
	return func(src []byte) error {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, "main.go", src, 0)
		if err != nil {
			return err
		}
		imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
			file, ok := exports[path]
			if !ok {
				return nil, fmt.Errorf("unexpected import %q", path)
			}
			return os.Open(file)
		})
		_, err = (&types.Config{Importer: imp}).Check("main", fset, []*ast.File{f}, nil)
		return err
	}
}

// FuzzGenerate: no input makes the generator panic, and whenever the
// frontend accepts a Dockerfile, the generated program type-checks.
func FuzzGenerate(f *testing.F) {
	for _, c := range corpusCases(f) {
		f.Add(c.Dockerfile)
	}
	check := typeChecker(f)
	f.Fuzz(func(t *testing.T, dt []byte) {
		src, err := gen.Generate(dt, gen.Options{})
		if err != nil {
			var ge *gen.Error
			if !errors.As(err, &ge) {
				t.Fatalf("error without a location: %v", err)
			}
			return
		}
		if err := check(src); err != nil {
			t.Fatalf("generated Go does not compile: %v\n%s", err, src)
		}
		if !bytes.Contains(src, []byte("func Build() dsl.Stage")) {
			t.Fatalf("no Build function:\n%s", src)
		}
		if formatted, err := format.Source(src); err != nil || !bytes.Equal(formatted, src) {
			t.Fatalf("the generated Go is not gofmt's (%v):\n%s", err, src)
		}
	})
}

// The generator formats the build function alone and puts it in a layout
// formatted once (see gen.layout): the whole file must be what gofmt makes
// of it, for every corpus Dockerfile, as a program and as a function in
// another package.
func TestGeneratedIsGofmt(t *testing.T) {
	converted := 0
	for _, c := range corpusCases(t) {
		for _, o := range []gen.Options{{}, {Package: "images", Func: "Image"}} {
			src, err := gen.Generate(c.Dockerfile, o)
			if err != nil {
				continue // rejected, as the frontend rejects it
			}
			converted++
			formatted, err := format.Source(src)
			require.NoError(t, err, c.Name)
			require.Equal(t, string(formatted), string(src), "%s %+v", c.Name, o)
		}
	}
	require.Greater(t, converted, 500)
}

// The fuzz test's checker catches a program that does not compile.
func TestTypeCheckerCatchesErrors(t *testing.T) {
	check := typeChecker(t)
	good, err := gen.Generate([]byte("FROM alpine\nRUN true\n"), gen.Options{})
	require.NoError(t, err)
	require.NoError(t, check(good))
	bad := bytes.Replace(good, []byte(`Run("true")`), []byte(`Run(1)`), 1)
	require.ErrorContains(t, check(bad), "cannot use 1")
}
