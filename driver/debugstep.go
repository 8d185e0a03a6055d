package driver

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/moby/buildkit/client/llb"
	gwclient "github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/system"
	digest "github.com/opencontainers/go-digest"

	"github.com/slipway-build/slipway/dsl"
)

// DebugOptions configure Client.Debug.
type DebugOptions struct {
	// Build says how to build up to the step. Its Outputs are ignored;
	// its OnError opens a shell in a step that fails on the way.
	Build BuildOptions
	// File and Line are the source line whose step to stop at, as the
	// build's LLB source map records it: File as the map names it or any
	// path that ends with it (main.go, examples/app/main.go), or the
	// reverse. An empty File means the stage's last step.
	File string
	Line int
	// Shell is the process to open there.
	Shell DebugShell
}

// Debug builds the stage up to the step File:Line made (only what that
// step needs) and opens Shell in a container of it, as a failed step's
// shell is opened (see DebugShell): the step's root file system as its
// command left it, and for a RUN its mounts, working directory,
// environment and user. A step that runs no command (COPY, FROM) gets its
// file system alone, with the image config's working directory,
// environment and user when it is the stage's last step, else / and the
// default PATH. A line that made no step is an error that lists the
// lines of the file that did. Debug returns the process's exit status.
func (c *Client) Debug(ctx context.Context, s dsl.Stage, o DebugOptions) (int, error) {
	bo := o.Build
	bo.Outputs = nil
	var code int
	var notFound error // the step is not in the build: no solve error to explain
	_, err := c.solve(ctx, s, bo, nil, func(ctx context.Context, gw gwclient.Client, r *dsl.Result, _ string, stopDisplay func()) (*gwclient.Result, error) {
		t, err := findTarget(r.Definition, o.File, o.Line)
		if err != nil {
			notFound = err
			return nil, err
		}
		step, err := stepAt(ctx, gw, r, bo, t)
		if err != nil {
			return nil, err
		}
		stopDisplay()
		o.Shell.notice("opening %s at the step %s", shellName(o.Shell.Args), stepName(step))
		if code, err = o.Shell.open(ctx, gw, step); err != nil {
			return nil, err
		}
		return gwclient.NewResult(), nil
	})
	if notFound != nil {
		return 0, notFound
	}
	return code, err
}

// debugTarget is the step Debug opens: output index of the op dgst of the
// compiled build, which ops holds decoded; last says it is the build's
// last step.
type debugTarget struct {
	ops   map[digest.Digest]*pb.Op
	dgst  digest.Digest
	index int64
	last  bool
}

// findTarget finds the step at file:line in def, or its last step for an
// empty file.
func findTarget(def *llb.Definition, file string, line int) (debugTarget, error) {
	t := debugTarget{ops: map[digest.Digest]*pb.Op{}}
	if len(def.Def) == 0 {
		return t, errors.New("the build is empty: there is no step to open a shell in")
	}
	for _, dt := range def.Def {
		var op pb.Op
		if err := op.Unmarshal(dt); err != nil {
			return t, fmt.Errorf("reading the compiled build: %w", err)
		}
		t.ops[digest.FromBytes(dt)] = &op
	}
	head := t.ops[digest.FromBytes(def.Def[len(def.Def)-1])].Inputs
	if len(head) == 0 {
		return t, errors.New("the build is empty: there is no step to open a shell in")
	}
	t.dgst, t.index, t.last = digest.Digest(head[0].Digest), head[0].Index, true
	if file != "" {
		d, err := findStep(def, file, line)
		if err != nil {
			return t, err
		}
		t.dgst, t.index, t.last = d, 0, d == t.dgst
	}
	return t, nil
}

// stepAt solves what the step t needs and describes its container.
func stepAt(ctx context.Context, gw gwclient.Client, r *dsl.Result, o BuildOptions, t debugTarget) (*debugStep, error) {
	def := r.Definition
	target, index := t.dgst, t.index
	op := t.ops[target]
	step := &debugStep{op: op, name: def.Metadata[target].Description["llb.customname"]}
	refAt := func(d digest.Digest, i int64) (gwclient.Reference, error) {
		return solveOutput(ctx, gw, o, def, d, i)
	}
	exec := op.GetExec()
	if exec == nil {
		ref, err := refAt(target, index)
		if err != nil {
			return nil, err
		}
		step.exec = &pb.ExecOp{Meta: fileStepMeta(r, t.last)}
		step.mounts = []gwclient.Mount{{Dest: "/", Ref: ref, MountType: pb.MountType_BIND}}
		return step, nil
	}
	step.exec = exec
	for _, m := range exec.Mounts {
		var from gwclient.Mount
		var err error
		switch {
		case m.MountType != pb.MountType_BIND: // cache, secret, ssh, tmpfs: made anew
		case pb.OutputIndex(m.Output) != pb.SkipOutput:
			from.Ref, err = refAt(target, int64(m.Output))
		case pb.InputIndex(m.Input) != pb.Empty:
			in := op.Inputs[m.Input]
			from.Ref, err = refAt(digest.Digest(in.Digest), in.Index)
		}
		if err != nil {
			return nil, err
		}
		step.mounts = append(step.mounts, mountOf(m, from))
	}
	return step, nil
}

// fileStepMeta is the process of a step that runs no command: the image
// config's when it is the stage's last step, else / and the default PATH.
func fileStepMeta(r *dsl.Result, last bool) *pb.Meta {
	if last && r.Image != nil {
		cfg := r.Image.Config
		return &pb.Meta{Env: cfg.Env, Cwd: cfg.WorkingDir, User: cfg.User}
	}
	return &pb.Meta{Env: []string{"PATH=" + system.DefaultPathEnvUnix}, Cwd: "/"}
}

// solveOutput solves output i of the op d of def, and only what it needs,
// as the build's own request would.
func solveOutput(ctx context.Context, gw gwclient.Client, o BuildOptions, def *llb.Definition, d digest.Digest, i int64) (gwclient.Reference, error) {
	head, err := (&pb.Op{Inputs: []*pb.Input{{Digest: string(d), Index: i}}}).Marshal()
	if err != nil {
		return nil, fmt.Errorf("encoding the step to build: %w", err)
	}
	upTo := *def
	upTo.Def = append(slices.Clip(def.Def), head)
	res, err := gw.Solve(ctx, o.request(&upTo))
	if err != nil {
		return nil, err
	}
	return res.SingleRef()
}
