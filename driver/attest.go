package driver

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	"github.com/moby/buildkit/frontend/attestations"
)

// Attestations are the supply-chain attestations BuildKit adds to the
// exported image, as buildctl's --opt attest:provenance=mode=max and
// buildx's --attest type=sbom ask for them. BuildKit's solver makes both
// for any frontend, slipway's gateway build included: the provenance from
// what the build solved (every base image by digest in its materials, the
// build steps in mode=max), the SBOM by running the scanner image on the
// final file system. The zero value asks for none.
type Attestations struct {
	// Provenance, if set, asks for SLSA provenance.
	Provenance *ProvenanceAttestation
	// SBOM, if set, asks for an SPDX software bill of materials.
	SBOM *SBOMAttestation
	// Unindexed keeps a single-platform image a plain manifest: provenance
	// is then left out of image and OCI exports instead of turning the
	// image into an index with an "unknown/unknown" attestation manifest.
	// It cannot be combined with SBOM, whose attestation has no such mark
	// in BuildKit.
	Unindexed bool
}

// ProvenanceAttestation configures the SLSA provenance attestation.
type ProvenanceAttestation struct {
	// Mode is "min" (the default when empty: the materials, the
	// frontend and its arguments minus secrets) or "max" (also every
	// build step, its source locations and the layers).
	Mode string
}

// SBOMAttestation configures the SBOM attestation.
type SBOMAttestation struct {
	// Generator is the scanner image; empty means BuildKit's default,
	// docker/buildkit-syft-scanner.
	Generator string
	// ScanStage also scans the other stages the build reached, each in
	// an SBOM of its own beside the final image's: "true" scans every
	// one, a comma-separated list of stage names those of them that the
	// build reached, as BuildKit's BUILDKIT_SBOM_SCAN_STAGE does; empty
	// or "false" scans the final image only.
	ScanStage string
}

// scanStages reports whether the stage named name is to be scanned, as
// the Dockerfile frontend reads BUILDKIT_SBOM_SCAN_STAGE.
func (s *SBOMAttestation) scanStages(name string) bool {
	if s == nil || s.ScanStage == "" {
		return false
	}
	if b, err := strconv.ParseBool(s.ScanStage); err == nil {
		return b
	}
	return slices.Contains(strings.Split(s.ScanStage, ","), name)
}

// check reports attestations BuildKit would refuse, before any solve.
func (a Attestations) check() error {
	if p := a.Provenance; p != nil && p.Mode != "" && p.Mode != "min" && p.Mode != "max" {
		return fmt.Errorf("provenance mode %q: want min or max", p.Mode)
	}
	if s := a.SBOM; s != nil && s.Generator != "" {
		if _, err := reference.ParseNormalizedNamed(s.Generator); err != nil {
			return fmt.Errorf("sbom generator %q: not an image reference: %w", s.Generator, err)
		}
	}
	if a.Unindexed && a.SBOM != nil {
		return fmt.Errorf("an SBOM attestation always makes an image index: it cannot be left out of one")
	}
	return nil
}

// frontendAttrs are the solve attributes that ask the solver for the
// attestations, as buildctl passes them (attest:TYPE=CSV).
func (a Attestations) frontendAttrs(attrs map[string]string) {
	if p := a.Provenance; p != nil {
		mode := p.Mode
		if mode == "" {
			mode = "min"
		}
		v := "mode=" + mode
		if a.Unindexed {
			v += ",inline-only=true"
		}
		attrs["attest:"+attestations.KeyTypeProvenance] = v
	}
	if s := a.SBOM; s != nil {
		v := ""
		if s.Generator != "" {
			v = "generator=" + s.Generator
		}
		attrs["attest:"+attestations.KeyTypeSbom] = v
	}
}

// exporterAttrs sets what an image-writing exporter needs for the
// attestations and for SOURCE_DATE_EPOCH: provenance marked inline-only
// stays out (attestation-inline=false), and layer timestamps are
// rewritten to the epoch (rewrite-timestamp=true), which the solver gives
// every exporter from the build argument. An attribute the user set wins.
func (o BuildOptions) exporterAttrs(e *client.ExportEntry) {
	switch e.Type {
	case client.ExporterImage, client.ExporterOCI, client.ExporterDocker:
	default:
		return
	}
	set := func(k exptypes.ImageExporterOptKey, v string) {
		if _, ok := e.Attrs[string(k)]; !ok {
			e.Attrs[string(k)] = v
		}
	}
	if o.Attest.Unindexed {
		set(exptypes.OptKeyForceInlineAttestations, "false")
	}
	if o.SourceDateEpoch != nil {
		set(exptypes.OptKeyRewriteTimestamp, "true")
	}
}

// epochAttrs passes SOURCE_DATE_EPOCH to the solver as buildctl's
// --opt build-arg:SOURCE_DATE_EPOCH=N does: the solver then gives it to
// every exporter (image config and history times, and with
// rewrite-timestamp the layers' files).
func (o BuildOptions) epochAttrs(attrs map[string]string) {
	if o.SourceDateEpoch != nil {
		attrs["build-arg:SOURCE_DATE_EPOCH"] = strconv.FormatInt(*o.SourceDateEpoch, 10)
	}
}

// ParseAttest parses one value of buildx's --attest flag:
// type=provenance[,mode=min|max] or
// type=sbom[,generator=IMAGE][,scan-stage=true|false|NAMES], with
// BuildKit's own parser. It returns a into which the value is merged.
func ParseAttest(a Attestations, s string) (Attestations, error) {
	typ, rest, err := splitType(s)
	if err != nil {
		return a, err
	}
	parsed, err := attestations.Parse(map[string]string{"attest:" + typ: rest})
	if err != nil {
		return a, err
	}
	attrs := parsed[typ]
	switch typ {
	case attestations.KeyTypeProvenance:
		p := &ProvenanceAttestation{}
		for k, v := range attrs {
			switch k {
			case "mode":
				p.Mode = v
			case "version":
			default:
				return a, fmt.Errorf("provenance: unknown field %q (want mode)", k)
			}
		}
		a.Provenance = p
	case attestations.KeyTypeSbom:
		g := &SBOMAttestation{}
		for k, v := range attrs {
			switch k {
			case "generator":
				if v != attestationsDefaultGenerator {
					g.Generator = v
				}
			case "scan-stage":
				if b, err := strconv.ParseBool(v); err == nil && !b {
					v = ""
				}
				g.ScanStage = v
			case "scan-context":
				return a, fmt.Errorf("sbom: scan-context is not supported: slipway scans the final image and, with scan-stage, the stages")
			default:
				return a, fmt.Errorf("sbom: unknown field %q (want generator or scan-stage)", k)
			}
		}
		a.SBOM = g
	}
	return a, a.check()
}

// attestationsDefaultGenerator is the scanner BuildKit's parser fills in
// when none is named.
const attestationsDefaultGenerator = "docker/buildkit-syft-scanner:stable-1"

// splitType takes the type= field out of an --attest value.
func splitType(s string) (typ, rest string, err error) {
	var fields []string
	for _, f := range strings.Split(s, ",") {
		if v, ok := strings.CutPrefix(f, "type="); ok && typ == "" {
			typ = v
			continue
		}
		fields = append(fields, f)
	}
	switch typ {
	case "":
		return "", "", fmt.Errorf("type= is required (provenance or sbom)")
	case attestations.KeyTypeProvenance, attestations.KeyTypeSbom:
		return typ, strings.Join(fields, ","), nil
	}
	return "", "", fmt.Errorf("unknown attestation type %q (want provenance or sbom)", typ)
}
