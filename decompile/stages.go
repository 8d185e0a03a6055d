package decompile

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/solver/pb"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// decompiler holds one decompile.
type decompiler struct {
	ctx context.Context
	g   *graph
	o   Options
	img *dockerspec.DockerOCIImage

	named  map[ref]*stage
	stages []*stage // dependencies first, the final stage last
	final  *stage
	target ocispecs.Platform
	out    lines
	hist   *history
	// known are the env pairs the definition holds (see knownPairs).
	known map[string]bool
	// epochTime is SOURCE_DATE_EPOCH, when the build had one.
	epochTime *time.Time
	// curChain is whether the stage being written is one the image
	// history records.
	curChain bool
	// splits counts the stages splitStage made.
	splits int
	// envConflict is set when a step's env cannot follow the stage's.
	envConflict bool
}

// stage is a named stage of the Dockerfile: a chain of steps from a base
// (an image, scratch, or another stage) to a state used elsewhere.
type stage struct {
	name     string
	end      ref
	root     ref    // the image source or scratch the chain starts from
	from     *stage // or the stage it continues
	steps    []digest.Digest
	platform *ocispecs.Platform
	deps     []*stage
	state    *frontState // after the stage, as the frontend would hold it
	emitted  bool
	// triggered is set when the base image's ONBUILD triggers made the
	// first steps, which begin then leaves out of steps.
	triggered bool
}

// prev returns the state a step continues from; ok is false when r is not
// a step but a stage root (a source, or scratch).
func (d *decompiler) prev(r ref) (p ref, ok bool, err error) {
	if r.scratch() {
		return ref{}, false, nil
	}
	op := d.g.ops[r.op]
	switch o := op.Op.(type) {
	case *pb.Op_Source:
		return ref{}, false, nil
	case *pb.Op_Exec:
		ms := o.Exec.Mounts
		if len(ms) == 0 || ms[0].Dest != "/" || ms[0].MountType != pb.MountType_BIND {
			return ref{}, false, opError(r.op, "exec op without a root file system as its first mount")
		}
		if ms[0].Output != r.index {
			return ref{}, false, opError(r.op, "output %d is the mount at %s, which a Dockerfile cannot use after the RUN", r.index, mountAt(ms, r.index))
		}
		p, err := d.g.input(op, ms[0].Input)
		if err != nil {
			return ref{}, false, opError(r.op, "root mount: %v", err)
		}
		return p, true, nil
	case *pb.Op_File:
		as := o.File.Actions
		if len(as) == 0 {
			return ref{}, false, opError(r.op, "file op without actions")
		}
		last := as[len(as)-1]
		if last.Output != r.index {
			return ref{}, false, opError(r.op, "output %d is not the result of the op's last action, which a Dockerfile cannot use", r.index)
		}
		for i, a := range as {
			if i > 0 && a.Input != int64(len(op.Inputs)+i-1) {
				return ref{}, false, opError(r.op, "action %d does not continue from action %d; a Dockerfile makes one chain per instruction", i, i-1)
			}
			if i < len(as)-1 && a.Output != -1 {
				return ref{}, false, opError(r.op, "action %d has an output of its own, which a Dockerfile cannot use", i)
			}
		}
		p, err := d.g.input(op, as[0].Input)
		if err != nil {
			return ref{}, false, opError(r.op, "action 0: %v", err)
		}
		return p, true, nil
	case *pb.Op_Merge:
		m := o.Merge.Inputs
		if len(m) != 2 || len(op.Inputs) != 2 {
			return ref{}, false, opError(r.op, "merge of %d states; a Dockerfile merges only with COPY --link, a state and one copy", len(m))
		}
		p, err := d.g.input(op, m[0].Input)
		if err != nil {
			return ref{}, false, opError(r.op, "merge input 0: %v", err)
		}
		return p, true, nil
	default:
		return ref{}, false, opError(r.op, "a %s op, which a Dockerfile cannot make", kind(op))
	}
}

func mountAt(ms []*pb.Mount, output int64) string {
	for _, m := range ms {
		if m.Output == output {
			return m.Dest
		}
	}
	return "?"
}

// sources are the states a step reads besides the one it continues from,
// not counting the parts of the instruction itself (inline documents,
// cache mount directories, the copy of COPY --link), which it returns as
// parts.
func (d *decompiler) sources(r ref) (srcs []ref, parts []ref, err error) {
	op := d.g.ops[r.op]
	add := func(i int64) error {
		s, err := d.g.input(op, i)
		if err != nil {
			return opError(r.op, "%v", err)
		}
		if d.isPart(s) {
			parts = append(parts, s)
		} else {
			srcs = append(srcs, s)
		}
		return nil
	}
	switch o := op.Op.(type) {
	case *pb.Op_Exec:
		for _, m := range o.Exec.Mounts[1:] {
			if m.Input >= 0 {
				if err := add(m.Input); err != nil {
					return nil, nil, err
				}
			}
		}
	case *pb.Op_File:
		for _, a := range o.File.Actions {
			if _, ok := a.Action.(*pb.FileAction_Copy); ok {
				if a.SecondaryInput < 0 {
					srcs = append(srcs, ref{}) // COPY --from a stage of scratch
					continue
				}
				if err := add(a.SecondaryInput); err != nil {
					return nil, nil, err
				}
			}
		}
	case *pb.Op_Merge:
		c, err := d.g.input(op, o.Merge.Inputs[1].Input)
		if err != nil {
			return nil, nil, opError(r.op, "merge input 1: %v", err)
		}
		cop, ok := d.g.ops[c.op]
		if c.scratch() || !ok {
			return nil, nil, opError(r.op, "merge input 1 is not a copy")
		}
		f, ok := cop.Op.(*pb.Op_File)
		if !ok || !copiesOnScratch(f.File) {
			return nil, nil, opError(r.op, "merge input 1 is a %s op, not a copy onto scratch as COPY --link makes", kind(cop))
		}
		parts = append(parts, c)
		for _, a := range f.File.Actions {
			if a.SecondaryInput < 0 {
				srcs = append(srcs, ref{})
			} else {
				s, err := d.g.input(cop, a.SecondaryInput)
				if err != nil {
					return nil, nil, opError(c.op, "%v", err)
				}
				if d.isPart(s) {
					parts = append(parts, s)
				} else {
					srcs = append(srcs, s)
				}
			}
		}
	}
	return srcs, parts, nil
}

// copiesOnScratch reports whether a file op is a chain of copies onto
// scratch, the copy of COPY --link.
func copiesOnScratch(f *pb.FileOp) bool {
	for i, a := range f.Actions {
		if _, ok := a.Action.(*pb.FileAction_Copy); !ok {
			return false
		}
		if i == 0 && a.Input != -1 {
			return false
		}
	}
	return len(f.Actions) > 0
}

// isPart reports whether a state is written inside the instruction that
// reads it: a file made on scratch (an inline document, or the directory of
// a cache mount with uid, gid or mode), or a source (image, context, URL,
// git) that a flag or argument names.
func (d *decompiler) isPart(r ref) bool {
	if r.scratch() {
		return true
	}
	op := d.g.ops[r.op]
	switch o := op.Op.(type) {
	case *pb.Op_Source:
		return true
	case *pb.Op_File:
		if len(o.File.Actions) != 1 || o.File.Actions[0].Input != -1 {
			return false
		}
		switch a := o.File.Actions[0].Action.(type) {
		case *pb.FileAction_Mkfile:
			return true
		case *pb.FileAction_Mkdir:
			return a.Mkdir.Path == "/cache"
		}
	}
	return false
}

// analyze finds the stages.
func (d *decompiler) analyze() error {
	seen, err := d.walk()
	if err != nil {
		return err
	}
	d.nameStages(seen)
	for _, s := range d.named {
		if err := d.chainOf(s); err != nil {
			return err
		}
	}
	d.final = d.named[d.g.final]
	if d.img != nil && len(d.img.History) > 0 { // the history is read later
		d.inlineSharedBases()
	}
	d.orderStages()
	d.target = d.targetPlatform()
	for _, s := range d.stages {
		if s.platform == nil {
			p := d.target
			if s.from != nil && s.from.platform != nil {
				p = *s.from.platform
			}
			s.platform = &p
		}
	}
	return nil
}

// walk visits the states the result is made of, from the result, and
// counts how many steps continue from each (chain) and read it (sources).
func (d *decompiler) walk() (map[ref]bool, error) {
	g := d.g
	seen := map[ref]bool{}
	var visit func(r ref, depth int) error
	visit = func(r ref, depth int) error {
		if seen[r] {
			return nil
		}
		seen[r] = true
		if depth > maxOps {
			return &Error{Msg: fmt.Sprintf("the chain of steps is deeper than %d", maxOps)}
		}
		p, ok, err := d.prev(r)
		if err != nil || !ok {
			return err
		}
		g.chain[p]++
		if err := visit(p, depth+1); err != nil {
			return err
		}
		srcs, _, err := d.sources(r)
		if err != nil {
			return err
		}
		for _, s := range srcs {
			g.sources[s]++
			if err := visit(s, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return seen, visit(g.final, 0)
}

// nameStages makes the stages: a state is a named stage when it is the
// result, when another step reads it, or when two steps continue from it.
func (d *decompiler) nameStages(seen map[ref]bool) {
	g := d.g
	d.named = map[ref]*stage{}
	isStep := func(r ref) bool {
		_, ok, _ := d.prev(r)
		return ok
	}
	for _, dg := range g.order {
		op := g.ops[dg]
		for i := int64(0); i < outputs(op); i++ {
			r := ref{op: dg, index: i}
			if !seen[r] {
				continue
			}
			if r == g.final || g.sources[r] > 0 || (g.chain[r] > 1 && isStep(r)) {
				d.named[r] = &stage{end: r}
			}
		}
	}
	if g.sources[ref{}] > 0 {
		d.named[ref{}] = &stage{end: ref{}} // an empty stage a COPY reads
	}
	if _, ok := d.named[g.final]; !ok {
		d.named[g.final] = &stage{end: g.final} // scratch, or a source op
	}
}

// orderStages puts the stages in the order they are written, each after
// the stages it is FROM and reads, and names all but the final one.
func (d *decompiler) orderStages() {
	var order func(s *stage)
	order = func(s *stage) {
		if s.emitted {
			return
		}
		s.emitted = true
		if s.from != nil {
			order(s.from)
		}
		for _, dep := range s.deps {
			order(dep)
		}
		d.stages = append(d.stages, s)
	}
	order(d.final)
	n := 0
	for _, s := range d.stages {
		s.emitted = false
		if s != d.final {
			s.name = fmt.Sprintf("stage-%d", n)
			n++
		}
	}
}

// inlineSharedBases writes the stages the image's history records from
// their root: a stage they continue from that other stages use too (the
// same steps made by several Dockerfile stages, which LLB shares) is
// written again in them. The history's entries for those steps then stay
// in the image's stages instead of reaching the others, and FROM adds no
// boundary, which sets the config env again, where the Dockerfile had
// none; where it had one, splitStage finds it from the env.
func (d *decompiler) inlineSharedBases() {
	chain := map[*stage]bool{}
	for s := d.final; s != nil; s = s.from {
		chain[s] = true
	}
	used := map[*stage]bool{} // by a stage outside the chain
	for _, s := range d.named {
		if chain[s] {
			continue
		}
		if s.from != nil {
			used[s.from] = true
		}
		for _, t := range s.deps {
			used[t] = true
		}
	}
	for s := d.final; s != nil; s = s.from {
		for s.from != nil && used[s.from] {
			s.inlineBase()
		}
	}
}

// inlineBase makes the stage continue from its base's base, with its
// base's steps first: the same ops, written in this stage.
func (s *stage) inlineBase() {
	b := s.from
	s.steps = append(slices.Clone(b.steps), s.steps...)
	s.deps = append(slices.Clone(b.deps), s.deps...)
	s.from, s.root, s.platform = b.from, b.root, b.platform
}

// chainOf walks back from a stage's end to its base, collecting its steps.
func (d *decompiler) chainOf(s *stage) error {
	r := s.end
	var steps []digest.Digest
	for {
		if t, ok := d.named[r]; ok && r != s.end && !r.scratch() {
			s.from = t
			break
		}
		p, ok, err := d.prev(r)
		if err != nil {
			return err
		}
		if !ok {
			s.root = r
			break
		}
		steps = append(steps, r.op)
		r = p
	}
	for i, j := 0, len(steps)-1; i < j; i, j = i+1, j-1 {
		steps[i], steps[j] = steps[j], steps[i]
	}
	s.steps = steps
	deps := map[*stage]bool{}
	for _, dg := range steps {
		srcs, _, err := d.sources(ref{op: dg})
		if err != nil {
			return err
		}
		for _, src := range srcs {
			t, ok := d.named[src]
			if !ok {
				return opError(dg, "reads a state that is not a stage")
			}
			if !deps[t] {
				deps[t] = true
				s.deps = append(s.deps, t)
			}
		}
	}
	// The platform: the base image's, else the first RUN's.
	if s.from == nil && !s.root.scratch() {
		if p := d.g.ops[s.root.op].Platform; p != nil {
			pl := platformOf(p)
			s.platform = &pl
		}
	}
	if s.platform == nil && s.from == nil {
		for _, dg := range steps {
			if p := d.g.ops[dg].Platform; p != nil {
				if _, ok := d.g.ops[dg].Op.(*pb.Op_Exec); ok {
					pl := platformOf(p)
					s.platform = &pl
					break
				}
			}
		}
	}
	return nil
}

func platformOf(p *pb.Platform) ocispecs.Platform {
	return platforms.Normalize(ocispecs.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant, OSVersion: p.OSVersion, OSFeatures: p.OSFeatures})
}

// chainStages are the stages the final stage builds on, base first, and
// the final stage: the ones whose instructions the image config records.
func (d *decompiler) chainStages() []*stage {
	var out []*stage
	for s := d.final; s != nil; s = s.from {
		out = append([]*stage{s}, out...)
	}
	return out
}

func platformString(p ocispecs.Platform) string {
	return strings.TrimSuffix(platforms.Format(p), "/")
}
