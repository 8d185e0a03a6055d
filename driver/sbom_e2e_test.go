package driver_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/internal/testenv"
)

// testScannerScript follows BuildKit's SBOM scanner protocol
// (frontend/attestations/sbom): the file system to scan is mounted at
// $BUILDKIT_SCAN_SOURCE, and every file written to
// $BUILDKIT_SCAN_DESTINATION is an in-toto statement. It writes a small
// SPDX document listing the regular files it sees.
const testScannerScript = `set -e
cd "$BUILDKIT_SCAN_SOURCE"
files=$(find . -type f | sort | sed 's|^\.||' | awk 'BEGIN{ORS=""} {if (NR>1) print ","; printf "{\"fileName\":\"%s\"}", $0}')
printf '{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://spdx.dev/Document","subject":[],"predicate":{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"slipway-test-scanner","files":[%s]}}\n' "$files" > "$BUILDKIT_SCAN_DESTINATION/sbom.spdx.json"
`

// pushTestScanner builds the scanner image with slipway, FROM busybox,
// pushes it to the test registry and returns its reference.
func pushTestScanner(t *testing.T, env *testenv.Env, c *driver.Client) string {
	t.Helper()
	ref := env.Image(fmt.Sprintf("slipway-test/scanner:t%d", time.Now().UnixNano()))
	scanner := dsl.From("busybox").
		Run("cat > /scan.sh <<'EOF'\n"+testScannerScript+"EOF").
		Entrypoint("/bin/sh", "/scan.sh")
	_, err := c.Build(t.Context(), scanner, driver.BuildOptions{
		Progress: "quiet",
		Outputs:  []driver.Output{{Type: "image", Attrs: map[string]string{"name": ref, "push": "true"}}},
	})
	require.NoError(t, err)
	return ref
}

// spdxFiles are the files an SPDX document lists.
type spdxFiles struct {
	Files []struct {
		FileName string `json:"fileName"`
	} `json:"files"`
}

// The SBOM of the final image, made by a scanner image named with
// generator=, is in the OCI archive and lists the files the build put
// there.
func TestSBOM(t *testing.T) {
	env := testenv.Get(t)
	c := connect(t)
	scanner := pushTestScanner(t, env, c)
	marker := fmt.Sprintf("sbom-%d", time.Now().UnixNano())
	stage := dsl.From("busybox").Run("echo hi > /" + marker)
	archive := filepath.Join(t.TempDir(), "img.tar")
	_, err := c.Build(t.Context(), stage, driver.BuildOptions{
		Progress: "quiet",
		Outputs:  []driver.Output{{Type: "oci", Dest: archive, Attrs: map[string]string{"name": "sbom-test:latest"}}},
		Attest:   driver.Attestations{SBOM: &driver.SBOMAttestation{Generator: scanner}, Provenance: &driver.ProvenanceAttestation{}},
	})
	require.NoError(t, err)
	var sboms []spdxFiles
	stmts := archiveAttestations(t, archive)
	for _, s := range stmts {
		if s.PredicateType == predicateSPDX {
			var doc spdxFiles
			require.NoError(t, json.Unmarshal(s.Predicate, &doc))
			sboms = append(sboms, doc)
		}
	}
	require.Len(t, sboms, 1, "one SBOM, of the final image")
	var names []string
	for _, f := range sboms[0].Files {
		names = append(names, f.FileName)
	}
	require.Contains(t, names, "/"+marker, "the file the build wrote")
	require.Contains(t, names, "/bin/busybox", "the base image's files")
	provenanceOf(t, stmts) // and the provenance beside it
}
