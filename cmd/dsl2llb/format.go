package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	"google.golang.org/protobuf/proto"

	"github.com/slipway-build/slipway/dsl"
)

// op is one decoded op of a definition.
type op struct {
	op     *pb.Op
	digest digest.Digest
	meta   llb.OpMetadata
	// at is where in the program's source the op was made
	// (examples/app/main.go:15), from the definition's source map; "" if
	// the map does not say.
	at string
}

func decode(def *llb.Definition) ([]op, error) {
	ops := make([]op, 0, len(def.Def))
	for i, dt := range def.Def {
		var o pb.Op
		if err := o.UnmarshalVT(dt); err != nil {
			return nil, fmt.Errorf("decoding op %d of the definition: %w", i, err)
		}
		d := digest.FromBytes(dt)
		ops = append(ops, op{op: &o, digest: d, meta: def.Metadata[d], at: sourceOf(def.Source, d)})
	}
	return ops, nil
}

// sourceOf is where the source map places the op of digest d: FILE:LINE,
// FILE:FIRST-LAST for a range of lines, several places separated by ", ".
func sourceOf(src *pb.Source, d digest.Digest) string {
	if src == nil || src.Locations[d.String()] == nil {
		return ""
	}
	var places []string
	for _, l := range src.Locations[d.String()].Locations {
		if l == nil || int(l.SourceIndex) >= len(src.Infos) || l.SourceIndex < 0 {
			continue
		}
		file := src.Infos[l.SourceIndex].GetFilename()
		for _, r := range l.Ranges {
			place := file + ":" + strconv.Itoa(int(r.GetStart().GetLine()))
			if end := r.GetEnd().GetLine(); end > r.GetStart().GetLine() {
				place += "-" + strconv.Itoa(int(end))
			}
			if !slices.Contains(places, place) {
				places = append(places, place)
			}
		}
	}
	return strings.Join(places, ", ")
}

// formatPB writes the protobuf stream llb.WriteTo writes, with the
// metadata maps in sorted order so that the bytes never vary (WriteTo's
// encoder leaves map order to chance). The program's own output is
// re-encoded, whichever slipway version wrote it.
func formatPB(def *llb.Definition) ([]byte, error) {
	dt, err := proto.MarshalOptions{Deterministic: true}.Marshal(def.ToPB())
	if err != nil {
		return nil, fmt.Errorf("encoding the definition: %w", err)
	}
	return dt, nil
}

// jsonOp is the shape `buildctl debug dump-llb` prints for an op, plus
// where in the program the op was made and the image config on the last
// one.
type jsonOp struct {
	Op          *pb.Op
	Digest      digest.Digest
	OpMetadata  *pb.OpMetadata
	Location    string          `json:",omitempty"`
	ImageConfig json.RawMessage `json:",omitempty"`
}

// formatJSON writes one JSON object per op, as dump-llb does, with the Go
// line that made it as Location; the last op's object also has the image
// config, decoded, as ImageConfig.
func formatJSON(def *llb.Definition) ([]byte, error) {
	ops, err := decode(def)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i, o := range ops {
		j := jsonOp{Op: o.op, Digest: o.digest, OpMetadata: o.meta.ToPB(), Location: o.at}
		if cfg := o.meta.Description[dsl.ImageConfigKey]; i == len(ops)-1 && cfg != "" {
			if !json.Valid([]byte(cfg)) {
				return nil, fmt.Errorf("the image config in the definition is not valid JSON")
			}
			j.ImageConfig = json.RawMessage(cfg)
		}
		if err := enc.Encode(j); err != nil {
			return nil, fmt.Errorf("encoding op %s: %w", o.digest, err)
		}
	}
	return buf.Bytes(), nil
}

// formatDot writes a Graphviz graph: one node per op, labelled with the
// step name the build gave it ("[stage-0 2/3] RUN apk add --update redis"),
// which names the instruction it came from, and the Go line that made it,
// and edges from inputs to the ops that use them.
func formatDot(def *llb.Definition) ([]byte, error) {
	ops, err := decode(def)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString("digraph llb {\n  rankdir=TB;\n  node [fontname=\"monospace\" fontsize=10];\n  edge [fontname=\"monospace\" fontsize=9];\n")
	for i, o := range ops {
		label, shape := dotLabel(o, i == len(ops)-1)
		if o.at != "" {
			label += "\n" + o.at
		}
		fmt.Fprintf(&b, "  %s [label=%s shape=%s];\n", dotQuote(o.digest.String()), dotQuote(label), dotQuote(shape))
	}
	for _, o := range ops {
		for i, in := range o.op.Inputs {
			label := edgeLabel(o.op, i)
			fmt.Fprintf(&b, "  %s -> %s [label=%s];\n", dotQuote(in.Digest), dotQuote(o.digest.String()), dotQuote(label))
		}
	}
	b.WriteString("}\n")
	return b.Bytes(), nil
}

// edgeLabel says what an op takes from its input i: the mount point of a
// mount other than the root, or the paths a copy takes.
func edgeLabel(o *pb.Op, i int) string {
	var labels []string
	if ex := o.GetExec(); ex != nil {
		for _, m := range ex.Mounts {
			if int(m.Input) == i && m.Dest != "/" {
				labels = append(labels, m.Dest)
			}
		}
	}
	if f := o.GetFile(); f != nil {
		for _, a := range f.Actions {
			if cp := a.GetCopy(); cp != nil && int(a.SecondaryInput) == i {
				labels = append(labels, cp.Src)
			}
		}
	}
	return strings.Join(labels, ", ")
}

// dotLabel is the instruction an op came from, and what it does.
func dotLabel(o op, last bool) (string, string) {
	name := o.meta.Description["llb.customname"]
	if name == "" {
		name = o.meta.Description["com.docker.dockerfile.v1.command"]
	}
	var detail, shape string
	switch v := o.op.Op.(type) {
	case *pb.Op_Source:
		detail, shape = v.Source.Identifier, "ellipse"
	case *pb.Op_Exec:
		detail, shape = strings.Join(v.Exec.Meta.Args, " "), "box"
	case *pb.Op_File:
		var names []string
		for _, a := range v.File.Actions {
			switch act := a.Action.(type) {
			case *pb.FileAction_Copy:
				names = append(names, fmt.Sprintf("copy %s %s", act.Copy.Src, act.Copy.Dest))
			case *pb.FileAction_Mkfile:
				names = append(names, "mkfile "+act.Mkfile.Path)
			case *pb.FileAction_Mkdir:
				names = append(names, "mkdir "+act.Mkdir.Path)
			case *pb.FileAction_Rm:
				names = append(names, "rm "+act.Rm.Path)
			case *pb.FileAction_Symlink:
				names = append(names, fmt.Sprintf("symlink %s %s", act.Symlink.Oldpath, act.Symlink.Newpath))
			}
		}
		detail, shape = strings.Join(names, ", "), "note"
	case *pb.Op_Merge:
		detail, shape = "merge", "invtriangle"
	case *pb.Op_Diff:
		detail, shape = "diff", "doublecircle"
	case *pb.Op_Build:
		detail, shape = "build", "box3d"
	default:
		if last {
			detail, shape = "image", "doubleoctagon"
		} else {
			detail, shape = o.digest.String(), "plaintext"
		}
	}
	// The detail goes under the name only if it says more: not the pinned
	// reference of a FROM again, nor the command of a shell-form RUN.
	short := strings.TrimPrefix(detail, "docker-image://")
	if ex := o.op.GetExec(); ex != nil && len(ex.Meta.Args) > 0 {
		short = ex.Meta.Args[len(ex.Meta.Args)-1]
	}
	switch {
	case name == "":
		return detail, shape
	case detail == "" || strings.Contains(name, short):
		return name, shape
	default:
		return name + "\n" + detail, shape
	}
}

// dotQuote makes a Graphviz double-quoted string.
func dotQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		case '\r', '\t':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
