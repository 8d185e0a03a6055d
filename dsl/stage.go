package dsl

import (
	"errors"
	"fmt"

	"github.com/moby/buildkit/client/llb"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

// Stage is one stage of a build: a base image and the instructions applied to
// it, in order. The zero Stage is not valid; start one with [From].
//
// Stage is an immutable value. Every method returns a new Stage that shares
// the history of its receiver, so branching is cheap:
//
//	base := dsl.From("debian:bookworm-slim").Env("LANG", "C.UTF-8")
//	a := base.Run("make a")
//	b := base.Run("make b") // base is unchanged by the line above
type Stage struct {
	n *node
}

// node is one instruction of a stage, linked to the instruction before it.
// Nodes are never mutated once made.
type node struct {
	parent *node
	ins    instruction
	depth  int // number of nodes from the root, this one included
}

// StageOption is a build step that can be stored and applied later with
// [Stage.With]. Every chain method has a free-function twin returning one.
type StageOption func(Stage) Stage

// instruction is one recorded builder call.
type instruction interface {
	// keyword is the Dockerfile instruction this call stands for.
	keyword() string
}

func (s Stage) then(ins instruction) Stage {
	n := &node{parent: s.n, ins: ins, depth: 1}
	if s.n != nil {
		n.depth = s.n.depth + 1
	}
	return Stage{n: n}
}

// instructions returns the stage's instructions from its base to its tip.
func (s Stage) instructions() []instruction {
	if s.n == nil {
		return nil
	}
	out := make([]instruction, s.n.depth)
	for n := s.n; n != nil; n = n.parent {
		out[n.depth-1] = n.ins
	}
	return out
}

// With applies build steps in order and returns the resulting stage.
func (s Stage) With(opts ...StageOption) Stage {
	for _, o := range opts {
		if o != nil {
			s = o(s)
		}
	}
	return s
}

// From starts a stage from a base image reference, as FROM does. The
// reference is normalized as Docker does: "alpine" means
// "docker.io/library/alpine:latest". "scratch" starts from an empty
// filesystem.
//
// The reference is a Dockerfile word expanded with the build's global
// arguments: the predefined ones (TARGETARCH, BUILDPLATFORM, …) and those
// declared with [GlobalArg], as FROM alpine:${VERSION} after ARG VERSION.
func From(ref string, opts ...FromOption) Stage {
	in := &fromIns{ref: ref}
	for _, o := range opts {
		if o != nil {
			o(in)
		}
	}
	return Stage{}.then(in)
}

// FromOption is a flag of FROM.
type FromOption func(*fromIns)

// Platform builds the stage for another platform, as FROM --platform=…
// does: "linux/arm64", or "$BUILDPLATFORM" for a stage that runs on the
// build machine and cross-compiles.
func Platform(p string) FromOption { return func(in *fromIns) { in.platform = p } }

// GlobalArg declares a global build argument, as an ARG before the first
// FROM does: it can be used in the image reference and --platform, and a
// stage's Arg(name) without a default takes its value. Declare the same ones
// on every From of a build, as a Dockerfile shares them.
func GlobalArg(name string, def ...string) FromOption {
	return func(in *fromIns) {
		g := globalArg{name: name}
		switch len(def) {
		case 0:
		case 1:
			g.def = &def[0]
		default:
			in.err = fmt.Errorf("global ARG %s has %d defaults, want at most one: %w", name, len(def), ErrInvalid)
		}
		in.globals = append(in.globals, g)
	}
}

// Escape sets the escape character of the stage's Dockerfile words, as the
// `# escape=` parser directive does for a whole Dockerfile: '\\' by
// default, '`' for Windows-style paths. Stages built on this one with
// FromStage keep it.
func Escape(r rune) FromOption { return func(in *fromIns) { in.escape = r } }

type globalArg struct {
	name string
	def  *string
}

type fromIns struct {
	ref        string
	candidates []Stage // FromNamed
	escape     rune
	platform   string
	globals    []globalArg
	err        error
}

func (*fromIns) keyword() string { return "FROM" }

// FromStage starts a stage from another stage's result, as FROM builder
// does. The new stage inherits the base's filesystem, image config and
// ARGs, but not its ONBUILD triggers.
func FromStage(base Stage) Stage {
	return Stage{}.then(&fromStageIns{base: base})
}

type fromStageIns struct {
	base Stage
}

func (*fromStageIns) keyword() string { return "FROM" }

// FromLLB starts a stage from a raw BuildKit state, the escape hatch for
// what a Dockerfile cannot say: a merge or diff of states, a git checkout
// with options, an OCI layout. The image config starts as FROM scratch's;
// pass one to start from another. The other way out is [Result.State].
func FromLLB(st llb.State, config ...dockerspec.DockerOCIImage) Stage {
	in := &fromLLBIns{state: st}
	switch len(config) {
	case 0:
	case 1:
		in.image = &config[0]
	default:
		in.err = fmt.Errorf("FromLLB takes at most one image config, got %d: %w", len(config), ErrInvalid)
	}
	return Stage{}.then(in)
}

type fromLLBIns struct {
	state llb.State
	image *dockerspec.DockerOCIImage
	err   error
}

func (*fromLLBIns) keyword() string { return "FROM" }

// FromNamed starts a stage from the candidate stage whose name (As) the
// word ref expands to, with the build's global arguments, as FROM ${BASE}
// does when BASE names a stage; when none of them has that name, from the
// image ref names. It is for a base chosen by a build or platform argument:
//
//	dsl.FromNamed("base-$TARGETOS", []dsl.Stage{baseLinux, baseWindows})
//
// Only the chosen candidate is compiled.
func FromNamed(ref string, candidates []Stage, opts ...FromOption) Stage {
	in := &fromIns{ref: ref, candidates: append([]Stage(nil), candidates...)}
	for _, o := range opts {
		if o != nil {
			o(in)
		}
	}
	return Stage{}.then(in)
}

// Context is a named build context: a directory the build reads besides
// the main context, given at build time as docker buildx build
// --build-context NAME=DIR gives it (the CLI's --build-context). Use it as a
// COPY or mount source: s.Copy("config.yaml", "/etc/app/", dsl.Context("conf")).
// Only the paths the build reads from it are sent.
func Context(name string) Stage {
	return Stage{}.then(&contextIns{name: name})
}

type contextIns struct {
	name string
}

func (*contextIns) keyword() string { return "FROM" }

// As names the stage, as FROM … AS name does. The name shows in the
// progress display ("[builder 2/4] RUN …"); in Go, the stage is referred
// to by its value, not its name.
func (s Stage) As(name string) Stage { return s.then(&asIns{name: name}) }

type asIns struct {
	name string
}

func (*asIns) keyword() string { return "AS" }

// Run runs a command in the stage's filesystem with the default shell
// (`/bin/sh -c` on Linux), as the shell form of RUN does:
//
//	RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt
//
// is
//
//	s.Run("pip install -r requirements.txt", dsl.CacheMount("/root/.cache/pip"))
func (s Stage) Run(command string, opts ...RunOption) Stage { return Run(command, opts...)(s) }

// Run is the free-function form of [Stage.Run].
func Run(command string, opts ...RunOption) StageOption {
	return func(s Stage) Stage {
		return s.then(newRun([]string{command}, true, opts))
	}
}

// RunExec runs a program with its arguments and no shell, as the exec
// (JSON) form of RUN does: RUN ["make", "all"] is
// s.RunExec([]string{"make", "all"}).
func (s Stage) RunExec(args []string, opts ...RunOption) Stage { return RunExec(args, opts...)(s) }

// RunExec is the free-function form of [Stage.RunExec].
func RunExec(args []string, opts ...RunOption) StageOption {
	return func(s Stage) Stage {
		return s.then(newRun(append([]string(nil), args...), false, opts))
	}
}

// RunScript runs a script given inline, as a RUN heredoc does:
//
//	RUN <<EOF
//	#!/usr/bin/env python3
//	print("hi")
//	EOF
//
// is s.RunScript("EOF", "#!/usr/bin/env python3\nprint(\"hi\")\n"). A script
// that starts with #! is written to a file named name and executed, so its
// interpreter runs it; any other script is run by the shell, as Run does.
func (s Stage) RunScript(name, script string, opts ...RunOption) Stage {
	return RunScript(name, script, opts...)(s)
}

// RunScript is the free-function form of [Stage.RunScript].
func RunScript(name, script string, opts ...RunOption) StageOption {
	return func(s Stage) Stage {
		in := newRun([]string{script}, true, opts)
		in.script, in.scriptName = true, name
		return s.then(in)
	}
}

func newRun(args []string, shell bool, opts []RunOption) *runIns {
	in := &runIns{args: args, shell: shell}
	for _, o := range opts {
		if o != nil {
			o.setRun(&in.opts)
		}
	}
	return in
}

type runIns struct {
	args  []string
	shell bool
	opts  runOpts
	// script is set for RunScript, with the heredoc's name.
	script     bool
	scriptName string
}

func (*runIns) keyword() string { return "RUN" }

// Cmd sets the image's default command in exec form, as
// CMD ["redis-server"] does: s.Cmd("redis-server").
func (s Stage) Cmd(args ...string) Stage { return Cmd(args...)(s) }

// Cmd is the free-function form of [Stage.Cmd].
func Cmd(args ...string) StageOption {
	return func(s Stage) Stage {
		return s.then(&cmdIns{args: append([]string(nil), args...)})
	}
}

// CmdShell sets the default command in shell form, as CMD redis-server
// --port 6380 does: the command is run by the image's shell.
func (s Stage) CmdShell(command string) Stage { return CmdShell(command)(s) }

// CmdShell is the free-function form of [Stage.CmdShell].
func CmdShell(command string) StageOption {
	return func(s Stage) Stage {
		return s.then(&cmdIns{args: []string{command}, shell: true})
	}
}

type cmdIns struct {
	args  []string
	shell bool
}

func (*cmdIns) keyword() string { return "CMD" }

// Env sets environment variables for the following instructions and in the
// image config, as ENV key=value does. More pairs may follow the first, as in
// ENV A=1 B=2, which is s.Env("A", "1", "B", "2"). Values are Dockerfile
// words: `$OTHER` and `${OTHER:-default}` expand against the stage's
// environment as it was before the instruction.
func (s Stage) Env(key, value string, more ...string) Stage { return Env(key, value, more...)(s) }

// Env is the free-function form of [Stage.Env].
func Env(key, value string, more ...string) StageOption {
	return func(s Stage) Stage {
		pairs, err := pairsOf(key, value, more)
		return s.then(&envIns{pairs: pairs, err: err})
	}
}

type keyValue struct{ key, value string }

type envIns struct {
	pairs []keyValue
	err   error
}

func (*envIns) keyword() string { return "ENV" }

// Workdir sets the working directory for the following instructions and in
// the image config, and creates it, as WORKDIR does. A relative path is taken
// from the previous working directory; `$VAR` expands. A path that expands to
// nothing is the previous working directory, as in the frontend, but an empty
// path is an error.
func (s Stage) Workdir(path string) Stage { return Workdir(path)(s) }

// Workdir is the free-function form of [Stage.Workdir].
func Workdir(path string) StageOption {
	return func(s Stage) Stage {
		return s.then(&workdirIns{path: path})
	}
}

type workdirIns struct {
	path string
}

func (*workdirIns) keyword() string { return "WORKDIR" }

// ErrInvalid is wrapped by every error that reports a bad builder argument.
var ErrInvalid = errors.New("invalid argument")

// argError names the instruction, its position and the argument at fault.
func argError(pos int, keyword, format string, args ...any) error {
	return fmt.Errorf("instruction %d (%s): %s: %w", pos, keyword, fmt.Sprintf(format, args...), ErrInvalid)
}
