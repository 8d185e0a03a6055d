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
// $BUILDKIT_SCAN_SOURCE, the other ones (stages, with scan-stage) under
// $BUILDKIT_SCAN_SOURCE_EXTRAS, and every file written to
// $BUILDKIT_SCAN_DESTINATION is an in-toto statement. It writes a small
// SPDX document per file system, named as the directory it was mounted
// at (sbom, sbom-STAGE), listing the regular files it sees.
const testScannerScript = `set -e
scan() {
	name=$(basename "$1")
	files=$(cd "$1" && find . -type f | sort | sed 's|^\.||' | awk 'BEGIN{ORS=""} {if (NR>1) print ","; printf "{\"fileName\":\"%s\"}", $0}')
	printf '{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://spdx.dev/Document","subject":[],"predicate":{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"%s","files":[%s]}}\n' "$name" "$files" > "$BUILDKIT_SCAN_DESTINATION/$name.spdx.json"
}
scan "$BUILDKIT_SCAN_SOURCE"
if [ -n "$BUILDKIT_SCAN_SOURCE_EXTRAS" ] && [ -d "$BUILDKIT_SCAN_SOURCE_EXTRAS" ]; then
	for d in "$BUILDKIT_SCAN_SOURCE_EXTRAS"/*; do
		if [ -d "$d" ]; then scan "$d"; fi
	done
fi
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

// spdxFiles are the name of an SPDX document and the files it lists.
type spdxFiles struct {
	Name  string `json:"name"`
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

// With scan-stage naming a stage, the SBOM of that stage is in the OCI
// archive beside the final image's, and lists a file only that stage
// has; a stage the build reached but scan-stage does not name has none.
func TestSBOMScanStage(t *testing.T) {
	env := testenv.Get(t)
	c := connect(t)
	scanner := pushTestScanner(t, env, c)
	marker := fmt.Sprintf("only-in-builder-%d", time.Now().UnixNano())
	builder := dsl.From("busybox").As("builder").Run("echo x > /" + marker + " && echo app > /app")
	tools := dsl.From("busybox").As("tools").Run("echo t > /tool")
	final := dsl.From("busybox").Copy("/app", "/app", builder).Copy("/tool", "/tool", tools)
	archive := filepath.Join(t.TempDir(), "img.tar")
	_, err := c.Build(t.Context(), final, driver.BuildOptions{
		Progress: "quiet",
		Outputs:  []driver.Output{{Type: "oci", Dest: archive, Attrs: map[string]string{"name": "sbom-stage-test:latest"}}},
		Attest:   driver.Attestations{SBOM: &driver.SBOMAttestation{Generator: scanner, ScanStage: "builder"}},
	})
	require.NoError(t, err)
	files := map[string][]string{}
	for _, s := range archiveAttestations(t, archive) {
		if s.PredicateType == predicateSPDX {
			var doc spdxFiles
			require.NoError(t, json.Unmarshal(s.Predicate, &doc))
			for _, f := range doc.Files {
				files[doc.Name] = append(files[doc.Name], f.FileName)
			}
		}
	}
	require.Len(t, files, 2, "the final image's SBOM and the builder's, not the tools': %v", files)
	require.Contains(t, files["sbom-builder"], "/"+marker, "the builder stage's own file")
	require.NotContains(t, files["sbom"], "/"+marker, "the final image has no such file")
	require.Contains(t, files["sbom"], "/app", "the final image's SBOM")
}
