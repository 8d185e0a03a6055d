package decompile

import (
	"slices"
	"sort"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	"github.com/slipway-build/slipway/internal/frontend"
)

// The writer's frame: write, the stage loop and FROM are here; each
// instruction family has its own file. env.go finds the ENV (or ARG, or a
// stage boundary) a step's env needs; run.go writes RUN and mount.go its
// --mount flags; copy.go writes COPY and ADD; workdir.go WORKDIR;
// config.go the config instructions, read from the image history by
// history.go; onbuild.go follows a base image's triggers; quote.go spells
// words, values and heredocs.

// write writes every stage.
func (d *decompiler) write() error {
	d.hist = d.newHistory()
	d.out.add("# Decompiled from LLB by llb2dockerfile.")
	epoch, err := d.epoch()
	if err != nil {
		return err
	}
	d.epochTime = epoch
	proxy, err := d.proxyEnv()
	if err != nil {
		return err
	}
	if args := proxyArgs(proxy); len(args) > 0 {
		var kv []string
		for _, k := range sortedKeys(args) {
			kv = append(kv, "--build-arg "+k+"="+args[k])
		}
		d.out.add("# Built with %s, which a Dockerfile cannot hold.", strings.Join(kv, " "))
	}
	if epoch != nil {
		// A global ARG sets the time of the build's files and history,
		// as the build arg of the same name does.
		d.out.add("ARG %s", epochArg(*epoch))
	}
	for _, s := range d.stages {
		d.out.add("")
		if err := d.writeStageOrInline(s); err != nil {
			return err
		}
	}
	return nil
}

// writeStageOrInline writes a stage. A stage FROM a shared stage whose
// env it cannot have (the shared stage set a variable this stage's steps
// lack) is written again from the shared stage's own base, with its steps:
// two Dockerfile stages made the same ops up to where they part, but only
// one of them set the variable, before a step that does not use it (an ENV
// before a WORKDIR both stages have). Only for a stage outside the image's
// history, which the second writing does not read.
func (d *decompiler) writeStageOrInline(s *stage) error {
	shared := s.from
	if shared == nil || shared.triggered || (d.hist != nil && d.inChain(s)) {
		return d.writeStage(s)
	}
	lines := slices.Clone(d.out.l)
	p := *shared.state
	p.envLines, p.envBase = slices.Clone(p.envLines), slices.Clone(p.envBase)
	p.img.Config.Env = slices.Clone(p.img.Config.Env)
	splits := d.splits
	d.envConflict = false
	err := d.writeStage(s)
	if !d.envConflict {
		return err
	}
	d.envConflict = false
	d.out.l, d.splits = lines, splits
	*shared.state = p
	inline := *s
	inline.inlineBase()
	if err := d.writeStage(&inline); err != nil {
		return err
	}
	s.state = inline.state
	return nil
}

// unsupported fails, or with BestEffort writes a comment and goes on.
func (d *decompiler) unsupported(dg digest.Digest, format string, args ...any) error {
	return d.refused(opError(dg, format, args...))
}

// refused is unsupported for the refusal a step returned, or nil: it
// fails, or with BestEffort writes it as a comment and goes on.
func (d *decompiler) refused(err error) error {
	if err == nil || !d.o.BestEffort {
		return err
	}
	d.out.add("# llb2dockerfile: %s", strings.ReplaceAll(err.Error(), "\n", " "))
	return nil
}

func (d *decompiler) inChain(s *stage) bool {
	return slices.Contains(d.chainStages(), s)
}

func (d *decompiler) writeStage(s *stage) error {
	st, err := d.begin(s)
	if err != nil {
		return err
	}
	// A FROM can only begin a stage within this one.
	st.fromLine, st.name, st.marks, st.set = len(d.out.l)-1, s.name, nil, nil
	chain := d.hist != nil && d.inChain(s)
	d.curChain = chain
	for _, dg := range s.steps {
		st.markStep(len(d.out.l))
		if chain {
			if err := d.hist.configUntilLayer(d, st); err != nil {
				return err
			}
		}
		var err error
		op := d.g.ops[dg]
		switch o := op.Op.(type) {
		case *pb.Op_Exec:
			err = d.writeRun(st, dg, op, o.Exec)
		case *pb.Op_File:
			if mk, ok := o.File.Actions[0].Action.(*pb.FileAction_Mkdir); ok && len(o.File.Actions) == 1 {
				err = d.writeWorkdir(st, dg, mk.Mkdir)
			} else {
				err = d.writeCopy(st, dg, op, o.File, false)
			}
		case *pb.Op_Merge:
			c, _ := d.g.input(op, o.Merge.Inputs[1].Input)
			cop := d.g.ops[c.op]
			err = d.writeCopy(st, c.op, cop, cop.GetFile(), true)
		}
		if err != nil {
			return err
		}
		if _, ok := op.Op.(*pb.Op_Exec); ok {
			st.ranStep()
		}
		if chain {
			d.hist.layer()
		}
	}
	if s == d.final {
		if err := d.writeConfig(st); err != nil {
			return err
		}
	}
	s.state = st
	return nil
}

// begin writes the FROM line and returns the state the stage starts with.
func (d *decompiler) begin(s *stage) (*frontState, error) {
	as := ""
	if s.name != "" {
		as = " AS " + s.name
	}
	if s.from != nil {
		st := s.from.state.clone()
		for _, kv := range st.img.Config.Env {
			k, v, _ := strings.Cut(kv, "=")
			st.setEnv(k, v)
		}
		st.envLines, st.envBase, st.parent = nil, nil, s.from.state
		st.cmdSet, st.clean = false, nil
		d.out.add("FROM %s%s", s.from.name, as)
		return st, nil
	}
	st := &frontState{platform: *s.platform}
	flag := ""
	if platformString(*s.platform) != platformString(d.target) {
		flag = "--platform=" + platformString(*s.platform) + " "
	}
	if s.root.scratch() {
		st.img = frontend.Empty(*s.platform)
		st.initFromImage()
		d.out.add("FROM %sscratch%s", flag, as)
		return st, nil
	}
	op := d.g.ops[s.root.op]
	src := op.GetSource()
	named, ok := imageRef(src.Identifier)
	if !ok {
		return nil, opError(s.root.op, "a stage starts from %s, which FROM cannot name", src.Identifier)
	}
	if len(src.Attrs) > 0 {
		if err := d.unsupported(s.root.op, "image source attributes %v have no FROM flag", src.Attrs); err != nil {
			return nil, err
		}
	}
	img, err := d.resolveBase(named.String(), *s.platform)
	if err != nil {
		return nil, opError(s.root.op, "%v", err)
	}
	st.img = img
	st.initFromImage()
	d.out.add("FROM %s%s%s", flag, reference.FamiliarString(named), as)
	if len(img.Config.OnBuild) > 0 {
		steps, entries, err := st.triggers()
		if err != nil {
			return nil, opError(s.root.op, "%v", err)
		}
		if steps > len(s.steps) {
			return nil, opError(s.root.op, "the base image's ONBUILD triggers make %d steps, the stage has %d", steps, len(s.steps))
		}
		// The triggers run again when the Dockerfile is built: their
		// steps and history are not written.
		s.steps = s.steps[steps:]
		s.triggered = steps > 0
		if d.hist != nil && d.inChain(s) {
			d.hist.pos += entries
		}
	}
	return st, nil
}

// short keeps a message short whatever the definition holds.
func short(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
