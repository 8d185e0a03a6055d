package driver_test

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/solver/pb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/internal/testenv"
)

// statement is an in-toto statement as the exporter stores one.
type statement struct {
	Type          string          `json:"_type"`
	PredicateType string          `json:"predicateType"`
	Subject       []any           `json:"subject"`
	Predicate     json.RawMessage `json:"predicate"`
}

// slsa1 is the part of a SLSA v1 provenance predicate the tests read.
type slsa1 struct {
	BuildDefinition struct {
		ResolvedDependencies []struct {
			URI    string            `json:"uri"`
			Digest map[string]string `json:"digest"`
		} `json:"resolvedDependencies"`
		InternalParameters struct {
			BuildConfig *struct {
				Definition []json.RawMessage `json:"llbDefinition"`
			} `json:"buildConfig"`
		} `json:"internalParameters"`
	} `json:"buildDefinition"`
}

const (
	predicateSLSA1 = "https://slsa.dev/provenance/v1"
	predicateSPDX  = "https://spdx.dev/Document"
)

// attestationsOf reads every in-toto statement attached to the image whose
// top descriptor is top, fetching blobs with fetch: the attestation
// manifests of an image index, as BuildKit stores them.
func attestationsOf(t *testing.T, top ocispecs.Descriptor, fetch func(ocispecs.Descriptor) []byte) []statement {
	t.Helper()
	if top.MediaType != ocispecs.MediaTypeImageIndex {
		return nil
	}
	var idx ocispecs.Index
	require.NoError(t, json.Unmarshal(fetch(top), &idx))
	var out []statement
	for _, m := range idx.Manifests {
		if m.Annotations["vnd.docker.reference.type"] != "attestation-manifest" {
			continue
		}
		var mf ocispecs.Manifest
		require.NoError(t, json.Unmarshal(fetch(m), &mf))
		for _, l := range mf.Layers {
			var s statement
			require.NoError(t, json.Unmarshal(fetch(l), &s), "%s", fetch(l))
			require.Equal(t, l.Annotations["in-toto.io/predicate-type"], s.PredicateType)
			out = append(out, s)
		}
	}
	return out
}

// archiveAttestations reads the attestations of an OCI archive.
func archiveAttestations(t *testing.T, path string) []statement {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	files := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		dt, err := io.ReadAll(tr)
		require.NoError(t, err)
		files[h.Name] = dt
	}
	var idx ocispecs.Index
	require.NoError(t, json.Unmarshal(files["index.json"], &idx))
	require.Len(t, idx.Manifests, 1)
	return attestationsOf(t, idx.Manifests[0], func(d ocispecs.Descriptor) []byte {
		dt, ok := files["blobs/sha256/"+d.Digest.Encoded()]
		require.True(t, ok, "blob %s in the archive", d.Digest)
		return dt
	})
}

// registryAttestations reads the attestations of an image in the test
// registry, over its plain HTTP API.
func registryAttestations(t *testing.T, env *testenv.Env, repo, tag string) []statement {
	t.Helper()
	get := func(kind, ref, accept string) ([]byte, string) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, fmt.Sprintf("http://%s/v2/%s/%s/%s", env.Registry, repo, kind, ref), nil)
		require.NoError(t, err)
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		dt, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s %s: %s", kind, ref, dt)
		return dt, resp.Header.Get("Content-Type")
	}
	accept := ocispecs.MediaTypeImageIndex + "," + ocispecs.MediaTypeImageManifest
	_, mt := get("manifests", tag, accept)
	return attestationsOf(t, ocispecs.Descriptor{MediaType: mt, Annotations: map[string]string{"tag": tag}}, func(d ocispecs.Descriptor) []byte {
		if d.Annotations["tag"] != "" {
			dt, _ := get("manifests", d.Annotations["tag"], accept)
			return dt
		}
		if d.MediaType == ocispecs.MediaTypeImageManifest || d.MediaType == ocispecs.MediaTypeImageIndex {
			dt, _ := get("manifests", d.Digest.String(), accept)
			return dt
		}
		dt, _ := get("blobs", d.Digest.String(), "*/*")
		return dt
	})
}

// baseDigests are the digests of every image source the build used.
func baseDigests(t *testing.T, r *dsl.Result) []string {
	t.Helper()
	var out []string
	for _, dt := range r.Definition.Def {
		var op pb.Op
		require.NoError(t, op.UnmarshalVT(dt))
		if src := op.GetSource(); src != nil && strings.HasPrefix(src.Identifier, "docker-image://") {
			_, dgst, ok := strings.Cut(src.Identifier, "@")
			require.True(t, ok, "%s is pinned", src.Identifier)
			out = append(out, dgst)
		}
	}
	require.NotEmpty(t, out)
	return out
}

// provenanceOf is the one SLSA v1 provenance among the statements.
func provenanceOf(t *testing.T, stmts []statement) slsa1 {
	t.Helper()
	var found []slsa1
	for _, s := range stmts {
		if s.PredicateType == predicateSLSA1 {
			require.Contains(t, s.Type, "https://in-toto.io/Statement/")
			require.NotEmpty(t, s.Subject, "the provenance names the image it is about")
			var p slsa1
			require.NoError(t, json.Unmarshal(s.Predicate, &p))
			found = append(found, p)
		}
	}
	require.Len(t, found, 1, "one provenance")
	return found[0]
}

// requireMaterials checks that every base image is in the provenance's
// materials, by digest.
func requireMaterials(t *testing.T, p slsa1, digests []string) {
	t.Helper()
	have := map[string]bool{}
	for _, d := range p.BuildDefinition.ResolvedDependencies {
		have["sha256:"+d.Digest["sha256"]] = true
	}
	for _, d := range digests {
		require.True(t, have[d], "base image %s is in the materials %+v", d, p.BuildDefinition.ResolvedDependencies)
	}
}

// Provenance in an OCI archive and in a pushed image reads back as in-toto
// SLSA v1 provenance with every base image by digest; mode=max carries the
// build steps and min does not; with none asked for there is none.
func TestProvenance(t *testing.T) {
	env := testenv.Get(t)
	c := connect(t)
	marker := time.Now().Format(time.RFC3339Nano)
	base := dsl.From("busybox").Run("echo " + marker + " > /built")
	stage := dsl.From("busybox").Copy("/built", "/built", base).Run("echo final > /final")
	dir := t.TempDir()

	for _, mode := range []string{"min", "max"} {
		t.Run("archive mode="+mode, func(t *testing.T) {
			archive := filepath.Join(dir, mode+".tar")
			res, err := c.Build(t.Context(), stage, driver.BuildOptions{
				Progress: "quiet",
				Outputs:  []driver.Output{{Type: "oci", Dest: archive, Attrs: map[string]string{"name": "provenance-test:latest"}}},
				Attest:   driver.Attestations{Provenance: &driver.ProvenanceAttestation{Mode: mode}},
			})
			require.NoError(t, err)
			p := provenanceOf(t, archiveAttestations(t, archive))
			requireMaterials(t, p, baseDigests(t, res.Compiled))
			if mode == "max" {
				require.NotNil(t, p.BuildDefinition.InternalParameters.BuildConfig)
				require.NotEmpty(t, p.BuildDefinition.InternalParameters.BuildConfig.Definition, "mode=max carries the build steps")
			} else {
				require.Nil(t, p.BuildDefinition.InternalParameters.BuildConfig, "mode=min has no build steps")
			}
		})
	}

	t.Run("none", func(t *testing.T) {
		archive := filepath.Join(dir, "none.tar")
		_, err := c.Build(t.Context(), stage, driver.BuildOptions{Progress: "quiet", Outputs: []driver.Output{{Type: "oci", Dest: archive}}})
		require.NoError(t, err)
		require.Empty(t, archiveAttestations(t, archive))
	})

	t.Run("unindexed", func(t *testing.T) {
		archive := filepath.Join(dir, "unindexed.tar")
		_, err := c.Build(t.Context(), stage, driver.BuildOptions{
			Progress: "quiet",
			Outputs:  []driver.Output{{Type: "oci", Dest: archive, Attrs: map[string]string{"name": "provenance-test:latest"}}},
			Attest:   driver.Attestations{Provenance: &driver.ProvenanceAttestation{}, Unindexed: true},
		})
		require.NoError(t, err)
		require.Empty(t, archiveAttestations(t, archive), "a plain manifest, no attestation manifest")
	})

	t.Run("pushed", func(t *testing.T) {
		repo, tag := "slipway-test/provenance", fmt.Sprintf("t%d", time.Now().UnixNano())
		res, err := c.Build(t.Context(), stage, driver.BuildOptions{
			Progress: "quiet",
			Outputs:  []driver.Output{{Type: "image", Attrs: map[string]string{"name": env.Image(repo + ":" + tag), "push": "true"}}},
			Attest:   driver.Attestations{Provenance: &driver.ProvenanceAttestation{Mode: "max"}},
		})
		require.NoError(t, err)
		p := provenanceOf(t, registryAttestations(t, env, repo, tag))
		requireMaterials(t, p, baseDigests(t, res.Compiled))
		require.NotNil(t, p.BuildDefinition.InternalParameters.BuildConfig)
	})
}

// sourceMetadata is the part of a SLSA v1 provenance's run details where
// BuildKit puts the definition's source map in mode=max.
type sourceMetadata struct {
	RunDetails struct {
		Metadata struct {
			BuildKit struct {
				Source *struct {
					Locations map[string]*pb.Locations `json:"locations"`
					Infos     []struct {
						Filename string `json:"filename"`
						Language string `json:"language"`
					} `json:"infos"`
				} `json:"source"`
			} `json:"buildkit_metadata"`
		} `json:"metadata"`
	} `json:"runDetails"`
}

// The mode=max provenance carries the build's Go source locations: the Go
// file and line of the builder call that made a step.
func TestProvenanceSourceLocations(t *testing.T) {
	testenv.Get(t)
	c := connect(t)
	marker := time.Now().Format(time.RFC3339Nano)
	_, file, line, _ := runtime.Caller(0)
	stage := dsl.From("busybox").Run("echo " + marker + " > /located") // line+1
	line++
	archive := filepath.Join(t.TempDir(), "max.tar")
	_, err := c.Build(t.Context(), stage, driver.BuildOptions{
		Progress: "quiet",
		Outputs:  []driver.Output{{Type: "oci", Dest: archive, Attrs: map[string]string{"name": "provenance-source-test:latest"}}},
		Attest:   driver.Attestations{Provenance: &driver.ProvenanceAttestation{Mode: "max"}},
	})
	require.NoError(t, err)
	var src sourceMetadata
	for _, s := range archiveAttestations(t, archive) {
		if s.PredicateType == predicateSLSA1 {
			require.NoError(t, json.Unmarshal(s.Predicate, &src))
		}
	}
	source := src.RunDetails.Metadata.BuildKit.Source
	require.NotNil(t, source, "buildkit_metadata.source in the mode=max provenance")
	var found []string
	for step, locs := range source.Locations {
		for _, l := range locs.Locations {
			require.Less(t, int(l.SourceIndex), len(source.Infos), "step %s names a source file", step)
			info := source.Infos[l.SourceIndex]
			for _, r := range l.Ranges {
				found = append(found, fmt.Sprintf("%s:%d", info.Filename, r.Start.Line))
				if strings.HasSuffix(file, "/"+info.Filename) && int(r.Start.Line) == line {
					require.Equal(t, "Go", info.Language)
					return
				}
			}
		}
	}
	t.Fatalf("no step is placed at %s:%d; the provenance places steps at %v", filepath.Base(file), line, found)
}
