package driver

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/containerd/platforms"
	"github.com/docker/cli/cli/config"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	gwclient "github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/auth/authprovider"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/slipway-build/slipway/dsl"
)

// thenFunc runs inside the gateway once the stage is compiled. stopDisplay
// ends the progress display (waiting for it to flush), for a caller that
// is about to hand the terminal to something else.
type thenFunc func(ctx context.Context, gw gwclient.Client, r *dsl.Result, contextID string, stopDisplay func()) (*gwclient.Result, error)

// solve runs one gateway build session: it compiles the stage against the
// daemon's resolver, calls then, and shows progress until the session ends
// or then stops the display. A failure names the failing step.
func (c *Client) solve(ctx context.Context, s dsl.Stage, o BuildOptions, entries []client.ExportEntry, then thenFunc) (*client.SolveResponse, error) {
	steps := newStepLog()
	p, err := newProgress(o, steps)
	if err != nil {
		return nil, err
	}
	opt := o.solveOpt(entries)
	contextID, err := o.addContexts(&opt)
	if err != nil {
		return nil, err
	}
	var resp *client.SolveResponse
	eg, egctx := errgroup.WithContext(ctx)
	eg.Go(func() error {
		var err error
		resp, err = c.bk.Build(egctx, opt, "", func(ctx context.Context, gw gwclient.Client) (*gwclient.Result, error) {
			r, err := compileFor(ctx, gw, s, o, contextID, o.Platform)
			if err != nil {
				return nil, err
			}
			res, err := then(ctx, gw, r, contextID, p.stopDisplay)
			stop := p.stopDisplay
			if o.member != nil { // the terminal shows the group's display
				stop = o.member.group.stopDisplay
			}
			return res, o.OnError.onFailure(ctx, gw, err, stop)
		}, p.statuses)
		return err
	})
	eg.Go(p.forward)
	eg.Go(func() error {
		if o.member != nil { // one of several targets: the group's display
			o.member.relay(p)
			return nil
		}
		p.show(egctx)
		return nil
	})
	if err := eg.Wait(); err != nil {
		return nil, c.buildError(ctx, steps, err)
	}
	return resp, nil
}

// solveOpt is the session-level part of a build: exports, cache backends,
// attachables and entitlements.
func (o BuildOptions) solveOpt(entries []client.ExportEntry) client.SolveOpt {
	opt := client.SolveOpt{
		// Never nil: client.solve copies the cache imports into a clone of
		// it, and a clone of nil is nil (a panic in BuildKit v0.34.2).
		FrontendAttrs:       map[string]string{},
		Exports:             entries,
		CacheExports:        o.CacheExports,
		CacheImports:        o.CacheImports,
		Session:             append([]session.Attachable{registryAuth()}, o.Session...),
		AllowedEntitlements: o.Allow,
	}
	o.Attest.frontendAttrs(opt.FrontendAttrs)
	o.epochAttrs(opt.FrontendAttrs)
	if p := o.requestedPlatforms(); p != "" {
		opt.FrontendAttrs["platform"] = p
	}
	return opt
}

// requestedPlatforms are the platforms the build asks for, as the
// frontend attribute "platform" says them (os/arch[/variant],
// comma-separated), or "" for the daemon's. The daemon compares them with
// the platforms of the result before it exports, and warns "Requested
// platforms ... do not match" when the attribute is missing and it
// assumes its own; buildx sets it the same way.
func (o BuildOptions) requestedPlatforms() string {
	ps := o.Platforms
	if len(ps) == 0 && o.Platform != nil {
		ps = []ocispecs.Platform{*o.Platform}
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = platforms.Format(platforms.Normalize(p))
	}
	return strings.Join(ids, ",")
}

// registryAuth lets the daemon use this user's registry credentials
// (~/.docker/config.json and its credential helpers) for pulls, pushes and
// registry caches, as buildctl does.
func registryAuth() session.Attachable {
	cfg := config.LoadDefaultConfigFile(os.Stderr)
	return authprovider.NewDockerAuthProvider(authprovider.DockerAuthProviderConfig{
		AuthConfigProvider: authprovider.LoadAuthConfig(cfg),
	})
}

// request is the gateway solve of a compiled definition. A gateway build
// gets no frontend to read "no-cache" and "cache-imports", so both are
// applied here: the cache imports go with the request, and no-cache marks
// the steps (run and file ops) to ignore the cache, as the Dockerfile
// frontend marks its RUN, COPY and ADD; sources are left alone, as it
// leaves them: an image is not pulled again and a context is synced as
// always, not copied afresh. Op metadata changes no digest.
func (o BuildOptions) request(def *llb.Definition) gwclient.SolveRequest {
	pbDef := def.ToPB()
	if o.NoCache {
		for _, dt := range pbDef.Def {
			var op pb.Op
			if err := op.UnmarshalVT(dt); err != nil || op.GetExec() == nil && op.GetFile() == nil {
				continue // an undecodable op fails the solve, with the daemon's error
			}
			d := string(digest.FromBytes(dt))
			if pbDef.Metadata[d] == nil {
				pbDef.Metadata[d] = &pb.OpMetadata{}
			}
			pbDef.Metadata[d].IgnoreCache = true
		}
	}
	req := gwclient.SolveRequest{Definition: pbDef, Evaluate: true}
	for _, im := range o.CacheImports {
		req.CacheImports = append(req.CacheImports, gwclient.CacheOptionsEntry{Type: im.Type, Attrs: im.Attrs})
	}
	return req
}

// solveResult runs the compiled definition in the gateway and hands the
// result and its image config to the exporters.
func solveResult(ctx context.Context, gw gwclient.Client, r *dsl.Result, o BuildOptions) (*gwclient.Result, error) {
	cfg, err := json.Marshal(r.Image)
	if err != nil {
		return nil, fmt.Errorf("encoding image config: %w", err)
	}
	ref, err := solveRef(ctx, gw, r, o)
	if err != nil {
		return nil, err
	}
	res := gwclient.NewResult()
	res.SetRef(ref) // nil for FROM scratch with no file changes: an empty image
	res.AddMeta(exptypes.ExporterImageConfigKey, cfg)
	return res, nil
}

// solveIndex builds the stage for every platform, in parallel, and hands
// the exporters one ref and image config per platform, which they write as
// an image index. first is the first platform's compiled build.
func solveIndex(ctx context.Context, gw gwclient.Client, s dsl.Stage, o BuildOptions, contextID string, first *dsl.Result, compiled map[string]*dsl.Result) (*gwclient.Result, error) {
	n := len(o.Platforms)
	results := make([]*dsl.Result, n)
	refs := make([]gwclient.Reference, n)
	results[0] = first
	eg, ctx := errgroup.WithContext(ctx)
	for i := range o.Platforms {
		eg.Go(func() error {
			p := o.Platforms[i]
			r := results[i]
			if r == nil {
				var err error
				if r, err = compileFor(ctx, gw, s, o, contextID, &p); err != nil {
					return fmt.Errorf("compiling for %s: %w", platforms.Format(p), err)
				}
				results[i] = r
			}
			ref, err := solveRef(ctx, gw, r, o)
			if err != nil {
				return err
			}
			refs[i] = ref
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	res := gwclient.NewResult()
	var exp exptypes.Platforms
	for i, p := range o.Platforms {
		id := platforms.FormatAll(platforms.Normalize(p))
		if _, dup := compiled[id]; dup {
			return nil, fmt.Errorf("platform %s is listed twice", id)
		}
		compiled[id] = results[i]
		cfg, err := json.Marshal(results[i].Image)
		if err != nil {
			return nil, fmt.Errorf("encoding image config for %s: %w", id, err)
		}
		res.AddRef(id, refs[i])
		res.AddMeta(exptypes.ExporterImageConfigKey+"/"+id, cfg)
		exp.Platforms = append(exp.Platforms, exptypes.Platform{ID: id, Platform: p})
	}
	dt, err := json.Marshal(exp)
	if err != nil {
		return nil, err
	}
	res.AddMeta(exptypes.ExporterPlatformsKey, dt)
	return res, nil
}

// solveRef solves the definition and returns its root file system, or nil
// for an empty one.
func solveRef(ctx context.Context, gw gwclient.Client, r *dsl.Result, o BuildOptions) (gwclient.Reference, error) {
	if len(r.Definition.Def) == 0 {
		return nil, nil
	}
	sres, err := gw.Solve(ctx, o.request(r.Definition))
	if err != nil {
		return nil, err
	}
	return sres.SingleRef()
}
