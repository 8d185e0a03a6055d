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
	"path"
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
// frontend/dockerfile/parser/testfiles/*/Dockerfile, then the Dockerfiles
// of frontend/dockerfile/dockerfile_*_test.go whose text go/ast tells
// (see integrationDockerfiles), then the Dockerfiles of the projects, in
// the order WalkDir finds them, then those of the directories in
// $SLIPWAY_MORE_DOCKERFILES.
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

// integrationDockerfiles are the Dockerfiles of a test file whose text is
// known without running it: every value assigned to a variable named
// dockerfile, or named with "dockerfile" in any case (dockerfile2,
// dockerfileBase, ociDockerfile) when it holds a FROM line, and every such
// value passed inline to fstest.CreateFile of a Dockerfile. A value is
// known when it is built from literals, from variables of the same
// function assigned known values, with integration.UnixOrWindows (the
// Unix one), []byte, string and fmt.Sprintf or fmt.Appendf; a value built
// from anything else (a server's address, a port) is skipped.
func integrationDockerfiles(file string) ([]Case, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, 0)
	if err != nil {
		return nil, err
	}
	var out []Case
	add := func(at token.Pos, s string) {
		pos := fset.Position(at)
		out = append(out, Case{Name: fmt.Sprintf("%s:%d", filepath.Base(file), pos.Line), Dockerfile: []byte(s)})
	}
	known := map[string]string{} // the known values of a function's variables
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl:
			known = map[string]string{}
		case *ast.AssignStmt:
			if len(n.Lhs) != 1 || len(n.Rhs) != 1 {
				return true
			}
			id, ok := n.Lhs[0].(*ast.Ident)
			if !ok {
				return true
			}
			s, ok := knownValue(n.Rhs[0], known)
			if n.Tok == token.ADD_ASSIGN {
				prev, had := known[id.Name]
				s, ok = prev+s, ok && had
			}
			if !ok {
				delete(known, id.Name)
				return true
			}
			known[id.Name] = s
			if id.Name == "dockerfile" || strings.Contains(strings.ToLower(id.Name), "dockerfile") && hasFrom(s) {
				add(n.Pos(), s)
			}
		case *ast.CallExpr:
			sel, ok := n.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "CreateFile" || len(n.Args) != 3 {
				return true
			}
			name, ok := stringValue(n.Args[0])
			if !ok || !strings.Contains(path.Base(name), "Dockerfile") {
				return true
			}
			if isIdent(n.Args[1]) {
				return true // its assignment is taken, if it is one
			}
			if conv, ok := n.Args[1].(*ast.CallExpr); ok && len(conv.Args) == 1 && isIdent(conv.Args[0]) {
				return true // []byte(dockerfile)
			}
			if s, ok := knownValue(n.Args[1], known); ok && hasFrom(s) {
				add(n.Pos(), s)
			}
		}
		return true
	})
	return out, nil
}

func isIdent(e ast.Expr) bool { _, ok := e.(*ast.Ident); return ok }

// hasFrom reports whether s has a line that starts with FROM, which tells
// a Dockerfile from the other values a variable so named holds (its name,
// its path).
func hasFrom(s string) bool {
	for _, l := range strings.Split(s, "\n") {
		if w, _, _ := strings.Cut(strings.TrimSpace(l), " "); strings.EqualFold(w, "FROM") {
			return true
		}
	}
	return false
}

// knownValue evaluates e, a string or []byte expression, where the
// variables of known have the values it holds: see integrationDockerfiles.
func knownValue(e ast.Expr, known map[string]string) (string, bool) {
	switch e := e.(type) {
	case *ast.Ident:
		s, ok := known[e.Name]
		return s, ok
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
		a, ok1 := knownValue(e.X, known)
		b, ok2 := knownValue(e.Y, known)
		return a + b, ok1 && ok2
	case *ast.ParenExpr:
		return knownValue(e.X, known)
	case *ast.CallExpr:
		return knownCall(e, known)
	}
	return "", false
}

// knownCall evaluates a call knownValue takes: []byte(x), string(x),
// integration.UnixOrWindows(a, b) as a, fmt.Sprintf(format, args...) and
// fmt.Appendf(nil, format, args...) of known strings and integer literals.
func knownCall(e *ast.CallExpr, known map[string]string) (string, bool) {
	switch fun := e.Fun.(type) {
	case *ast.ArrayType:
		if fmt.Sprint(fun.Elt) == "byte" && len(e.Args) == 1 {
			return knownValue(e.Args[0], known)
		}
	case *ast.Ident:
		if fun.Name == "string" && len(e.Args) == 1 {
			return knownValue(e.Args[0], known)
		}
	case *ast.SelectorExpr:
		pkg, ok := fun.X.(*ast.Ident)
		if !ok {
			return "", false
		}
		args := e.Args
		switch {
		case fun.Sel.Name == "UnixOrWindows" && len(args) == 2:
			return knownValue(args[0], known)
		case pkg.Name == "fmt" && fun.Sel.Name == "Appendf" && len(args) >= 2 && isIdent(args[0]) && args[0].(*ast.Ident).Name == "nil":
			args = args[1:]
		case pkg.Name == "fmt" && fun.Sel.Name == "Sprintf" && len(args) >= 1:
		default:
			return "", false
		}
		format, ok := knownValue(args[0], known)
		if !ok {
			return "", false
		}
		var vals []any
		for _, a := range args[1:] {
			if lit, ok := a.(*ast.BasicLit); ok && lit.Kind == token.INT {
				n, err := strconv.ParseInt(lit.Value, 0, 64)
				if err != nil {
					return "", false
				}
				vals = append(vals, n)
				continue
			}
			v, ok := knownValue(a, known)
			if !ok {
				return "", false
			}
			vals = append(vals, v)
		}
		return fmt.Sprintf(format, vals...), true
	}
	return "", false
}

// stringValue evaluates a constant string expression: literals, their
// concatenations, and integration.UnixOrWindows(a, b) as a.
func stringValue(e ast.Expr) (string, bool) { return knownValue(e, nil) }

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
