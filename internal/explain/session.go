package explain

// The session a local source is sent over is part of its op, so builds
// that share one session (a Program's targets built together) have new
// digests for every step at each run, though BuildKit's cache keys, which
// hash the files, do not change. A record keeps the definition without it.

import (
	"fmt"

	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	"google.golang.org/protobuf/proto"
)

// WithoutSessions returns def with the session attribute of its local
// sources removed and, as a build without a shared session has it, their
// unique ID set to unique (def itself when no source has a session), and
// the digest each changed vertex had before, by its new digest.
func WithoutSessions(def *pb.Definition, unique string) (*pb.Definition, map[digest.Digest]digest.Digest, error) {
	out := &pb.Definition{Metadata: map[string]*pb.OpMetadata{}, Source: def.Source}
	renamed := map[digest.Digest]digest.Digest{} // old → new
	for _, dt := range def.Def {
		old := digest.FromBytes(dt)
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			return nil, nil, fmt.Errorf("decoding the definition: %w", err)
		}
		changed := false
		if src := op.GetSource(); src != nil {
			if _, ok := src.Attrs[pb.AttrLocalSessionID]; ok {
				delete(src.Attrs, pb.AttrLocalSessionID)
				if _, ok := src.Attrs[pb.AttrLocalUniqueID]; !ok && unique != "" {
					src.Attrs[pb.AttrLocalUniqueID] = unique
				}
				changed = true
			}
		}
		for _, in := range op.Inputs {
			if n, ok := renamed[digest.Digest(in.Digest)]; ok {
				in.Digest, changed = string(n), true
			}
		}
		if changed {
			var err error
			if dt, err = (proto.MarshalOptions{Deterministic: true}).Marshal(&op); err != nil {
				return nil, nil, fmt.Errorf("encoding the definition: %w", err)
			}
			renamed[old] = digest.FromBytes(dt)
		}
		out.Def = append(out.Def, dt)
	}
	if len(renamed) == 0 {
		return def, nil, nil
	}
	before := map[digest.Digest]digest.Digest{}
	for o, n := range renamed {
		before[n] = o
	}
	for d, m := range def.Metadata {
		if n, ok := renamed[digest.Digest(d)]; ok {
			d = string(n)
		}
		out.Metadata[d] = m
	}
	if def.Source != nil {
		src := proto.Clone(def.Source).(*pb.Source)
		for d, l := range def.Source.Locations {
			if n, ok := renamed[digest.Digest(d)]; ok {
				delete(src.Locations, d)
				src.Locations[string(n)] = l
			}
		}
		out.Source = src
	}
	return out, before, nil
}
