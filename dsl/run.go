package dsl

import (
	"fmt"
	"path"
	"strings"

	"github.com/moby/buildkit/client/llb"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/slipway-build/slipway/internal/frontend"
)

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

func (c *compiler) dispatchRun(d *stageState, in *runIns) error {
	if len(in.args) == 0 || (in.shell && strings.TrimSpace(in.args[0]) == "") {
		return fmt.Errorf("empty command: %w", ErrInvalid)
	}
	if !in.shell && in.args[0] == "" {
		return fmt.Errorf("empty program name in %q: %w", in.args, ErrInvalid)
	}
	args := in.args
	var display string
	var scriptMount llb.RunOption
	switch {
	case in.script:
		if in.scriptName == "" || strings.ContainsAny(in.scriptName, "/ \t\n") {
			return fmt.Errorf("script name %q: want a plain file name: %w", in.scriptName, ErrInvalid)
		}
		display = "RUN <<" + in.scriptName
		if d.image.OS != "windows" && strings.HasPrefix(in.args[0], "#!") {
			// A script with an interpreter line is a file to execute.
			st := llb.Scratch().Dir("/").File(llb.Mkfile(in.scriptName, 0o755, []byte(in.args[0])),
				llb.WithCustomName("[internal] preparing inline document"), llb.Platform(d.platform))
			scriptMount = llb.AddMount("/dev/pipes/", st, llb.SourcePath("/"), llb.Readonly)
			args = []string{path.Join("/dev/pipes/", in.scriptName)}
		}
		args = withShell(d.image, args)
	case in.shell:
		display = "RUN " + in.args[0]
		args = withShell(d.image, args)
	default:
		display = "RUN " + jsonArray(in.args)
	}
	// The step's display name shows variables with their values, keeping
	// quotes and escapes, as the frontend's does.
	name := display
	if strings.Contains(display, "$") {
		rawLex := *d.lex
		rawLex.RawQuotes = true
		rawLex.RawEscapes = true
		rawLex.SkipUnsetEnv = true
		if w, _, err := rawLex.ProcessWord(display, envOf(d.state)); err == nil {
			name = w
		}
	}
	opts := []llb.RunOption{}
	if scriptMount != nil {
		opts = append(opts, scriptMount)
	}
	opts = append(opts, llb.Args(args))
	if c.proxy != nil {
		opts = append(opts, llb.WithProxy(*c.proxy))
	}
	mounts, err := c.runOptions(d, in.opts)
	if err != nil {
		return err
	}
	opts = append(opts, mounts...)
	opts = append(opts, describe(display, d.prefix(name)))
	d.state = d.state.Run(opts...).Root()
	d.commit(d.runHistory(args)+" # buildkit", true)
	return nil
}

func withShell(img dockerspec.DockerOCIImage, args []string) []string {
	return append(frontend.Shell(img.Config.Shell, img.OS), strings.Join(args, " "))
}
