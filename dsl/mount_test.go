package dsl

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/stretchr/testify/require"
)

// TestMountFlagNode checks the node built without the parser against the
// parser's over flag texts, written and random, that the fast path takes.
func TestMountFlagNode(t *testing.T) {
	t.Parallel()
	flags := []string{
		"type=cache,target=/x", "type=$MNT_TYPE,id=$MNT_ID,target=/mycache2",
		"type=bind,from=build,source=/out,target=/in,rw", "target=/x,type=secret,id=a,env=A",
		"type=tmpfs,target=/t,size=1m", "${T:-cache},target=/c", "--", "-", "--x", "#x", "x#",
		"[\"a\"]", "type=cache,target=/x,sharing=locked,mode=0755,uid=1,gid=2",
		"a=b=c", ",", "type=ssh", "`x`", "x`", "$", "{}", "x;y", "x|y", "x&&y", "x>y",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "abtype=,/$-{}:#`[];|>&*?!%@^~+.0123456789\"'\\< \t\x85\xa0é"
	for range 5000 {
		var b strings.Builder
		for range 1 + rng.IntN(24) {
			b.WriteByte(alphabet[rng.IntN(len(alphabet))])
		}
		flags = append(flags, b.String())
	}
	plain := 0
	for _, flag := range flags {
		if !plainFlag(flag) {
			continue
		}
		plain++
		got, err := mountFlagNode(flag)
		require.NoError(t, err, "%q", flag)
		res, err := parser.Parse(strings.NewReader("RUN --mount=" + flag + " true\n"))
		require.NoError(t, err, "%q", flag)
		require.Len(t, res.AST.Children, 1, "%q", flag)
		require.Equal(t, res.AST.Children[0], got, "%q", flag)
	}
	require.Greater(t, plain, 500)
	for _, flag := range []string{"a b", "'a'", `"a"`, `a\b`, "a<<EOF", "a\x85", "é", ""} {
		require.False(t, plainFlag(flag), "%q", flag)
	}
}
