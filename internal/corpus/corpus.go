// Package corpus reads Dockerfiles nobody here wrote from the module cache:
// BuildKit's own test Dockerfiles (the parser's test files and the
// Dockerfile literals of the frontend's integration tests), and the
// Dockerfiles BuildKit and containerd build themselves with. The generator's
// parity test and the decompiler's round trip share it.
package corpus

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Case is one Dockerfile of the corpus.
type Case struct {
	// Name says where it comes from: "parser/NAME" for a parser test file,
	// "FILE.go:LINE" for an integration test literal, "buildkit/PATH" and
	// "containerd/PATH" for a project's, "more/FILE" for one added by
	// SLIPWAY_MORE_DOCKERFILES.
	Name       string
	Dockerfile []byte
}

// BuildKitDir is where the BuildKit module of go.mod is, as `go list -m`
// finds it.
func BuildKitDir() (string, error) { return moduleDir("github.com/moby/buildkit") }

func moduleDir(module string) (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module).Output()
	if err != nil {
		return "", fmt.Errorf("finding the module %s: %w", module, err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("finding the module %s: not in the module cache", module)
	}
	return dir, nil
}

// projects are modules of go.mod, pinned there, whose own Dockerfiles
// (the builds of the project, its tools and its test images) join the
// corpus as "NAME/PATH": real multi-stage builds, written by people who
// know BuildKit well.
var projects = []struct{ name, module string }{
	{"buildkit", "github.com/moby/buildkit"},
	{"containerd", "github.com/containerd/containerd/v2"},
}

// projectDockerfiles are the files of a module named as Dockerfiles are
// (Dockerfile, Dockerfile.NAME, NAME.Dockerfile), outside the directories
// of test data, which Cases reads on its own terms or leaves out.
func projectDockerfiles(name, module string) ([]Case, error) {
	dir, err := moduleDir(module)
	if err != nil {
		return nil, err
	}
	var out []Case
	err = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			switch e.Name() {
			case "testdata", "testfiles", "testfiles-negative", "vendor":
				return filepath.SkipDir
			}
			return nil
		}
		base := strings.ToLower(e.Name())
		if !e.Type().IsRegular() || strings.HasSuffix(base, ".md") || strings.HasSuffix(base, ".dockerignore") ||
			!(base == "dockerfile" || strings.HasPrefix(base, "dockerfile.") || strings.HasSuffix(base, ".dockerfile")) {
			return nil
		}
		dt, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		out = append(out, Case{Name: name + "/" + filepath.ToSlash(rel), Dockerfile: dt})
		return nil
	})
	return out, err
}

// Cases reads the corpus: the parser's test files,
// frontend/dockerfile/parser/testfiles/*/Dockerfile, then the
// `dockerfile := []byte(...)` literals of
// frontend/dockerfile/dockerfile_*_test.go, taken out with go/ast (for
// integration.UnixOrWindows(a, b), around the []byte or inside it, the Unix one; literals built with fmt are
// skipped), then the Dockerfiles of the projects, in the order WalkDir
// finds them, then those of the directories in $SLIPWAY_MORE_DOCKERFILES.
func Cases() ([]Case, error) {
	dir, err := BuildKitDir()
	if err != nil {
		return nil, err
	}
	var cases []Case
	files, err := filepath.Glob(filepath.Join(dir, "frontend/dockerfile/parser/testfiles/*/Dockerfile"))
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		dt, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		cases = append(cases, Case{Name: "parser/" + filepath.Base(filepath.Dir(f)), Dockerfile: dt})
	}
	tests, err := filepath.Glob(filepath.Join(dir, "frontend/dockerfile/dockerfile_*_test.go"))
	if err != nil {
		return nil, err
	}
	sort.Strings(tests)
	for _, f := range tests {
		found, err := integrationDockerfiles(f)
		if err != nil {
			return nil, err
		}
		cases = append(cases, found...)
	}
	for _, p := range projects {
		found, err := projectDockerfiles(p.name, p.module)
		if err != nil {
			return nil, err
		}
		cases = append(cases, found...)
	}
	more, err := moreDockerfiles(os.Getenv(MoreEnv))
	if err != nil {
		return nil, err
	}
	return append(cases, more...), nil
}

// MoreEnv names the variable with more directories of Dockerfiles to add
// to the corpus, separated as in PATH: every regular file in them, named
// "more/FILE". It is for checking Dockerfiles fetched by hand, which are
// not ours to commit; an added file that fails fails the test, as any case
// not listed as a known difference does.
const MoreEnv = "SLIPWAY_MORE_DOCKERFILES"

func moreDockerfiles(dirs string) ([]Case, error) {
	var out []Case
	for _, dir := range filepath.SplitList(dirs) {
		if dir == "" {
			continue
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", MoreEnv, err)
		}
		for _, e := range entries {
			if !e.Type().IsRegular() {
				continue
			}
			dt, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", MoreEnv, err)
			}
			out = append(out, Case{Name: "more/" + e.Name(), Dockerfile: dt})
		}
	}
	return out, nil
}

// integrationDockerfiles are the `dockerfile := []byte(...)` literals of a
// test file.
func integrationDockerfiles(file string) ([]Case, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, 0)
	if err != nil {
		return nil, err
	}
	var out []Case
	ast.Inspect(f, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok || len(as.Lhs) != 1 || len(as.Rhs) != 1 {
			return true
		}
		id, ok := as.Lhs[0].(*ast.Ident)
		if !ok || id.Name != "dockerfile" {
			return true
		}
		// []byte("...") or integration.UnixOrWindows([]byte("..."),
		// []byte("...")), whose Unix one testOnBuildInheritedStageWithFrom
		// and ten more hold.
		s, ok := bytesValue(as.Rhs[0])
		if !ok {
			return true
		}
		pos := fset.Position(as.Pos())
		out = append(out, Case{Name: fmt.Sprintf("%s:%d", filepath.Base(file), pos.Line), Dockerfile: []byte(s)})
		return true
	})
	return out, nil
}

// bytesValue evaluates a constant []byte expression: a conversion of a
// constant string, or integration.UnixOrWindows(a, b) of two as a.
func bytesValue(e ast.Expr) (string, bool) {
	call, ok := e.(*ast.CallExpr)
	if !ok {
		return "", false
	}
	if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "UnixOrWindows" && len(call.Args) == 2 {
		return bytesValue(call.Args[0])
	}
	if at, ok := call.Fun.(*ast.ArrayType); !ok || len(call.Args) != 1 || fmt.Sprint(at.Elt) != "byte" {
		return "", false
	}
	return stringValue(call.Args[0])
}

// stringValue evaluates a constant string expression: literals, their
// concatenations, and integration.UnixOrWindows(a, b) as a.
func stringValue(e ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(e.Value)
		return s, err == nil
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return "", false
		}
		a, ok1 := stringValue(e.X)
		b, ok2 := stringValue(e.Y)
		return a + b, ok1 && ok2
	case *ast.ParenExpr:
		return stringValue(e.X)
	case *ast.CallExpr:
		if sel, ok := e.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "UnixOrWindows" && len(e.Args) == 2 {
			return stringValue(e.Args[0])
		}
	}
	return "", false
}

// Logger is the part of testing.TB that CheckFailures uses.
type Logger interface {
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
}

// CheckFailures reports each failure, "NAME: message", in order: a case
// listed in known is logged with its reason, any other fails the test. A
// case listed in known that did not fail fails the test too: the list says
// what does not work, and must be cut when it works. So a case that new
// cases bring (a BuildKit bump, SLIPWAY_MORE_DOCKERFILES) is checked like
// every other, with no count for it to slip under.
func CheckFailures(t Logger, failures []string, known map[string]string) {
	sort.Strings(failures)
	failed := map[string]bool{}
	for _, f := range failures {
		name, _, _ := strings.Cut(f, ": ")
		failed[name] = true
		if reason, ok := known[name]; ok {
			t.Logf("%s: known difference: %s", name, reason)
			continue
		}
		t.Errorf("%s", f)
	}
	for _, name := range slices.Sorted(maps.Keys(known)) {
		if !failed[name] {
			t.Errorf("%s is listed as a known difference but matches: take it off the list", name)
		}
	}
}
