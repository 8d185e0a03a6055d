package dsl

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/apicaps"
	digest "github.com/opencontainers/go-digest"
)

// marshal is st.SetMarshalDefaults(defaults...).Marshal(ctx, co...), the
// same definition, built with less copying: each op's metadata is copied
// once instead of twice. A state with a source map still to be marshaled
// (one made of an llb.State, which only a FromLLB state can carry) is left
// to llb. It also returns the digest of the definition's last op.
func marshal(ctx context.Context, st llb.State, defaults []llb.ConstraintsOpt, co ...llb.ConstraintsOpt) (*llb.Definition, digest.Digest, error) {
	c := llb.NewConstraints(append(append([]llb.ConstraintsOpt{}, defaults...), co...)...)
	def := &llb.Definition{
		Metadata:    make(map[digest.Digest]llb.OpMetadata, 0),
		Constraints: c,
	}
	out := st.Output()
	if out == nil || out.Vertex(ctx, c) == nil {
		return def, "", nil
	}
	m := marshaler{
		ctx: ctx, c: c, def: def,
		marked:    map[llb.Vertex]struct{}{},
		locations: map[string]*pb.Locations{},
		index:     map[*llb.SourceMap]int{},
	}
	if err := m.vertex(out.Vertex(ctx, c)); err != nil {
		return nil, "", err
	}
	if m.located {
		def, err := st.SetMarshalDefaults(defaults...).Marshal(ctx, co...)
		if err != nil {
			return nil, "", err
		}
		return def, digestOf(def.Def[len(def.Def)-1]), nil
	}
	inp, err := out.ToInput(ctx, c)
	if err != nil {
		return nil, "", err
	}
	dt, err := (&pb.Op{Inputs: []*pb.Input{inp}}).MarshalVT()
	if err != nil {
		return nil, "", err
	}
	def.Def = append(def.Def, dt)
	dgst := digestOf(dt)
	md := def.Metadata[dgst]
	md.Caps = map[apicaps.CapID]bool{
		pb.CapConstraints: true,
		pb.CapPlatform:    true,
	}
	for _, m := range def.Metadata {
		if m.IgnoreCache {
			md.Caps[pb.CapMetaIgnoreCache] = true
		}
		if m.Description != nil {
			md.Caps[pb.CapMetaDescription] = true
		}
		if m.ExportCache != nil {
			md.Caps[pb.CapMetaExportCache] = true
		}
	}
	def.Metadata[dgst] = md
	def.Source = &pb.Source{Locations: m.locations, Infos: m.infos}
	return def, dgst, nil
}

// marshaler walks the op graph as llb's marshal does: inputs first, each
// vertex once, each distinct op once.
type marshaler struct {
	ctx    context.Context
	c      *llb.Constraints
	def    *llb.Definition
	marked map[llb.Vertex]struct{}
	// located is set when a source map has a state to marshal.
	located bool
	// locations has an entry for each distinct op, as llb's source map
	// collector makes, with the locations of every vertex of that digest;
	// it is also the set of ops already in the definition.
	locations map[string]*pb.Locations
	// maps are the source maps in the order first seen, index their
	// positions, and infos what the definition says of them.
	maps  []*llb.SourceMap
	index map[*llb.SourceMap]int
	infos []*pb.SourceInfo
}

func (m *marshaler) vertex(v llb.Vertex) error {
	if _, ok := m.marked[v]; ok {
		return nil
	}
	for _, inp := range v.Inputs() {
		if err := m.vertex(inp.Vertex(m.ctx, m.c)); err != nil {
			return err
		}
	}
	dgst, dt, opMeta, sls, err := v.Marshal(m.ctx, m.c)
	if err != nil {
		return err
	}
	m.marked[v] = struct{}{}
	if opMeta != nil {
		m.def.Metadata[dgst] = mergeMetadata(m.def.Metadata[dgst], opMeta)
	}
	locs, seen := m.locations[string(dgst)]
	if !seen {
		locs = &pb.Locations{}
		m.locations[string(dgst)] = locs
		m.def.Def = append(m.def.Def, dt)
	}
	for _, sl := range sls {
		locs.Locations = append(locs.Locations, &pb.Location{SourceIndex: int32(m.sourceIndex(sl.SourceMap)), Ranges: sl.Ranges})
	}
	return nil
}

// sourceIndex is the position of a source map in the definition, as llb's
// collector numbers them: the same pointer, or an equal map, is the same
// source.
func (m *marshaler) sourceIndex(sm *llb.SourceMap) int {
	if i, ok := m.index[sm]; ok {
		return i
	}
	i := slices.IndexFunc(m.maps, func(o *llb.SourceMap) bool { return sameSource(o, sm) })
	if i < 0 {
		i = len(m.maps)
		m.maps = append(m.maps, sm)
		info := &pb.SourceInfo{Data: sm.Data, Filename: sm.Filename, Language: sm.Language}
		switch {
		case sm.Definition != nil:
			info.Definition = sm.Definition.ToPB()
		case sm.State != nil:
			m.located = true // llb marshals the state
		}
		m.infos = append(m.infos, info)
	}
	m.index[sm] = i
	return i
}

// sameSource is llb's equality of source maps: name, language and data,
// and the last op of their definitions.
func sameSource(a, b *llb.SourceMap) bool {
	if a.Filename != b.Filename || a.Language != b.Language || !bytes.Equal(a.Data, b.Data) {
		return false
	}
	if a.Definition != nil && b.Definition != nil {
		da, db := a.Definition.Def, b.Definition.Def
		if len(da) != len(db) && len(da) != 0 {
			return false
		}
		if len(da) == 0 || len(db) == 0 {
			return len(da) == len(db)
		}
		return bytes.Equal(da[len(da)-1], db[len(db)-1])
	}
	return true
}

// mergeMetadata is llb's mergeMetadata(m1, llb.NewOpMetadata(m2)), without
// the intermediate copy.
func mergeMetadata(m1 llb.OpMetadata, m2 *pb.OpMetadata) llb.OpMetadata {
	if m2.IgnoreCache {
		m1.IgnoreCache = true
	}
	if len(m2.Description) > 0 {
		if m1.Description == nil {
			m1.Description = make(map[string]string, len(m2.Description))
		}
		maps.Copy(m1.Description, m2.Description)
	}
	if m2.ExportCache != nil {
		m1.ExportCache = m2.ExportCache
	}
	for k := range m2.Caps {
		if m1.Caps == nil {
			m1.Caps = make(map[apicaps.CapID]bool, len(m2.Caps))
		}
		m1.Caps[apicaps.CapID(k)] = true
	}
	if m2.ProgressGroup != nil {
		m1.ProgressGroup = m2.ProgressGroup
	}
	if m2.LinuxResources != nil {
		m1.LinuxResources = m2.LinuxResources
	}
	return m1
}

// digestOf is digest.FromBytes without go-digest's formatting.
func digestOf(dt []byte) digest.Digest {
	sum := sha256.Sum256(dt)
	return digest.Digest("sha256:" + hex.EncodeToString(sum[:]))
}
