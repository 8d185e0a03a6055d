package dsl

import (
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// ONBUILD: the instruction that records a trigger, and the triggers' run.
// Triggers are Dockerfile text, in a base image's config or in a base stage.
// They run as the first steps of a stage built on that base, so this file
// turns each trigger into the instruction the DSL would record for it,
// using BuildKit's own parser.

// OnBuild records a trigger instruction in the image config, as ONBUILD
// does: s.OnBuild("RUN make") runs `make` in any build that starts FROM
// this image. The trigger is Dockerfile text; a stage of this build that it
// names (COPY --from=NAME, RUN --mount=from=NAME) is given with
// [TriggerFrom], and is built only when the trigger runs, in a stage FROM
// this one, as the frontend keeps every stage a trigger reaches:
//
//	ONBUILD COPY --from=src /in /out
//
// is s.OnBuild("COPY --from=src /in /out", dsl.TriggerFrom("src", src)).
func (s Stage) OnBuild(instruction string, opts ...OnBuildOption) Stage {
	return OnBuild(instruction, opts...)(s)
}

// OnBuild is the free-function form of [Stage.OnBuild].
func OnBuild(instruction string, opts ...OnBuildOption) StageOption {
	at := here()
	return func(s Stage) Stage {
		in := &onBuildIns{expr: instruction}
		for _, o := range opts {
			o(in)
		}
		return s.thenAt(at, in)
	}
}

// OnBuildOption is an option of [Stage.OnBuild].
type OnBuildOption func(*onBuildIns)

// TriggerFrom says which stage of this build a trigger's --from=name
// means (COPY --from, RUN --mount=from), as a stage name or, for COPY,
// index does in a Dockerfile. In
//
//	FROM alpine AS src
//	FROM busybox AS base
//	ONBUILD COPY --from=src /file /foo
//
// base is
//
//	dsl.From("busybox").As("base").
//		OnBuild("COPY --from=src /file /foo", dsl.TriggerFrom("src", src))
//
// The name matches regardless of case, as the frontend's; s is built only
// if the trigger runs, in a stage FROM this one, whether or not the target
// needs it otherwise. A name no TriggerFrom gives and no stage built
// before has is an image.
func TriggerFrom(name string, s Stage) OnBuildOption {
	return func(in *onBuildIns) {
		in.from = append(in.from, triggerStage{strings.ToLower(name), s})
	}
}

type onBuildIns struct {
	expr string
	from []triggerStage
}

type triggerStage struct {
	name  string
	stage Stage
}

func (*onBuildIns) keyword() string { return "ONBUILD" }

func (c *compiler) dispatchOnBuild(d *stageState, in *onBuildIns) error {
	if strings.TrimSpace(in.expr) == "" {
		return fmt.Errorf("empty trigger: %w", ErrInvalid)
	}
	d.image.Config.OnBuild = append(d.image.Config.OnBuild, in.expr)
	d.triggerFrom = append(d.triggerFrom, in.from...)
	return nil
}

// triggers parses trigger expressions ("RUN make", "COPY . /app").
func (c *compiler) triggers(exprs []string) ([]instruction, error) {
	nodes, err := parseTriggers(exprs)
	if err != nil {
		return nil, err
	}
	var out []instruction
	for i, expr := range exprs {
		cmd, err := instructions.ParseCommand(nodes[i])
		if err != nil {
			// Report the error of the trigger parsed alone, whose line
			// numbers are its own.
			if node, perr := parseTrigger(expr); perr == nil {
				_, err = instructions.ParseCommand(node)
			}
			return nil, fmt.Errorf("ONBUILD %s: %w", expr, err)
		}
		in, err := c.fromCommand(cmd)
		if err != nil {
			return nil, fmt.Errorf("ONBUILD %s: %w", expr, err)
		}
		out = append(out, in)
	}
	return out, nil
}

// parseTriggers parses each trigger into its instruction's node, as the
// frontend does, parsing each alone. The one-line triggers are parsed
// together as one text of a line each instead, to the same nodes: the
// parser compiles a regexp per text, which is half its cost.
func parseTriggers(exprs []string) ([]*parser.Node, error) {
	var lines []string
	for _, expr := range exprs {
		if oneLineTrigger(expr) {
			lines = append(lines, expr)
		}
	}
	var batch []*parser.Node
	if len(lines) > 1 {
		res, err := parser.Parse(strings.NewReader(strings.Join(lines, "\n")))
		if err == nil && len(res.AST.Children) == len(lines) {
			batch = res.AST.Children
		}
	}
	// What the batch did not parse is parsed alone, in order, so that
	// the first trigger in error reports it.
	nodes := make([]*parser.Node, 0, len(exprs))
	for _, expr := range exprs {
		if len(batch) > 0 && oneLineTrigger(expr) {
			nodes = append(nodes, batch[0])
			batch = batch[1:]
			continue
		}
		node, err := parseTrigger(expr)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, node)
	}
	return nodes, nil
}

// parseTrigger parses one trigger alone, as the frontend does.
func parseTrigger(expr string) (*parser.Node, error) {
	res, err := parser.Parse(strings.NewReader(expr))
	if err != nil {
		return nil, fmt.Errorf("ONBUILD %s: %w", expr, err)
	}
	if len(res.AST.Children) != 1 {
		return nil, fmt.Errorf("ONBUILD %s: a trigger must be a single instruction: %w", expr, ErrInvalid)
	}
	return res.AST.Children[0], nil
}

// oneLineTrigger reports a trigger that parses the same on a line among
// others as alone: one line, no heredoc, no comment or parser directive,
// no line continuation.
func oneLineTrigger(expr string) bool {
	t := strings.TrimSpace(expr)
	return t != "" && t[0] != '#' && !strings.HasSuffix(t, "\\") &&
		!strings.ContainsAny(expr, "\r\n") && !strings.Contains(expr, "<<")
}

// fromCommand is the DSL instruction for a parsed Dockerfile instruction.
func (c *compiler) fromCommand(cmd instructions.Command) (instruction, error) {
	switch cmd := cmd.(type) {
	case *instructions.RunCommand:
		return c.fromRun(cmd)
	case *instructions.CopyCommand:
		opts := copyOpts{chown: cmd.Chown, chmod: cmd.Chmod, link: cmd.Link, parents: cmd.Parents, exclude: cmd.ExcludePatterns}
		if cmd.From != "" {
			from, err := c.stageNamed(cmd.From)
			if err != nil {
				return nil, err
			}
			opts.from = &from
		}
		return copyFromCommand(false, cmd.SourcesAndDest, opts), nil
	case *instructions.AddCommand:
		opts := copyOpts{chown: cmd.Chown, chmod: cmd.Chmod, link: cmd.Link, exclude: cmd.ExcludePatterns,
			checksum: cmd.Checksum, keepGitDir: cmd.KeepGitDir, unpack: cmd.Unpack}
		return copyFromCommand(true, cmd.SourcesAndDest, opts), nil
	case *instructions.EnvCommand:
		in := &envIns{}
		for _, kv := range cmd.Env {
			in.pairs = append(in.pairs, keyValue{kv.Key, kv.Value})
		}
		return in, nil
	case *instructions.LabelCommand:
		in := &labelIns{}
		for _, kv := range cmd.Labels {
			in.pairs = append(in.pairs, keyValue{kv.Key, kv.Value})
		}
		return in, nil
	case *instructions.WorkdirCommand:
		return &workdirIns{path: cmd.Path}, nil
	case *instructions.UserCommand:
		return &userIns{user: cmd.User}, nil
	case *instructions.ExposeCommand:
		return &exposeIns{ports: cmd.Ports}, nil
	case *instructions.VolumeCommand:
		return &volumeIns{paths: cmd.Volumes}, nil
	case *instructions.StopSignalCommand:
		return &stopSignalIns{signal: cmd.Signal}, nil
	case *instructions.ShellCommand:
		return &shellIns{args: cmd.Shell}, nil
	case *instructions.CmdCommand:
		return &cmdIns{args: cmd.CmdLine, shell: cmd.PrependShell}, nil
	case *instructions.EntrypointCommand:
		return &entrypointIns{args: cmd.CmdLine, shell: cmd.PrependShell}, nil
	case *instructions.HealthCheckCommand:
		return &healthIns{hc: *cmd.Health}, nil
	case *instructions.ArgCommand:
		in := &argIns{name: cmd.Args[0].Key, def: cmd.Args[0].Value}
		for _, a := range cmd.Args[1:] {
			in.more = append(in.more, ArgDecl{name: a.Key, def: a.Value})
		}
		return in, nil
	case *instructions.MaintainerCommand:
		return &maintainerIns{name: cmd.Maintainer}, nil
	default:
		return nil, fmt.Errorf("%s is not supported as a trigger: %w", cmd.Name(), ErrInvalid)
	}
}

func copyFromCommand(add bool, sd instructions.SourcesAndDest, opts copyOpts) *copyIns {
	for _, f := range sd.SourceContents {
		opts.contents = append(opts.contents, inlineFile{name: f.Path, data: f.Data, expand: f.Expand})
	}
	return &copyIns{add: add, srcs: sd.SourcePaths, dest: sd.DestPath, opts: opts}
}

func (c *compiler) fromRun(cmd *instructions.RunCommand) (instruction, error) {
	// Parse the flags without expanding them: the DSL expands each field
	// when it dispatches, against the stage's environment.
	if err := cmd.Expand(func(w string) (string, error) { return w, nil }); err != nil {
		return nil, err
	}
	in := &runIns{args: cmd.CmdLine, shell: cmd.PrependShell}
	if len(cmd.Files) > 0 {
		heredoc := parser.MustParseHeredoc(cmd.CmdLine[0])
		switch {
		case len(cmd.Files) == 1 && heredoc != nil:
			data := cmd.Files[0].Data
			if cmd.Files[0].Chomp {
				data = parser.ChompHeredocContent(data)
			}
			in.args = []string{data}
			in.script, in.scriptName = true, cmd.Files[0].Name
		default:
			var b strings.Builder
			b.WriteString(cmd.CmdLine[0])
			for _, f := range cmd.Files {
				b.WriteString("\n" + f.Data + f.Name)
			}
			in.args = []string{b.String()}
		}
	}
	for _, m := range instructions.GetMounts(cmd) {
		spec := mountFromDockerfile(m)
		if m.From != "" {
			from, err := c.stageNamed(m.From)
			if err != nil {
				return nil, err
			}
			spec.from = &from
		}
		in.opts.mounts = append(in.opts.mounts, spec)
	}
	if n := instructions.GetNetwork(cmd); n != "" {
		in.opts.network = NetworkMode(n)
	}
	in.opts.security = SecurityMode(instructions.GetSecurity(cmd))
	for _, dv := range instructions.GetDevices(cmd) {
		in.opts.devices = append(in.opts.devices, device{name: dv.Name, required: dv.Required})
	}
	return in, nil
}

// stageNamed is the source a trigger's --from names: a stage the base
// stage's ONBUILD gave with TriggerFrom, built now as the frontend builds
// every stage a trigger reaches, or a stage of this build by its name, or
// else an image.
func (c *compiler) stageNamed(name string) (Stage, error) {
	for _, t := range c.triggerFrom {
		if t.name == strings.ToLower(name) {
			if t.stage.n == nil {
				return Stage{}, fmt.Errorf("--from=%s: TriggerFrom of an empty stage (start one with dsl.From): %w", name, ErrInvalid)
			}
			// Building it parses its own base's triggers.
			saved := c.triggerFrom
			_, err := c.stage(t.stage)
			c.triggerFrom = saved
			if err != nil {
				return Stage{}, err
			}
			return t.stage, nil
		}
	}
	for n, d := range c.stages {
		if strings.EqualFold(d.name, name) && !d.dispatching { // as the frontend's findStateByName
			return Stage{n: n}, nil
		}
	}
	return From(name), nil
}
