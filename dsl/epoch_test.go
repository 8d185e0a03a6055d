package dsl_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/dsltest"
)

// SOURCE_DATE_EPOCH=NAME names a named context. Without the daemon, only
// what has no time of its own compiles (a directory, an image: no epoch);
// a repository or an http file needs the daemon to say its time. Any
// other word is an error naming the argument. The daemon's answers are
// checked against the frontend in driver/namedcontext_e2e_test.go.
func TestSourceDateEpochNamesAContext(t *testing.T) {
	epochOf := func(v string, opts ...dsl.CompileOption) (*dsl.Result, error) {
		opts = append([]dsl.CompileOption{
			dsl.WithResolver(dsltest.NewResolver(nil)),
			dsl.WithBuildArgs(map[string]string{"SOURCE_DATE_EPOCH": v}),
		}, opts...)
		return dsl.Compile(t.Context(), dsl.From("busybox").Arg("SOURCE_DATE_EPOCH").Run("echo $SOURCE_DATE_EPOCH"), opts...)
	}
	for _, ctx := range []string{"local:files", "docker-image://alpine:3.19"} {
		res, err := epochOf("base", dsl.WithNamedContext("base", ctx))
		require.NoError(t, err, ctx)
		require.Nil(t, res.Epoch, ctx)
	}
	res, err := epochOf("context")
	require.NoError(t, err)
	require.Nil(t, res.Epoch, "the main context is a directory, which has no time")

	_, err = epochOf("src", dsl.WithNamedContext("src", "https://github.com/moby/buildkit.git#v0.34.2"))
	require.ErrorContains(t, err, `build arg SOURCE_DATE_EPOCH="src": the time of named context src=https://github.com/moby/buildkit.git#v0.34.2 comes from the daemon, which builds ask but an offline compile cannot (dsl.WithSourceResolver)`)
	require.ErrorIs(t, err, dsl.ErrInvalid)

	for _, v := range []string{"yesterday", "1.5", "src"} {
		_, err := epochOf(v)
		require.ErrorContains(t, err, `build arg SOURCE_DATE_EPOCH="`+v+`": want seconds since 1970, "context" or the name of a named context`, v)
	}
	_, err = dsl.Compile(t.Context(), dsl.From("busybox", dsl.GlobalArg("SOURCE_DATE_EPOCH", "nope")), dsl.WithResolver(dsltest.NewResolver(nil)))
	require.ErrorContains(t, err, `global ARG SOURCE_DATE_EPOCH="nope"`)
}
