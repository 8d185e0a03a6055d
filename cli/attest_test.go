package cli

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/driver"
)

// Bad attestation flags are one line each and exit 2, before any daemon
// is asked (the address does not exist).
func TestAttestBadInputExitsTwo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--attest", "type=slsa"}, `--attest "type=slsa": unknown attestation type "slsa" (want provenance or sbom)`},
		{[]string{"--attest", "mode=max"}, `--attest "mode=max": type= is required (provenance or sbom)`},
		{[]string{"--attest", "type=provenance,mode=full-ish"}, `--attest "type=provenance,mode=full-ish": provenance mode "full-ish": want min or max`},
		{[]string{"--provenance=mode=medium"}, `--provenance "mode=medium": provenance mode "medium": want min or max`},
		{[]string{"--attest", "type=sbom,generator=Not A Ref"}, `--attest "type=sbom,generator=Not A Ref": sbom generator "Not A Ref": not an image reference`},
		{[]string{"--sbom=generator=scan@sha256:abc"}, `--sbom "generator=scan@sha256:abc": sbom generator "scan@sha256:abc": not an image reference`},
		{[]string{"--attest", "type=provenance,colour=red"}, `provenance: unknown field "colour" (want mode)`},
		{[]string{"--sbom=scan-context=true"}, `--sbom "scan-context=true": sbom: scan-context is not supported`},
		{[]string{"--sbom", "--attest-index=false"}, "--attest-index=false: an SBOM attestation always makes an image index"},
		{[]string{"--source-date-epoch", "yesterday"}, `--source-date-epoch "yesterday": want seconds since 1970`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			_, stderr, code := run(t, append([]string{"--addr", "unix:///nonexistent/buildkitd.sock"}, tc.args...)...)
			require.Equal(t, 2, code, stderr)
			require.Contains(t, stderr, tc.want)
			require.Equal(t, 1, strings.Count(strings.TrimSpace(stderr), "\n")+1, "one line: %q", stderr)
		})
	}
}

// The flags ask for what buildx's do: provenance mode=min by default for
// image outputs and none for others, --provenance=false turning it off,
// and the shorthands.
func TestAttestFlags(t *testing.T) {
	t.Parallel()
	oci := []driver.Output{{Type: "oci", Dest: "x.tar"}}
	local := []driver.Output{{Type: "local", Dest: "dir"}}
	for _, tc := range []struct {
		name    string
		set     func(*attestFlags)
		outputs []driver.Output
		want    driver.Attestations
	}{
		{"default for an image", nil, oci, driver.Attestations{Provenance: &driver.ProvenanceAttestation{Mode: "min"}}},
		{"none for a directory", nil, local, driver.Attestations{}},
		{"--provenance=false", func(f *attestFlags) { f.provenance.Set("false") }, oci, driver.Attestations{}},
		{"--provenance=mode=max", func(f *attestFlags) { f.provenance.Set("mode=max") }, oci, driver.Attestations{Provenance: &driver.ProvenanceAttestation{Mode: "max"}}},
		{"--sbom", func(f *attestFlags) { f.sbom.Set("true") }, oci, driver.Attestations{Provenance: &driver.ProvenanceAttestation{Mode: "min"}, SBOM: &driver.SBOMAttestation{}}},
		{"--sbom=generator", func(f *attestFlags) { f.sbom.Set("generator=reg:5000/scan:1") }, local, driver.Attestations{SBOM: &driver.SBOMAttestation{Generator: "reg:5000/scan:1"}}},
		{"--attest sbom and provenance", func(f *attestFlags) {
			f.attest.Set("type=sbom,generator=scan")
			f.attest.Set("type=provenance,mode=max")
		}, local, driver.Attestations{Provenance: &driver.ProvenanceAttestation{Mode: "max"}, SBOM: &driver.SBOMAttestation{Generator: "scan"}}},
		{"--attest scan-stage", func(f *attestFlags) { f.attest.Set(`type=sbom,"scan-stage=build,test"`) }, local, driver.Attestations{SBOM: &driver.SBOMAttestation{ScanStage: "build,test"}}},
		{"--sbom=scan-stage=false", func(f *attestFlags) { f.sbom.Set("scan-stage=false") }, local, driver.Attestations{SBOM: &driver.SBOMAttestation{}}},
		{"--attest-index=false", func(f *attestFlags) { f.index = false }, oci, driver.Attestations{Provenance: &driver.ProvenanceAttestation{Mode: "min"}, Unindexed: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := attestFlags{index: true}
			f.provenance.typ, f.sbom.typ = "provenance", "sbom"
			if tc.set != nil {
				tc.set(&f)
			}
			got, err := f.attestations(tc.outputs)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

// $SOURCE_DATE_EPOCH sets the build argument as buildx does, unless
// --build-arg sets it; --source-date-epoch wins over the environment.
func TestSourceDateEpoch(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	args := map[string]string{}
	n, err := attestFlags{}.sourceDateEpoch(args)
	require.NoError(t, err)
	require.Equal(t, int64(1700000000), *n)
	require.Equal(t, "1700000000", args["SOURCE_DATE_EPOCH"])

	args = map[string]string{"SOURCE_DATE_EPOCH": "5"}
	n, err = attestFlags{epoch: "42"}.sourceDateEpoch(args)
	require.NoError(t, err)
	require.Equal(t, int64(42), *n)
	require.Equal(t, "5", args["SOURCE_DATE_EPOCH"], "--build-arg wins for the argument")
}
