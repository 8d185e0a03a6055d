package decompile_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
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
