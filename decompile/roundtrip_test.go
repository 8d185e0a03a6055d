package decompile_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/moby/buildkit/client/llb"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/decompile"
	"github.com/slipway-build/slipway/dsltest"
	"github.com/slipway-build/slipway/internal/corpus"
	"github.com/slipway-build/slipway/internal/parity"
)

// roundTripThreshold is the least number of corpus cases whose round trip
// must hold; it only goes up.
const roundTripThreshold = 266

// knownDifferences are corpus cases whose round trip does not hold, with
// the reason. They count as failures; the list is for the reader.
var knownDifferences = map[string]string{}

// roundTrip compiles a Dockerfile with the frontend, decompiles the
// definition stripped of its metadata, compiles the result, and compares.
// It returns the decompiled Dockerfile, or why the round trip fails.
func roundTrip(t *testing.T, dt []byte) (string, error) {
	o := parity.Options{Resolver: dsltest.NewResolver(nil), Caps: parity.AllCaps()}
	want, err := parity.Dockerfile(t.Context(), dt, o)
	if err != nil {
		return "", errRejected{err}
	}
	var img dockerspec.DockerOCIImage
	require.NoError(t, json.Unmarshal(want.Image, &img))
	stripped := &llb.Definition{Def: want.Definition.Def}
	opts := decompile.Options{Resolver: o.Resolver, Image: &img}
	out, err := decompile.Decompile(t.Context(), stripped, opts)
	if err != nil {
		return "", fmt.Errorf("decompiling: %w", err)
	}
	// Hints in the metadata change nothing.
	withMeta, err := decompile.Decompile(t.Context(), want.Definition, opts)
	require.NoError(t, err)
	require.Equal(t, string(out), string(withMeta), "the metadata changed the result")
	got, err := parity.Dockerfile(t.Context(), out, o)
	if err != nil {
		return string(out), fmt.Errorf("the frontend rejects the result: %w", err)
	}
	if diff := parity.Diff(want, got); diff != "" {
		return string(out), fmt.Errorf("%s", diff)
	}
	return string(out), nil
}

type errRejected struct{ error }

func TestRoundTripCorpus(t *testing.T) {
	cases, err := corpus.Cases()
	require.NoError(t, err)
	require.Greater(t, len(cases), 150, "the corpus was not found")
	passed, rejected := 0, 0
	var failures []string
	for _, c := range cases {
		out, err := roundTrip(t, c.Dockerfile)
		switch err.(type) {
		case nil:
			passed++
		case errRejected:
			rejected++
		default:
			failures = append(failures, fmt.Sprintf("%s: %v\n--- decompiled:\n%s", c.Name, err, out))
		}
	}
	corpus.LogFailures(t, failures, knownDifferences)
	accepted := len(cases) - rejected
	t.Logf("round trip: %d/%d (%d more the frontend rejects)", passed, accepted, rejected)
	require.GreaterOrEqual(t, passed, roundTripThreshold)
}
