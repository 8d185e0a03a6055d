package decompile

import (
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/buildkit/util/system"
)

// triggers applies a base image's ONBUILD triggers to a new stage as the
// frontend runs them, right after FROM: their effect on the env, dir, user
// and config, and how many steps and history entries they made, which the
// Dockerfile being written must not say again.
func (st *frontState) triggers() (steps, entries int, err error) {
	exprs := st.img.Config.OnBuild
	st.img.Config.OnBuild = nil
	lex := shell.NewLex('\\')
	for _, expr := range exprs {
		res, err := parser.Parse(strings.NewReader(expr))
		if err != nil || len(res.AST.Children) != 1 {
			return 0, 0, fmt.Errorf("ONBUILD %q of the base image: not one instruction", expr)
		}
		cmd, err := instructions.ParseCommand(res.AST.Children[0])
		if err != nil {
			return 0, 0, fmt.Errorf("ONBUILD %q of the base image: %w", expr, err)
		}
		entries++
		n, err := st.trigger(lex, expr, cmd)
		if err != nil {
			return 0, 0, err
		}
		steps += n
	}
	return steps, entries, nil
}

// trigger applies one trigger, expr parsed as cmd, whose words lex
// expands, and returns how many steps it made.
func (st *frontState) trigger(lex *shell.Lex, expr string, cmd instructions.Command) (int, error) {
	expand := func(s string) (string, error) {
		v, _, err := lex.ProcessWord(s, shell.EnvsFromSlice(st.env))
		return v, err
	}
	switch c := cmd.(type) {
	case *instructions.RunCommand, *instructions.CopyCommand, *instructions.AddCommand:
		return 1, nil
	case *instructions.EnvCommand:
		for _, kv := range c.Env {
			v, err := expand(kv.Value)
			if err != nil {
				return 0, fmt.Errorf("ONBUILD %q: %w", expr, err)
			}
			st.setEnv(kv.Key, v)
			st.img.Config.Env = addConfigEnv(st.img.Config.Env, kv.Key, v)
		}
	case *instructions.ArgCommand:
		for _, kv := range c.Args {
			if kv.Value == nil {
				continue
			}
			v, err := expand(*kv.Value)
			if err != nil {
				return 0, fmt.Errorf("ONBUILD %q: %w", expr, err)
			}
			st.setEnv(kv.Key, v)
		}
	case *instructions.WorkdirCommand:
		p, err := expand(c.Path)
		if err != nil {
			return 0, fmt.Errorf("ONBUILD %q: %w", expr, err)
		}
		wd, err := system.NormalizeWorkdir(st.img.Config.WorkingDir, p, st.platform.OS)
		if err != nil {
			return 0, fmt.Errorf("ONBUILD %q: %w", expr, err)
		}
		st.img.Config.WorkingDir = wd
		st.dir = wd
		if wd != "/" {
			return 1, nil
		}
	case *instructions.UserCommand:
		u, err := expand(c.User)
		if err != nil {
			return 0, fmt.Errorf("ONBUILD %q: %w", expr, err)
		}
		st.user, st.img.Config.User = u, u
	case *instructions.LabelCommand:
		if st.img.Config.Labels == nil {
			st.img.Config.Labels = map[string]string{}
		}
		for _, kv := range c.Labels {
			k, err1 := expand(kv.Key)
			v, err2 := expand(kv.Value)
			if err1 != nil || err2 != nil {
				return 0, fmt.Errorf("ONBUILD %q: cannot expand", expr)
			}
			st.img.Config.Labels[k] = v
		}
	default:
		if !st.triggerConfig(cmd) {
			return 0, fmt.Errorf("ONBUILD %q of the base image: slipway does not follow this instruction in a trigger yet", expr)
		}
	}
	return 0, nil
}

// triggerConfig applies a trigger that sets a config field with nothing
// to expand, and reports whether cmd was one.
func (st *frontState) triggerConfig(cmd instructions.Command) bool {
	switch c := cmd.(type) {
	case *instructions.ShellCommand:
		st.img.Config.Shell = c.Shell
	case *instructions.CmdCommand:
		st.img.Config.Cmd = c.CmdLine
		if c.PrependShell {
			st.img.Config.Cmd = append(append([]string{}, shellOf(st)...), strings.Join(c.CmdLine, " "))
		}
		st.setCmd()
	case *instructions.EntrypointCommand:
		st.img.Config.Entrypoint = c.CmdLine
		if c.PrependShell {
			st.img.Config.Entrypoint = append(append([]string{}, shellOf(st)...), strings.Join(c.CmdLine, " "))
		}
		if !st.cmdSet {
			st.img.Config.Cmd = nil
		}
	case *instructions.StopSignalCommand:
		st.img.Config.StopSignal = c.Signal
	default:
		return false
	}
	return true
}
