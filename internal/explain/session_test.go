package explain

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/dsl"
)

// TestWithoutSessions: a definition compiled with a shared session has
// the digests of the same build compiled without one, once the session
// is removed, and each changed digest maps back to the solved one.
func TestWithoutSessions(t *testing.T) {
	t.Parallel()
	s := dsl.From("busybox").Copy("a.txt", "/a.txt").Run("cat /a.txt")
	plain := record(t, s)
	shared := record(t, s, dsl.WithContextSession("abc123"))
	pg, err := plain.Graph()
	require.NoError(t, err)
	sg, err := shared.Graph()
	require.NoError(t, err)
	require.NotEqual(t, pg.Steps[len(pg.Steps)-1].Digest, sg.Steps[len(sg.Steps)-1].Digest, "the session is in the digests")

	stripped, solved, err := WithoutSessions(shared.def, dsl.DefaultContextID)
	require.NoError(t, err)
	g, err := Parse(stripped)
	require.NoError(t, err)
	require.Len(t, g.Steps, len(pg.Steps))
	for i := range g.Steps {
		require.Equal(t, pg.Steps[i].Digest, g.Steps[i].Digest, g.Steps[i].Name)
		if d := g.Steps[i].Digest; d != sg.Steps[i].Digest {
			require.Equal(t, sg.Steps[i].Digest, solved[d], g.Steps[i].Name)
		} else {
			require.NotContains(t, solved, d, "an unchanged step keeps its digest")
		}
	}

	same, solved, err := WithoutSessions(plain.def, dsl.DefaultContextID)
	require.NoError(t, err)
	require.Same(t, plain.def, same)
	require.Nil(t, solved)
}

// TestHistoryOfSeveralPlatforms: each platform's record of a build is
// compared with the same platform's of the build before, when there is
// one, else with that build's last record.
func TestHistoryOfSeveralPlatforms(t *testing.T) {
	t.Parallel()
	t1, t2 := time.Unix(1, 0), time.Unix(2, 0)
	rec := func(tm time.Time, p string) *Record { return &Record{Time: tm, Platform: p} }
	a1, b1 := rec(t1, "linux/amd64"), rec(t1, "linux/arm64")
	a2, b2 := rec(t2, "linux/amd64"), rec(t2, "linux/arm64")
	all := []*Record{a1, b1, a2, b2}
	require.Equal(t, []*Record{a2, b2}, Latest(all))
	require.Equal(t, []*Record{b1, a1}, History(all, a2))
	require.Equal(t, []*Record{a1, b1}, History(all, b2))
	require.Equal(t, []*Record{a1, b1}, History(all, rec(t2, "linux/s390x")), "no such platform before: the last record")
	require.Equal(t, []*Record{a1, b1, b2, a2}, History(all, rec(time.Time{}, "linux/amd64")), "a plan: every record")
	require.Nil(t, History(all, a1))
}
