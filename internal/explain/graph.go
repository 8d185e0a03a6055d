// Package explain keeps a record of every build a program runs and explains,
// from two records, why each step that ran was not cached; it also predicts,
// before a build, which steps will run (a plan), and compares two LLB
// definitions step by step (dsl2llb --diff).
//
// Everything here is offline: it reads definitions (the LLB bytes), the
// files of local contexts and the records of earlier builds, never a daemon.
package explain

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
)

// Step is one op of a definition, as the progress display names it.
type Step struct {
	// Digest is the op's digest, the vertex digest of the solve.
	Digest digest.Digest
	// Op is the decoded op.
	Op *pb.Op
	// Name is the progress name: "[stage-0 2/3] RUN make".
	Name string
	// Stage, Index and Total are read from a "[STAGE I/N] …" name; Index is
	// 0 when the name has no such prefix.
	Stage        string
	Index, Total int
	// Text is the name without its "[…] " prefix; Kind is its first word
	// (RUN, COPY, FROM, …), or the op's type when the name has none.
	Text, Kind string
	// Location is the Go (or Dockerfile) source of the step, "file:line",
	// when the definition carries one.
	Location string
	// Inputs are the steps this one reads, in the op's order.
	Inputs []*Step
	// Pos is the step's place in the definition.
	Pos int
}

// Label is the step as a line of output names it: its progress name and,
// where known, its source location.
func (s *Step) Label() string {
	if s.Location != "" {
		return s.Name + " (" + s.Location + ")"
	}
	return s.Name
}

// Graph is a decoded definition: its steps in the definition's order
// (inputs before the steps that read them), without the final result op.
type Graph struct {
	Steps    []*Step
	ByDigest map[digest.Digest]*Step
}

// Parse decodes a definition.
func Parse(def *pb.Definition) (*Graph, error) {
	g := &Graph{ByDigest: map[digest.Digest]*Step{}}
	if def == nil {
		return g, nil
	}
	for i, dt := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			return nil, fmt.Errorf("decoding op %d of the definition: %w", i, err)
		}
		dgst := digest.FromBytes(dt)
		s := &Step{Digest: dgst, Op: &op, Pos: i}
		for _, in := range op.Inputs {
			if p := g.ByDigest[digest.Digest(in.Digest)]; p != nil {
				s.Inputs = append(s.Inputs, p)
			}
		}
		if op.Op == nil {
			continue // the result op: no vertex of its own
		}
		if md := def.Metadata[string(dgst)]; md != nil {
			s.Name = md.Description["llb.customname"]
		}
		if s.Name == "" {
			s.Name = opName(&op)
		}
		s.Stage, s.Index, s.Total, s.Text = splitName(s.Name)
		s.Kind = kindOf(s)
		s.Location = location(def, dgst)
		g.ByDigest[dgst] = s
		g.Steps = append(g.Steps, s)
	}
	return g, nil
}

// splitName reads "[stage-0 2/3] RUN x" as stage-0, 2, 3 and "RUN x".
func splitName(name string) (stage string, index, total int, text string) {
	if !strings.HasPrefix(name, "[") {
		return "", 0, 0, name
	}
	head, rest, ok := strings.Cut(name[1:], "] ")
	if !ok {
		return "", 0, 0, name
	}
	sp := strings.LastIndexByte(head, ' ')
	if sp < 0 {
		return head, 0, 0, rest
	}
	i, n, ok := strings.Cut(strings.TrimSpace(head[sp+1:]), "/")
	if !ok {
		return head, 0, 0, rest
	}
	ii, err1 := strconv.Atoi(i)
	nn, err2 := strconv.Atoi(n)
	if err1 != nil || err2 != nil {
		return head, 0, 0, rest
	}
	return head[:sp], ii, nn, rest
}

func kindOf(s *Step) string {
	if w, _, _ := strings.Cut(s.Text, " "); w != "" && w == strings.ToUpper(w) && s.Index > 0 {
		return w
	}
	switch s.Op.Op.(type) {
	case *pb.Op_Exec:
		return "exec"
	case *pb.Op_Source:
		return "source"
	case *pb.Op_File:
		return "file"
	case *pb.Op_Merge:
		return "merge"
	case *pb.Op_Diff:
		return "diff"
	case *pb.Op_Build:
		return "build"
	}
	return "op"
}

// opName is the name BuildKit gives an op without a custom name.
func opName(op *pb.Op) string {
	switch o := op.Op.(type) {
	case *pb.Op_Exec:
		return strings.Join(o.Exec.GetMeta().GetArgs(), " ")
	case *pb.Op_Source:
		return o.Source.GetIdentifier()
	case *pb.Op_File:
		var parts []string
		for _, a := range o.File.GetActions() {
			switch a := a.Action.(type) {
			case *pb.FileAction_Copy:
				parts = append(parts, "copy "+a.Copy.GetSrc()+" "+a.Copy.GetDest())
			case *pb.FileAction_Mkdir:
				parts = append(parts, "mkdir "+a.Mkdir.GetPath())
			case *pb.FileAction_Mkfile:
				parts = append(parts, "mkfile "+a.Mkfile.GetPath())
			case *pb.FileAction_Rm:
				parts = append(parts, "rm "+a.Rm.GetPath())
			case *pb.FileAction_Symlink:
				parts = append(parts, "symlink "+a.Symlink.GetNewpath())
			}
		}
		return strings.Join(parts, ", ")
	case *pb.Op_Merge:
		return "merge"
	case *pb.Op_Diff:
		return "diff"
	}
	return "op"
}

// location is the first source location of the op, "file:line".
func location(def *pb.Definition, dgst digest.Digest) string {
	src := def.GetSource()
	if src == nil {
		return ""
	}
	locs := src.Locations[string(dgst)]
	for _, l := range locs.GetLocations() {
		if int(l.SourceIndex) >= len(src.Infos) || l.SourceIndex < 0 {
			continue
		}
		f := src.Infos[l.SourceIndex].GetFilename()
		if len(l.Ranges) > 0 {
			return f + ":" + strconv.Itoa(int(l.Ranges[0].GetStart().GetLine()))
		}
		return f
	}
	return ""
}

// LocalName is the name of a local source ("context"), or "".
func (s *Step) LocalName() string {
	name, _ := strings.CutPrefix(s.Op.GetSource().GetIdentifier(), "local://")
	if name == s.Op.GetSource().GetIdentifier() {
		return ""
	}
	return name
}

// image is the reference and digest of an image source, or "".
func (s *Step) image() (ref, dgst string) {
	id, ok := strings.CutPrefix(s.Op.GetSource().GetIdentifier(), "docker-image://")
	if !ok {
		return "", ""
	}
	ref, dgst, _ = strings.Cut(id, "@")
	return ref, dgst
}

// isSource reports a source op: an image, a local directory, git, http.
func (s *Step) isSource() bool { return s.Op.GetSource() != nil }
