package decompile

import (
	"fmt"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
)

// Limits on what a definition may hold, so that no input makes the
// decompiler use unbounded memory or time.
const (
	maxOps    = 1 << 16
	maxInputs = 1 << 10
)

// ref is one output of an op: a filesystem state. The zero ref (no op) is
// scratch.
type ref struct {
	op    digest.Digest
	index int64
}

func (r ref) scratch() bool { return r.op == "" }

// graph is a decoded, checked definition.
type graph struct {
	ops   map[digest.Digest]*pb.Op
	order []digest.Digest // as in the definition: inputs before users
	final ref
	// uses counts the places each state is used: as the state a step
	// continues from (chain) and as anything else (sources).
	chain   map[ref]int
	sources map[ref]int
}

func (g *graph) input(op *pb.Op, i int64) (ref, error) {
	if i < 0 {
		return ref{}, nil
	}
	if i >= int64(len(op.Inputs)) {
		return ref{}, fmt.Errorf("input %d does not exist (the op has %d)", i, len(op.Inputs))
	}
	in := op.Inputs[i]
	return ref{op: digest.Digest(in.Digest), index: in.Index}, nil
}

// load decodes the ops of def, checks that every input points at an op of
// the definition with such an output, and finds the final state.
func load(def *llb.Definition) (*graph, error) {
	if def == nil {
		return nil, fmt.Errorf("no definition")
	}
	g := &graph{ops: map[digest.Digest]*pb.Op{}, chain: map[ref]int{}, sources: map[ref]int{}}
	if len(def.Def) == 0 {
		return g, nil // scratch, as llb.Scratch().Marshal() writes it
	}
	if len(def.Def) > maxOps {
		return nil, fmt.Errorf("the definition has %d ops, more than %d", len(def.Def), maxOps)
	}
	for i, dt := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			return nil, fmt.Errorf("op %d: decoding: %w", i, err)
		}
		if len(op.Inputs) > maxInputs {
			return nil, fmt.Errorf("op %d has %d inputs, more than %d", i, len(op.Inputs), maxInputs)
		}
		dgst := digest.FromBytes(dt)
		if _, dup := g.ops[dgst]; dup {
			continue
		}
		g.ops[dgst] = &op
		g.order = append(g.order, dgst)
	}
	last := g.ops[digest.FromBytes(def.Def[len(def.Def)-1])]
	if last.Op != nil || len(last.Inputs) != 1 {
		return nil, fmt.Errorf("the last op must be the definition's terminal (no operation, one input), not %s", kind(last))
	}
	// Every op but the terminal must be known, and reachable ops must not
	// form a cycle (digests make one impossible, unless an op is listed
	// under a digest that is not its own; check anyway, it is cheap).
	state := map[digest.Digest]int{} // 1 visiting, 2 done
	var visit func(d digest.Digest, depth int) error
	visit = func(d digest.Digest, depth int) error {
		switch state[d] {
		case 1:
			return fmt.Errorf("op %s: the inputs form a cycle", d)
		case 2:
			return nil
		}
		if depth > maxOps {
			return fmt.Errorf("op %s: the graph is deeper than %d ops", d, maxOps)
		}
		op, ok := g.ops[d]
		if !ok {
			return fmt.Errorf("an input points at op %s, which the definition does not hold", d)
		}
		state[d] = 1
		for i, in := range op.Inputs {
			if in.Index < 0 || in.Index >= outputs(g.ops[digest.Digest(in.Digest)]) && g.ops[digest.Digest(in.Digest)] != nil {
				return fmt.Errorf("op %s (%s): input %d asks for output %d of op %s, which has no such output", d, kind(op), i, in.Index, in.Digest)
			}
			if err := visit(digest.Digest(in.Digest), depth+1); err != nil {
				return err
			}
		}
		state[d] = 2
		return nil
	}
	in := last.Inputs[0]
	if target, ok := g.ops[digest.Digest(in.Digest)]; ok && (in.Index < 0 || in.Index >= outputs(target)) {
		return nil, fmt.Errorf("the terminal asks for output %d of op %s, which has no such output", in.Index, in.Digest)
	}
	if err := visit(digest.Digest(in.Digest), 0); err != nil {
		return nil, err
	}
	g.final = ref{op: digest.Digest(in.Digest), index: in.Index}
	return g, nil
}

// outputs is how many outputs an op has.
func outputs(op *pb.Op) int64 {
	if op == nil {
		return 0
	}
	switch o := op.Op.(type) {
	case *pb.Op_Exec:
		var n int64
		for _, m := range o.Exec.Mounts {
			if m.Output >= 0 {
				n++
			}
		}
		return n
	case *pb.Op_File:
		var n int64
		for _, a := range o.File.Actions {
			if a.Output >= 0 {
				n++
			}
		}
		return n
	case nil:
		return 0
	default:
		return 1
	}
}

// kind names an op for messages.
func kind(op *pb.Op) string {
	switch o := op.Op.(type) {
	case *pb.Op_Exec:
		return "exec"
	case *pb.Op_File:
		return "file"
	case *pb.Op_Source:
		return "source " + o.Source.Identifier
	case *pb.Op_Merge:
		return "merge"
	case *pb.Op_Diff:
		return "diff"
	case *pb.Op_Build:
		return "build"
	case nil:
		return "terminal"
	default:
		return fmt.Sprintf("%T", o)
	}
}
