package driver

// The SBOM of stages (--attest type=sbom,scan-stage=true): the scanner
// runs inside the gateway build, as the Dockerfile frontend runs it.

import (
	"context"
	"fmt"

	"github.com/containerd/platforms"
	"github.com/distribution/reference"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	"github.com/moby/buildkit/frontend/attestations/sbom"
	gwclient "github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/result"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/slipway-build/slipway/dsl"
)

// addStageSBOMs scans, for every platform of res, the final image and the
// stages scan-stage names that the build reached, in one run of the
// scanner (the stages as its extras, named by stage), and adds the SBOMs
// to res, as the Dockerfile frontend does for BUILDKIT_SBOM_SCAN_STAGE.
// The solver's own scan of the final image then does not run: it skips a
// result that already has an SBOM. compiled holds the build of each
// platform by its ID; a single-platform build's is under "".
func (o BuildOptions) addStageSBOMs(ctx context.Context, gw gwclient.Client, res *gwclient.Result, compiled map[string]*dsl.Result, contextID string) error {
	s := o.Attest.SBOM
	if s == nil || s.ScanStage == "" {
		return nil
	}
	scan, err := o.stageScanner(ctx, gw)
	if err != nil {
		return err
	}
	ps, err := exptypes.ParsePlatforms(res.Metadata)
	if err != nil {
		return err
	}
	for _, p := range ps.Platforms {
		r := compiled[p.ID]
		if r == nil {
			r = compiled[""]
		}
		if r == nil {
			return fmt.Errorf("scanning stages: no build for platform %s", p.ID)
		}
		extras := map[string]llb.State{}
		for _, st := range r.Stages {
			if s.scanStages(st.Name) {
				extras[st.Name] = st.State
			}
		}
		var opts []llb.ConstraintsOpt
		if o.NoCache {
			opts = append(opts, llb.IgnoreCache)
		}
		att, err := scan(ctx, p.ID, r.State, extras, opts...)
		if err != nil {
			return fmt.Errorf("scanning stages: %w", err)
		}
		solved, err := result.ConvertAttestation(&att, func(st *llb.State) (gwclient.Reference, error) {
			def, err := st.Marshal(ctx, llb.LocalUniqueID(contextID))
			if err != nil {
				return nil, err
			}
			r, err := gw.Solve(ctx, o.request(def))
			if err != nil {
				return nil, err
			}
			return r.SingleRef()
		})
		if err != nil {
			return fmt.Errorf("scanning stages: %w", err)
		}
		res.AddAttestation(p.ID, *solved)
	}
	return nil
}

// stageScanner is BuildKit's scanner for the generator image, run on the
// daemon's first platform, as the solver and the frontend run it.
func (o BuildOptions) stageScanner(ctx context.Context, gw gwclient.Client) (sbom.Scanner, error) {
	g := o.Attest.SBOM.Generator
	if g == "" {
		g = attestationsDefaultGenerator
	}
	ref, err := reference.ParseNormalizedNamed(g)
	if err != nil {
		return nil, fmt.Errorf("sbom generator %q: %w", g, err)
	}
	g = reference.TagNameOnly(ref).String()
	var p ocispecs.Platform
	if w := gw.BuildOpts().Workers; len(w) > 0 && len(w[0].Platforms) > 0 {
		p = w[0].Platforms[0]
	} else {
		p = platforms.Normalize(platforms.DefaultSpec())
	}
	scan, err := sbom.CreateSBOMScanner(ctx, gw, g, p, sourceresolver.Opt{
		ImageOpt: &sourceresolver.ResolveImageOpt{Platform: &p},
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("sbom generator %s: %w", g, err)
	}
	return scan, nil
}
