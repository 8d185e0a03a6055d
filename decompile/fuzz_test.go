package decompile_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/decompile"
	"github.com/slipway-build/slipway/dsltest"
	"github.com/slipway-build/slipway/internal/corpus"
	"github.com/slipway-build/slipway/internal/parity"
)

// definitions are corpus Dockerfiles compiled by the frontend: valid
// definitions to start from.
func definitions(t testing.TB, n int) []*llb.Definition {
	t.Helper()
	cases, err := corpus.Cases()
	require.NoError(t, err)
	o := parity.Options{Resolver: dsltest.NewResolver(nil), Caps: parity.AllCaps()}
	var defs []*llb.Definition
	for _, c := range cases {
		out, err := parity.Dockerfile(t.Context(), c.Dockerfile, o)
		if err != nil || len(out.Definition.Def) < 3 {
			continue
		}
		defs = append(defs, &llb.Definition{Def: out.Definition.Def})
		if len(defs) == n {
			break
		}
	}
	return defs
}

func encode(t testing.TB, def *llb.Definition) []byte {
	var b bytes.Buffer
	require.NoError(t, llb.WriteTo(def, &b))
	return b.Bytes()
}

// FuzzDecompile feeds arbitrary bytes, seeded with valid definitions, to
// the decompiler: it may refuse them, with an error, but never panic.
func FuzzDecompile(f *testing.F) {
	for _, def := range definitions(f, 40) {
		f.Add(encode(f, def))
	}
	f.Fuzz(func(t *testing.T, dt []byte) {
		def, err := llb.ReadFrom(bytes.NewReader(dt))
		if err != nil {
			return
		}
		out, err := decompile.Decompile(t.Context(), def, decompile.Options{Resolver: dsltest.NewResolver(nil)})
		if err == nil {
			require.NotEmpty(t, out)
		}
	})
}

// TestMalformed mutates valid definitions: each mutation is refused with an
// error that names the problem, or decompiles; none panics.
func TestMalformed(t *testing.T) {
	defs := definitions(t, 20)
	require.NotEmpty(t, defs)
	mutations := map[string]func(def *llb.Definition) (*llb.Definition, string){
		"an op removed: inputs point nowhere": func(def *llb.Definition) (*llb.Definition, string) {
			return &llb.Definition{Def: append([][]byte{}, def.Def[1:]...)}, "which the definition does not hold"
		},
		"the terminal removed": func(def *llb.Definition) (*llb.Definition, string) {
			return &llb.Definition{Def: def.Def[:len(def.Def)-1]}, "the last op must be the definition's terminal"
		},
		"an output that does not exist": func(def *llb.Definition) (*llb.Definition, string) {
			var op pb.Op
			require.NoError(t, op.UnmarshalVT(def.Def[len(def.Def)-1]))
			op.Inputs[0].Index = 7
			dt, err := op.MarshalVT()
			require.NoError(t, err)
			return &llb.Definition{Def: append(append([][]byte{}, def.Def[:len(def.Def)-1]...), dt)}, "which has no such output"
		},
		"garbage op bytes": func(def *llb.Definition) (*llb.Definition, string) {
			return &llb.Definition{Def: append([][]byte{{0xff, 0xff, 0xff}}, def.Def...)}, "decoding"
		},
	}
	for name, mutate := range mutations {
		t.Run(name, func(t *testing.T) {
			for _, def := range defs {
				bad, msg := mutate(def)
				_, err := decompile.Decompile(t.Context(), bad, decompile.Options{Resolver: dsltest.NewResolver(nil)})
				require.Error(t, err)
				var de *decompile.Error
				require.True(t, errors.As(err, &de), "%T: %v", err, err)
				require.Contains(t, err.Error(), msg)
			}
		})
	}
	t.Run("a huge env value", func(t *testing.T) {
		path := "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
		st := llb.Image("busybox").AddEnv("PATH", path[5:]).AddEnv("BIG", string(bytes.Repeat([]byte("x"), 8<<20))).Dir("/").Run(llb.Shlex("true")).Root()
		def, err := st.Marshal(t.Context())
		require.NoError(t, err)
		out, err := decompile.Decompile(t.Context(), def, decompile.Options{Resolver: dsltest.NewResolver(nil)})
		require.NoError(t, err)
		require.Contains(t, string(out), "ENV BIG=")
		// Refused, the message stays short.
		st = llb.Image("busybox").AddEnv("BIG", string(bytes.Repeat([]byte("x"), 8<<20))).Run(llb.Shlex("true")).Root()
		def, err = st.Marshal(t.Context())
		require.NoError(t, err)
		_, err = decompile.Decompile(t.Context(), def, decompile.Options{Resolver: dsltest.NewResolver(nil)})
		require.Error(t, err)
		require.Less(t, len(err.Error()), 1000)
	})
}

// FuzzMutate changes one op of a valid definition the way a broken or
// hostile tool might, and re-links the ops after it so that the change
// reaches the decompiler whole: it must refuse or decompile, never panic.
// (A cycle cannot be made: every input names its op by content.)
func FuzzMutate(f *testing.F) {
	defs := definitions(f, 24)
	for i := range defs {
		for kind := range uint8(mutations) {
			f.Add(uint8(i), uint8(i*7), kind, uint32(i*131+int(kind)))
		}
	}
	f.Fuzz(func(t *testing.T, which, at, kind uint8, n uint32) {
		def := mutate(t, defs[int(which)%len(defs)], int(at), kind, n)
		if def == nil {
			return
		}
		_, err := decompile.Decompile(t.Context(), def, decompile.Options{Resolver: dsltest.NewResolver(nil)})
		if err != nil {
			require.Less(t, len(err.Error()), 4096, "a short message")
		}
	})
}

const mutations = 9

// mutate applies mutation kind to op at of def, with n as its parameter,
// and rewrites the inputs of the ops after it to the new digests.
func mutate(t *testing.T, def *llb.Definition, at int, kind uint8, n uint32) *llb.Definition {
	ops := make([]*pb.Op, len(def.Def))
	names := make([]string, len(def.Def)) // each op's digest before the change
	for i, dt := range def.Def {
		ops[i] = &pb.Op{}
		require.NoError(t, ops[i].UnmarshalVT(dt))
		names[i] = string(digest.FromBytes(dt))
	}
	i := at % len(ops)
	op := ops[i]
	switch kind % mutations {
	case 0: // drop it
		ops = append(ops[:i], ops[i+1:]...)
		names = append(names[:i], names[i+1:]...)
	case 1: // an input that names another output
		if len(op.Inputs) > 0 {
			op.Inputs[int(n)%len(op.Inputs)].Index = int64(n % 5)
		}
	case 2: // an input that names another op
		if len(op.Inputs) > 0 {
			op.Inputs[int(n)%len(op.Inputs)].Digest = string(digest.FromBytes(def.Def[int(n)%len(def.Def)]))
		}
	case 3: // a huge field
		big := strings.Repeat("x", int(n%(4<<20)))
		switch o := op.Op.(type) {
		case *pb.Op_Exec:
			o.Exec.Meta.Env = append(o.Exec.Meta.Env, "BIG="+big)
			o.Exec.Meta.Args = append(o.Exec.Meta.Args, big)
		case *pb.Op_Source:
			o.Source.Identifier += big
		case *pb.Op_File:
			o.File.Actions[0].Input = int64(n % 7)
		}
	case 4: // actions or mounts that point past their inputs
		switch o := op.Op.(type) {
		case *pb.Op_Exec:
			for _, m := range o.Exec.Mounts {
				m.Input = int64(n%9) - 2
				m.Output = int64(n%5) - 1
			}
		case *pb.Op_File:
			for _, a := range o.File.Actions {
				a.SecondaryInput = int64(n%9) - 2
				a.Output = int64(n%5) - 1
			}
		}
	case 5: // no mounts, no actions
		switch o := op.Op.(type) {
		case *pb.Op_Exec:
			o.Exec.Mounts = nil
		case *pb.Op_File:
			o.File.Actions = nil
		}
	case 6: // another kind of op in its place
		op.Op = &pb.Op_Merge{Merge: &pb.MergeOp{Inputs: []*pb.MergeInput{{Input: int64(n % 3)}}}}
	case 7: // a duplicate
		ops = append(ops[:i+1], ops[i:]...)
		names = append(names[:i+1], names[i:]...)
	case 8: // strings a Dockerfile cannot hold
		bad := string([]byte{0, 0xff, '\n', '\r', '`', '"', '$', '\\'})
		switch o := op.Op.(type) {
		case *pb.Op_Exec:
			o.Exec.Meta.Args = append(o.Exec.Meta.Args, bad)
			o.Exec.Meta.Cwd = bad
			o.Exec.Meta.User = bad
		case *pb.Op_File:
			if c := o.File.Actions[0].GetCopy(); c != nil {
				c.Src, c.Dest = bad, bad
			}
		case *pb.Op_Source:
			o.Source.Attrs = map[string]string{bad: bad}
		}
	}
	if len(ops) == 0 {
		return nil
	}
	// Re-link: each op names its inputs by digest.
	renamed := map[string]string{}
	out := &llb.Definition{}
	for j, op := range ops {
		for _, in := range op.Inputs {
			if d, ok := renamed[in.Digest]; ok {
				in.Digest = d
			}
		}
		dt, err := op.MarshalVT()
		require.NoError(t, err)
		renamed[names[j]] = string(digest.FromBytes(dt))
		out.Def = append(out.Def, dt)
	}
	return out
}
