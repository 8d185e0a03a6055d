// Package gen turns a Dockerfile into a Go program written with package dsl
// that builds the same image, with the same LLB and so the same cache keys.
//
// The Dockerfile is read with BuildKit's own parser and typed instructions,
// and the Go source is built with jennifer. Every string of the Dockerfile
// reaches the program as a Go string literal, byte for byte: Dockerfile words
// are expanded by the DSL at build time exactly as the frontend expands them,
// so the generator never interprets them.
package gen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/format"
	"go/token"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/dave/jennifer/jen"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/buildkit/frontend/dockerui"

	"github.com/slipway-build/slipway/internal/frontend"
	"github.com/slipway-build/slipway/internal/offline"
)

const (
	dslPath = "github.com/slipway-build/slipway/dsl"
	cliPath = "github.com/slipway-build/slipway/cli"
)

// Options configure Generate.
type Options struct {
	// Filename names the Dockerfile in error messages. Default "Dockerfile".
	Filename string
	// Package is the Go package name. Default "main".
	Package string
	// Func, when set, makes the output a function of that name returning
	// the build, for use in an existing package; otherwise the output is a
	// complete program whose main is cli.Main.
	Func string
	// Target is the stage to build, as docker build --target. Default: the
	// last stage.
	Target string
}

// Error is a problem in the Dockerfile, at a line.
type Error struct {
	File string
	Line int
	Err  error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Generate returns the Go source of a program that builds the Dockerfile.
func Generate(dt []byte, o Options) ([]byte, error) {
	if o.Filename == "" {
		o.Filename = "Dockerfile"
	}
	if o.Package == "" {
		o.Package = "main"
	}
	if o.Func != "" && !token.IsIdentifier(o.Func) {
		return nil, fmt.Errorf("-func %q is not a Go identifier", o.Func)
	}
	if !token.IsIdentifier(o.Package) {
		return nil, fmt.Errorf("-package %q is not a Go identifier", o.Package)
	}
	// The frontend is the judge of what is a valid Dockerfile: whatever it
	// rejects, the generator rejects, with its message and line.
	if err := validate(dt, o); err != nil {
		return nil, err
	}
	res, err := parser.Parse(bytes.NewReader(dt))
	if err != nil {
		return nil, located(o.Filename, err)
	}
	// Lint rules are the frontend's business; a silent linter only keeps
	// the parser from tripping over check directives.
	stages, metaArgs, err := instructions.Parse(res.AST, linter.New(&linter.Config{SkipAll: true}))
	if err != nil {
		return nil, located(o.Filename, err)
	}
	nodes := map[int]*parser.Node{}
	for _, n := range res.AST.Children {
		nodes[n.StartLine] = n
	}
	g := &generator{
		opt:      o,
		file:     commentText(o.Filename),
		nodes:    nodes,
		escape:   res.EscapeToken,
		stages:   stages,
		metaArgs: metaArgs,
		lex:      shell.NewLex(res.EscapeToken),
		vars:     map[int]string{},
		used:     map[string]bool{"dsl": true, "cli": true, "main": true, "shared": true, "time": true, o.Func: true, "Build": true},
	}
	build, err := g.build()
	if err != nil {
		return nil, located(o.Filename, err)
	}
	out, err := g.render(build)
	if err != nil {
		return nil, fmt.Errorf("rendering Go for %s: %w", o.Filename, err)
	}
	return out, nil
}

// newFile is a jennifer file of package pkg with the DSL's import names.
func newFile(pkg string) *jen.File {
	f := jen.NewFile(pkg)
	f.ImportName(dslPath, "dsl")
	f.ImportName(cliPath, "cli")
	return f
}

// layoutKey is what the file around the build function depends on.
type layoutKey struct {
	pkg, fn    string
	main, time bool
}

// layouts are the files around the build function, by layoutKey: what
// comes before it (the package clause and the imports its code uses) and
// after it (main), rendered by jennifer and formatted by gofmt once per
// form. A conversion then renders and formats only the build function,
// about half the work for a small Dockerfile: gofmt formats top-level
// declarations one by one, so the function's text is the one it has in the
// whole file (TestGeneratedIsGofmt checks the outputs of the corpus).
var layouts sync.Map

// cutMark marks, in a layout's file, the stand-in function cut out of it.
const cutMark = "slipway:cut"

func layout(k layoutKey) (head, tail []byte, err error) {
	if v, ok := layouts.Load(k); ok {
		l := v.([2][]byte)
		return l[0], l[1], nil
	}
	f := newFile(k.pkg)
	// The stand-in uses the packages the build function uses, so that
	// jennifer imports them.
	uses := []jen.Code{jen.Var().Id("_").Qual(dslPath, "Stage")}
	if k.time {
		uses = append(uses, jen.Var().Id("_").Op("=").Qual("time", "Second"))
	}
	// The doc comment is the same for every build function of a name, so
	// it is in the layout: gofmt reformatting a doc comment is a tenth of
	// formatting a small function.
	f.Commentf("%s is the image the Dockerfile describes.", k.fn)
	f.Comment(cutMark)
	f.Func().Id(k.fn).Params().Block(uses...)
	f.Comment(cutMark)
	if k.main {
		f.Line()
		f.Func().Id("main").Params().Block(jen.Qual(cliPath, "Main").Call(jen.Id(k.fn)))
	}
	var out bytes.Buffer
	if err := f.Render(&out); err != nil {
		return nil, nil, err
	}
	parts := bytes.Split(out.Bytes(), []byte("// "+cutMark+"\n"))
	if len(parts) != 3 {
		return nil, nil, fmt.Errorf("the layout of package %s has %d marks, want 2", k.pkg, len(parts)-1)
	}
	layouts.Store(k, [2][]byte{parts[0], parts[2]})
	return parts[0], parts[2], nil
}

// funcName is the build function's name: -func's, or Build in a program.
func (g *generator) funcName() string {
	if g.opt.Func != "" {
		return g.opt.Func
	}
	return "Build"
}

// render is the Go file of the build function: its layout around it.
func (g *generator) render(build *jen.Statement) ([]byte, error) {
	head, tail, err := layout(layoutKey{pkg: g.opt.Package, fn: g.funcName(), main: g.opt.Func == "", time: g.usesTime})
	if err != nil {
		return nil, err
	}
	fn, err := formatFunc(build, g.opt.Package)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(head)+len(fn)+len(tail)+1)
	out = append(append(append(append(out, head...), fn...), '\n'), tail...)
	return out, nil
}

// formatFunc is the build function's text as gofmt prints it. jennifer's
// Statement.RenderWithFile hands gofmt the function alone, which gofmt
// parses twice: as a file, which fails for want of a package clause, and
// again as one. Here jennifer renders it unformatted, below a package
// clause gofmt parses once; the failed parse was a third of the parsing of
// a small Dockerfile's function. The text is the same (TestGeneratedIsGofmt).
func formatFunc(build *jen.Statement, pkg string) ([]byte, error) {
	f := newFile(pkg)
	f.NoFormat = true
	f.Comment(cutMark)
	f.Add(build)
	var raw bytes.Buffer
	if err := f.Render(&raw); err != nil {
		return nil, err
	}
	_, body, ok := bytes.Cut(raw.Bytes(), []byte("// "+cutMark+"\n"))
	if !ok {
		return nil, fmt.Errorf("the unformatted function has no %s mark", cutMark)
	}
	const clause = "package p\n\n"
	src := make([]byte, 0, len(clause)+len(body))
	src = append(append(src, clause...), body...)
	out, err := format.Source(src)
	if err != nil {
		return nil, fmt.Errorf("formatting the build function: %w", err)
	}
	fn, ok := bytes.CutPrefix(out, []byte(clause))
	if !ok {
		return nil, fmt.Errorf("gofmt moved the package clause of the build function")
	}
	return bytes.TrimSuffix(fn, []byte("\n")), nil
}

// validate compiles the Dockerfile with the frontend against an offline
// resolver that knows every image, for a daemon of BuildKit's version.
func validate(dt []byte, o Options) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &Error{File: o.Filename, Err: fmt.Errorf("BuildKit's Dockerfile frontend failed on this file: %v", r)}
		}
	}()
	caps := frontend.AllCaps()
	_, err = dockerfile2llb.Dockerfile2LLB(context.Background(), dt, dockerfile2llb.ConvertOpt{
		Config:       dockerui.Config{Target: o.Target},
		MetaResolver: offline.NewResolver(nil),
		LLBCaps:      &caps,
	})
	if err != nil {
		return located(o.Filename, err)
	}
	return nil
}

// located turns a parser or frontend error into FILE:LINE: message.
func located(file string, err error) error {
	var ge *Error
	if errors.As(err, &ge) {
		return err
	}
	line := 0
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		line = le.Locations[0][0].Start.Line
	}
	msg := err.Error()
	// The frontend prefixes its own "dockerfile parse error on line N: ".
	if i := strings.Index(msg, ": "); strings.HasPrefix(msg, "dockerfile parse error on line ") && i > 0 {
		var n int
		if _, scanErr := fmt.Sscanf(msg, "dockerfile parse error on line %d:", &n); scanErr == nil {
			line, msg = n, msg[i+2:]
		}
	}
	return &Error{File: file, Line: line, Err: errors.New(msg)}
}

type generator struct {
	opt      Options
	file     string               // opt.Filename as a comment may hold it
	nodes    map[int]*parser.Node // by start line, for raw flags
	escape   rune
	stages   []instructions.Stage
	metaArgs []instructions.ArgCommand
	lex      *shell.Lex
	usesTime bool            // the build function names package time
	raws     int             // raw strings written, see text
	meta     shell.EnvGetter // see metaEnv
	bases    map[int]base    // see base
	vars     map[int]string  // stage index → Go variable
	used     map[string]bool
	// fires holds the stages whose ONBUILD triggers run in the build: a
	// stage the target needs is FROM them (see reachable).
	fires map[int]bool
}

// build is the build function; its doc comment is in its layout.
func (g *generator) build() (*jen.Statement, error) {
	target, err := g.target()
	if err != nil {
		return nil, err
	}
	order, err := g.reachable(target)
	if err != nil {
		return nil, err
	}
	var body []jen.Code
	if g.hasShared() {
		var decls []jen.Code
		if g.escape != '\\' {
			decls = append(decls, jen.Line().Qual(dslPath, "Escape").Call(jen.LitRune(g.escape)))
		}
		for _, a := range g.metaArgs {
			for j, kv := range a.Args {
				decl := jen.Line()
				if j == 0 {
					// The ARG's comments, as a stage's go above its chain.
					for _, c := range a.Comments() {
						decl.Comment(commentText(c)).Line()
					}
				}
				decls = append(decls, decl.Qual(dslPath, "GlobalArg").Call(g.argArgs(kv)...))
			}
		}
		decls = append(decls, jen.Line())
		body = append(body, jen.Comment("What every FROM shares: the escape directive and the global build"))
		body = append(body, jen.Comment("arguments, declared before the first FROM."))
		body = append(body, jen.Id("shared").Op(":=").Index().Qual(dslPath, "FromOption").Values(decls...))
	}
	var left []string
	for i, s := range g.stages {
		if !slices.Contains(order, i) {
			name := s.Name
			if name == "" {
				name = fmt.Sprint(i)
			}
			left = append(left, name)
		}
	}
	if len(left) > 0 {
		body = append(body, jen.Commentf("Not needed by the target, so not written here: stage %s.", strings.Join(left, ", ")))
	}
	for _, i := range order {
		st, place, err := g.stage(i)
		if err != nil {
			return nil, err
		}
		for _, c := range g.stages[i].Comments {
			body = append(body, jen.Comment(commentText(c)))
		}
		if from := g.place(g.stages[i].Location); from != "" {
			body = append(body, jen.Comment(from))
		}
		if i == target {
			st = jen.Return(st)
		} else {
			st = jen.Id(g.vars[i]).Op(":=").Add(st)
		}
		if place != "" {
			st = st.Comment(place)
		}
		body = append(body, st)
	}
	name := g.funcName()
	return jen.Func().Id(name).Params().Qual(dslPath, "Stage").Block(body...), nil
}

// target is the index of the stage to build.
func (g *generator) target() (int, error) {
	if g.opt.Target == "" {
		return len(g.stages) - 1, nil
	}
	for i, s := range g.stages {
		if strings.EqualFold(s.Name, g.opt.Target) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("target stage %q not found", g.opt.Target)
}

// stageIndex is the earlier stage a name refers to (FROM name, --from=name),
// or -1 for an image. Names may be stage indexes, as in --from=0.
func (g *generator) stageIndex(name string, before int) int {
	for i := 0; i < before; i++ {
		if g.stages[i].Name != "" && strings.EqualFold(g.stages[i].Name, name) {
			return i
		}
	}
	if n, err := strconv.Atoi(name); err == nil && strconv.Itoa(n) == name && n >= 0 && n < before {
		return n
	}
	return -1
}

// baseName is stage i's base as the frontend reads it: expanded with the
// global args' defaults, for telling a stage from an image.
func (g *generator) baseName(i int) string { return g.base(i).name }

// base is stage i's base, worked out once.
func (g *generator) base(i int) base {
	if b, ok := g.bases[i]; ok {
		return b
	}
	b := base{name: g.stages[i].BaseName}
	if strings.ContainsAny(b.name, "$'\"\\`") { // else nothing the lexer would change
		if w, unmatched, err := g.lex.ProcessWord(b.name, g.metaEnv()); err == nil {
			b.name, b.unmatched = w, len(unmatched) > 0
		}
	}
	if g.bases == nil {
		g.bases = map[int]base{}
	}
	g.bases[i] = b
	return b
}

// base is a FROM's base, expanded.
type base struct {
	name string
	// unmatched is set when it names a variable the global args do not
	// define.
	unmatched bool
}

// hasShared reports FROM options that every stage shares.
func (g *generator) hasShared() bool {
	return len(g.metaArgs) > 0 || g.escape != '\\'
}

// metaEnv is the global args with their defaults, worked out once.
func (g *generator) metaEnv() shell.EnvGetter {
	if g.meta == nil {
		g.meta = g.globalEnv()
	}
	return g.meta
}

func (g *generator) globalEnv() shell.EnvGetter {
	env := map[string]string{}
	var keys []string
	for _, a := range g.metaArgs {
		for _, kv := range a.Args {
			if kv.Value != nil {
				v, _, err := g.lex.ProcessWord(*kv.Value, mapEnv{env, keys})
				if err == nil {
					if _, ok := env[kv.Key]; !ok {
						keys = append(keys, kv.Key)
					}
					env[kv.Key] = v
				}
			}
		}
	}
	return mapEnv{env, keys}
}

type mapEnv struct {
	m    map[string]string
	keys []string
}

func (e mapEnv) Get(k string) (string, bool) { v, ok := e.m[k]; return v, ok }
func (e mapEnv) Keys() []string              { return e.keys }

// varFor names stage i's Go variable after the stage.
func (g *generator) varFor(i int) string {
	if v, ok := g.vars[i]; ok {
		return v
	}
	base := goName(g.stages[i].Name)
	if base == "" {
		base = fmt.Sprintf("stage%d", i)
	}
	name := base
	for n := 2; g.used[name] || token.IsKeyword(name); n++ {
		name = fmt.Sprintf("%s%d", base, n)
	}
	g.used[name] = true
	g.vars[i] = name
	return name
}

// goName turns a stage name (lowercase letters, digits, - _ .) into a Go
// identifier in camel case: "build-env" becomes buildEnv.
func goName(s string) string {
	var b strings.Builder
	upper := false
	for _, r := range s {
		switch {
		case r == '-' || r == '_' || r == '.':
			upper = b.Len() > 0
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if b.Len() == 0 && unicode.IsDigit(r) {
				b.WriteString("stage")
				upper = false
			}
			if upper {
				r = unicode.ToUpper(r)
				upper = false
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}
