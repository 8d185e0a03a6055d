package driver

import (
	"context"
	"fmt"
	"io"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	gwclient "github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/util/progress/progressui"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/tonistiigi/fsutil"

	"github.com/slipway-build/slipway/dsl"
)

// BuildOptions configure one build.
type BuildOptions struct {
	// Outputs are the exports; none means the result stays in the
	// daemon's cache only.
	Outputs []Output
	// Platform is the target platform; nil means the daemon's.
	Platform *ocispecs.Platform
	// Platforms, when there are two or more, build the image once per
	// platform and export an image index (a manifest list) of them all;
	// Platform is then ignored. One platform is the same as Platform.
	Platforms []ocispecs.Platform
	// Progress is the display mode: progressui.AutoMode (the default,
	// also when empty), TtyMode, PlainMode, RawJSONMode or QuietMode.
	Progress progressui.DisplayMode
	// ProgressOut receives the display; nil means os.Stderr.
	ProgressOut io.Writer
	// OnStatus, if set, sees every status update the daemon sends.
	OnStatus func(*client.SolveStatus)
	// OnCompiled, if set, is told the build (the first platform's) as
	// soon as it is compiled, while the daemon solves it.
	OnCompiled func(*dsl.Result)
	// WrapContext, if set, wraps each local directory the build's session
	// serves (the build context and the named directory contexts, by the
	// local source's name): to see the file sync's walks of them.
	WrapContext func(name string, fs fsutil.FS) fsutil.FS
	// Resolver, if set, chooses where base image configs come from, given
	// the daemon's resolver: an image lock file, say. Nil means the daemon.
	Resolver ResolverWrapper
	// CacheExports and CacheImports are cache backends: a registry, a
	// local directory, inline.
	CacheExports, CacheImports []CacheEntry
	// Session holds what the daemon may ask this process for during the
	// build: secrets (secretsprovider.NewSecretProvider) and SSH agents
	// (sshprovider.NewSSHAgentProvider).
	Session []session.Attachable
	// NoCache runs every step again, as buildctl's --no-cache does.
	NoCache bool
	// Allow grants entitlements (entitlements.EntitlementNetworkHost,
	// entitlements.EntitlementSecurityInsecure); none are granted
	// otherwise.
	Allow []string
	// ContextDir is the build context, the directory Copy and bind mounts
	// read from; empty means the current directory. Only the paths the
	// build uses are sent to the daemon, less those its .dockerignore
	// excludes.
	ContextDir string
	// Compile are further options for compiling the stage, such as
	// dsl.WithBuildArgs.
	Compile []dsl.CompileOption
	// Contexts are the named build contexts, by name, as docker buildx
	// build --build-context NAME=VALUE gives them: a directory, an image
	// (docker-image://REF), an image in an OCI layout directory
	// (oci-layout://PATH[:TAG][@DIGEST]), a git repository or a file at an
	// http(s) URL, which dsl.Context(NAME), FROM NAME and a copy from it
	// read.
	Contexts map[string]string
	// OnError, if set, opens a process in the container of a RUN step that
	// fails, before the build returns the failure: a shell, or a command
	// whose output goes to the log. See DebugShell.
	OnError *DebugShell
	// member is set when the build is one of several (BuildTargets).
	member *groupMember
	// Attest asks for provenance and SBOM attestations (attest.go).
	Attest Attestations
	// SourceDateEpoch, if set, is SOURCE_DATE_EPOCH for the exporters:
	// image times and every layer file's time are set to it
	// (rewrite-timestamp), so the same build gives the same digest
	// anywhere. The caller also passes it as a build argument.
	SourceDateEpoch *int64
}

// CacheEntry is one cache backend: its type (registry, local, inline, or
// any the daemon has registered) and attributes, as buildctl's
// --export-cache type=registry,ref=REF,mode=max describes it.
type CacheEntry = client.CacheOptionsEntry

// ResolverWrapper returns the resolver a build uses, given the daemon's.
type ResolverWrapper func(daemon llb.ImageMetaResolver) llb.ImageMetaResolver

func (w ResolverWrapper) wrap(daemon llb.ImageMetaResolver) llb.ImageMetaResolver {
	if w == nil {
		return daemon
	}
	return w(daemon)
}

// Result is a finished build.
type Result struct {
	// Compiled is the build as it was solved (for several platforms, the
	// first one's).
	Compiled *dsl.Result
	// PerPlatform holds each platform's build when there were several,
	// keyed as platforms.FormatAll prints them (linux/arm/v7).
	PerPlatform map[string]*dsl.Result
	// ExporterResponse holds what the exporters reported, such as
	// "containerimage.digest".
	ExporterResponse map[string]string
}

// ImageDigest is the digest of the exported image manifest, if any.
func (r *Result) ImageDigest() string {
	return r.ExporterResponse[exptypes.ExporterImageDigestKey]
}

// Build compiles the stage against the daemon's view of base images, solves
// it with BuildKit's progress display, and runs the exports. On failure no
// output file is left behind, and the error names the failing step with the
// tail of its output. When the solve fails after the stage compiled, the
// Result beside the error holds only Compiled and PerPlatform (so that a
// failed build can be recorded); it has no exporter response.
func (c *Client) Build(ctx context.Context, s dsl.Stage, o BuildOptions) (*Result, error) {
	exports := make([]*export, 0, len(o.Outputs))
	var entries []client.ExportEntry
	if err := o.Attest.check(); err != nil {
		return nil, err
	}
	defer func() {
		for _, e := range exports {
			e.discard()
		}
	}()
	for _, out := range o.Outputs {
		if out.Type == CacheOnly {
			continue
		}
		e, err := out.prepare()
		if err != nil {
			return nil, err
		}
		o.exporterAttrs(&e.entry)
		exports = append(exports, e)
		entries = append(entries, e.entry)
	}
	if len(o.Platforms) == 1 {
		o.Platform = &o.Platforms[0]
	}
	var compiled *dsl.Result
	var perPlatform map[string]*dsl.Result
	if len(o.Platforms) > 1 {
		o.Platform = &o.Platforms[0]
		perPlatform = map[string]*dsl.Result{}
	}
	resp, err := c.solve(ctx, s, o, entries, func(ctx context.Context, gw gwclient.Client, r *dsl.Result, contextID string, _ func()) (*gwclient.Result, error) {
		compiled = r
		if o.OnCompiled != nil {
			o.OnCompiled(r)
		}
		var res *gwclient.Result
		var err error
		if perPlatform == nil {
			res, err = solveResult(ctx, gw, r, o)
		} else {
			res, err = solveIndex(ctx, gw, s, o, contextID, r, perPlatform)
		}
		if err != nil {
			return nil, err
		}
		scanned := perPlatform
		if scanned == nil {
			scanned = map[string]*dsl.Result{"": r}
		}
		if err := o.addStageSBOMs(ctx, gw, res, scanned, contextID); err != nil {
			return nil, err
		}
		return res, nil
	})
	if err != nil {
		if compiled != nil {
			// What was solved, for the failed build's record.
			return &Result{Compiled: compiled, PerPlatform: perPlatform}, err
		}
		return nil, err
	}
	// A context directory removed while it was sent may have been read in
	// part, even when every file the walk listed could be opened: such a
	// build has no result.
	if err := o.contextsStillThere(compiled, perPlatform); err != nil {
		return nil, err
	}
	if o.member != nil && o.member.keep(exports) {
		exports = nil // the group writes them when every target is done
	}
	for _, e := range exports {
		if err := e.commit(); err != nil {
			return nil, fmt.Errorf("writing %s: %w", e.dest, err)
		}
	}
	exports = nil
	return &Result{Compiled: compiled, PerPlatform: perPlatform, ExporterResponse: resp.ExporterResponse}, nil
}

// compileFor compiles the stage for platform p (nil: the daemon's) with
// the build's resolver.
func compileFor(ctx context.Context, gw gwclient.Client, s dsl.Stage, o BuildOptions, contextID string, p *ocispecs.Platform) (*dsl.Result, error) {
	ignore, err := o.ignorePatterns()
	if err != nil {
		return nil, err
	}
	opts := []dsl.CompileOption{
		dsl.WithResolver(o.Resolver.wrap(gw)),
		dsl.WithSourceResolver(gw),
		dsl.WithCaps(gw.BuildOpts().LLBCaps),
		dsl.WithContextID(contextID),
		dsl.WithIgnorePatterns(ignore),
	}
	named, err := o.contextOptions()
	if err != nil {
		return nil, err
	}
	opts = append(opts, named...)
	opts = append(opts, o.Compile...)
	if p != nil {
		opts = append(opts, dsl.WithPlatform(*p))
	}
	return dsl.Compile(ctx, s, opts...)
}

// Compile compiles the stage with base images resolved by the daemon (or by
// the resolver w makes of it), and solves nothing. It is the LLB mode of a
// DSL program when no lock file pins the images.
func (c *Client) Compile(ctx context.Context, s dsl.Stage, w ResolverWrapper, opts ...dsl.CompileOption) (*dsl.Result, error) {
	var compiled *dsl.Result
	_, err := c.bk.Build(ctx, client.SolveOpt{}, "", func(ctx context.Context, gw gwclient.Client) (*gwclient.Result, error) {
		// The daemon's capabilities shape the LLB as they do for a build;
		// the context keeps the fixed ID, so the output is reproducible.
		r, err := dsl.Compile(ctx, s, append([]dsl.CompileOption{dsl.WithResolver(w.wrap(gw)), dsl.WithSourceResolver(gw), dsl.WithCaps(gw.BuildOpts().LLBCaps)}, opts...)...)
		if err != nil {
			return nil, err
		}
		compiled = r
		return gwclient.NewResult(), nil
	}, nil)
	if err != nil {
		return nil, err
	}
	return compiled, nil
}
