package driver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	gofs "io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/platforms"
	"github.com/docker/cli/cli/config"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	gwclient "github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/auth/authprovider"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/grpcerrors"
	"github.com/moby/buildkit/util/progress/progressui"
	"github.com/moby/patternmatcher/ignorefile"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/tonistiigi/fsutil"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"

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
	// Progress is the display mode: auto, tty, plain, rawjson or quiet.
	// Empty means auto.
	Progress string
	// ProgressOut receives the display; nil means os.Stderr.
	ProgressOut io.Writer
	// OnStatus, if set, sees every status update the daemon sends.
	OnStatus func(*client.SolveStatus)
	// Resolver, if set, chooses where base image configs come from, given
	// the daemon's resolver: an image lock file, say. Nil means the daemon.
	Resolver ResolverWrapper
	// CacheExports and CacheImports are cache backends in buildctl's
	// syntax (ParseCacheExport, ParseCacheImport): a registry, a local
	// directory, inline.
	CacheExports, CacheImports []CacheEntry
	// Session holds what the daemon may ask this process for during the
	// build: secrets (ParseSecrets) and SSH agents (ParseSSH).
	Session []session.Attachable
	// NoCache runs every step again, as buildctl's --no-cache does.
	NoCache bool
	// Allow grants entitlements (ParseAllow), such as network.host or
	// security.insecure; none are granted otherwise.
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
}

// isRemoteContext reports a named context the daemon fetches, not a
// directory the client sends.
func isRemoteContext(v string) bool {
	return strings.Contains(v, "://") || strings.HasPrefix(v, "git@")
}

// ignorePatterns reads the context's .dockerignore, as docker build does;
// a missing file excludes nothing.
func (o BuildOptions) ignorePatterns() ([]string, error) {
	dir := o.ContextDir
	if dir == "" {
		dir = "."
	}
	return readIgnore(dir)
}

// contextOptions are the compile options for the named contexts: each one's
// .dockerignore.
func (o BuildOptions) contextOptions() ([]dsl.CompileOption, error) {
	var opts []dsl.CompileOption
	for name, dir := range o.Contexts {
		if strings.HasPrefix(dir, ociLayoutScheme) {
			// The session carries the layout's store (solve); the DSL
			// names it as the frontend does.
			l, err := parseOCILayout(dir)
			if err != nil {
				return nil, fmt.Errorf("build context %s: %w", name, err)
			}
			spec, err := l.spec()
			if err != nil {
				return nil, fmt.Errorf("build context %s: %w", name, err)
			}
			opts = append(opts, dsl.WithNamedContext(name, spec))
			continue
		}
		if isRemoteContext(dir) {
			opts = append(opts, dsl.WithNamedContext(name, dir))
			continue
		}
		// FROM NAME and a copy from it read the directory too.
		opts = append(opts, dsl.WithNamedContext(name, "local:"+name))
		fi, err := os.Stat(dir)
		if err != nil {
			return nil, fmt.Errorf("build context %s: %w", name, err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("build context %s: %s is not a directory", name, dir)
		}
		ignore, err := readIgnore(dir)
		if err != nil {
			return nil, fmt.Errorf("build context %s: %w", name, err)
		}
		opts = append(opts, dsl.WithContextIgnorePatterns(name, ignore))
	}
	return opts, nil
}

func readIgnore(dir string) ([]string, error) {
	f, err := os.Open(filepath.Join(dir, ".dockerignore"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading .dockerignore: %w", err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", f.Name(), err)
	}
	return patterns, nil
}

// contextName is the name of the build context's local source, as the
// Dockerfile frontend (and package dsl) name it.
const contextName = "context"

// buildContext opens the context directory and derives its identity on the
// daemon from the host and the absolute path, as buildx does, so that
// builds of the same directory reuse the daemon's file-sync state.
func (o BuildOptions) buildContext() (fsutil.FS, string, error) {
	dir := o.ContextDir
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, "", fmt.Errorf("build context %s: %w", dir, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, "", fmt.Errorf("build context: %w", err)
	}
	if !fi.IsDir() {
		return nil, "", fmt.Errorf("build context %s is not a directory", dir)
	}
	fs, err := fsutil.NewFS(abs)
	if err != nil {
		return nil, "", fmt.Errorf("build context %s: %w", dir, err)
	}
	host, _ := os.Hostname()
	sum := sha256.Sum256([]byte(host + "\x00" + abs))
	return guardedFS{FS: fs, dir: abs}, "slipway-" + hex.EncodeToString(sum[:])[:20], nil
}

// contextsStillThere fails when a context directory the build read is gone.
func (o BuildOptions) contextsStillThere(compiled *dsl.Result, perPlatform map[string]*dsl.Result) error {
	results := []*dsl.Result{compiled}
	for _, r := range perPlatform {
		results = append(results, r)
	}
	for _, r := range results {
		if r == nil || r.Definition == nil {
			continue
		}
		for _, dt := range r.Definition.Def {
			var op pb.Op
			if err := op.UnmarshalVT(dt); err != nil {
				return err
			}
			name, ok := strings.CutPrefix(op.GetSource().GetIdentifier(), "local://")
			if !ok {
				continue
			}
			dir := o.Contexts[name]
			if name == contextName {
				dir = o.ContextDir
				if dir == "" {
					dir = "."
				}
			}
			if dir == "" || isRemoteContext(dir) {
				continue
			}
			abs, err := filepath.Abs(dir)
			if err != nil {
				return err
			}
			if err := (guardedFS{dir: abs}).check(); err != nil {
				return err
			}
		}
	}
	return nil
}

// guardedFS is a build context that fails when its directory is gone by
// the time the daemon reads it: fsutil would send a vanished directory as
// an empty one, and the build would copy nothing without a word.
type guardedFS struct {
	fsutil.FS
	dir string
}

func (g guardedFS) check() error {
	if fi, err := os.Stat(g.dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("build context %s vanished during the build", g.dir)
	}
	return nil
}

// Walk walks the context, and fails if the directory is gone before or
// while it is walked.
func (g guardedFS) Walk(ctx context.Context, target string, fn gofs.WalkDirFunc) error {
	if err := g.check(); err != nil {
		return err
	}
	if err := g.FS.Walk(ctx, target, fn); err != nil {
		return err
	}
	return g.check()
}

// Open opens a file of the context; a file that cannot be opened because
// the whole directory is gone says so.
func (g guardedFS) Open(p string) (io.ReadCloser, error) {
	rc, err := g.FS.Open(p)
	if err != nil {
		if cerr := g.check(); cerr != nil {
			return nil, cerr
		}
	}
	return rc, err
}

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
// tail of its output.
func (c *Client) Build(ctx context.Context, s dsl.Stage, o BuildOptions) (*Result, error) {
	exports := make([]*export, 0, len(o.Outputs))
	var entries []client.ExportEntry
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
		if perPlatform == nil {
			return solveResult(ctx, gw, r, o)
		}
		return solveIndex(ctx, gw, s, o, contextID, r, perPlatform)
	})
	if err != nil {
		return nil, err
	}
	// A context directory removed while it was sent may have been read in
	// part, even when every file the walk listed could be opened: such a
	// build has no result.
	if err := o.contextsStillThere(compiled, perPlatform); err != nil {
		return nil, err
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

// thenFunc runs inside the gateway once the stage is compiled. stopDisplay
// ends the progress display (waiting for it to flush), for a caller that
// is about to hand the terminal to something else.
type thenFunc func(ctx context.Context, gw gwclient.Client, r *dsl.Result, contextID string, stopDisplay func()) (*gwclient.Result, error)

// solve runs one gateway build session: it compiles the stage against the
// daemon's resolver, calls then, and shows progress until the session ends
// or then stops the display. A failure names the failing step.
func (c *Client) solve(ctx context.Context, s dsl.Stage, o BuildOptions, entries []client.ExportEntry, then thenFunc) (*client.SolveResponse, error) {
	progressOut := o.ProgressOut
	if progressOut == nil {
		progressOut = os.Stderr
	}
	mode := o.Progress
	if mode == "" {
		mode = string(progressui.AutoMode)
	}
	display, err := progressui.NewDisplay(progressOut, progressui.DisplayMode(mode))
	if err != nil {
		return nil, fmt.Errorf("--progress=%s: %w", mode, err)
	}

	fs, contextID, err := o.buildContext()
	if err != nil {
		return nil, err
	}
	opt := o.solveOpt(entries)
	opt.LocalMounts = map[string]fsutil.FS{contextName: fs}
	for name, dir := range o.Contexts {
		if strings.HasPrefix(dir, ociLayoutScheme) {
			l, err := parseOCILayout(dir)
			if err != nil {
				return nil, fmt.Errorf("build context %s: %w", name, err)
			}
			id, store, err := l.store()
			if err != nil {
				return nil, fmt.Errorf("build context %s: %w", name, err)
			}
			if opt.OCIStores == nil {
				opt.OCIStores = map[string]content.Store{}
			}
			opt.OCIStores[id] = store
			continue
		}
		if isRemoteContext(dir) {
			continue
		}
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			if err == nil {
				err = fmt.Errorf("%s is not a directory", dir)
			}
			return nil, fmt.Errorf("build context %s: %w", name, err)
		}
		nfs, err := fsutil.NewFS(dir)
		if err != nil {
			return nil, fmt.Errorf("build context %s: %w", name, err)
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, fmt.Errorf("build context %s: %w", name, err)
		}
		opt.LocalMounts[name] = guardedFS{FS: nfs, dir: abs}
	}

	steps := newStepLog()
	statusCh := make(chan *client.SolveStatus)
	displayCh := make(chan *client.SolveStatus)
	stop := make(chan struct{})
	displayDone := make(chan struct{})
	var stopOnce sync.Once
	stopDisplay := func() {
		stopOnce.Do(func() { close(stop) })
		<-displayDone
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
			return then(ctx, gw, r, contextID, stopDisplay)
		}, statusCh)
		return err
	})
	eg.Go(func() error {
		// Every status reaches the step log and OnStatus; the display gets
		// them until it is stopped.
		out, stopped := displayCh, stop
		defer func() {
			if out != nil {
				close(out)
			}
		}()
		for {
			select {
			case st, ok := <-statusCh:
				if !ok {
					return nil
				}
				steps.update(st)
				if o.OnStatus != nil {
					o.OnStatus(st)
				}
				if out != nil {
					select {
					case out <- st:
					case <-stopped:
						close(out)
						out = nil
					}
				}
			case <-stopped:
				if out != nil {
					close(out)
					out = nil
				}
				stopped = nil // a nil channel never fires again
			}
		}
	})
	eg.Go(func() error {
		defer close(displayDone)
		// The display must drain the channel even when the build fails, and
		// its own error (a closed terminal) must not hide the build's.
		warnings, _ := display.UpdateFrom(context.WithoutCancel(egctx), displayCh)
		if mode != string(progressui.QuietMode) && mode != string(progressui.RawJSONMode) {
			printWarnings(progressOut, warnings)
		}
		return nil
	})
	if err := eg.Wait(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("build canceled: %w", ctx.Err())
		}
		explained := steps.explain(err)
		var stepErr *StepError
		if !errors.As(explained, &stepErr) && lostConnection(err) {
			return nil, &ConnectionLostError{Addr: c.addr, Err: err}
		}
		return nil, explained
	}
	return resp, nil
}

// printWarnings lists the build's warnings after the progress display, as
// buildx does: the display itself does not print them.
func printWarnings(w io.Writer, warnings []client.VertexWarning) {
	if len(warnings) == 0 {
		return
	}
	plural := "s"
	if len(warnings) == 1 {
		plural = ""
	}
	fmt.Fprintf(w, "%d warning%s found:\n", len(warnings), plural)
	for _, wn := range warnings {
		line := " - " + strings.TrimSpace(string(wn.Short))
		if wn.SourceInfo != nil && len(wn.Range) > 0 {
			line += fmt.Sprintf(" (%s:%d)", wn.SourceInfo.Filename, wn.Range[0].Start.Line)
		}
		fmt.Fprintln(w, line)
		for _, d := range wn.Detail {
			fmt.Fprintln(w, "   "+strings.TrimSpace(string(d)))
		}
		if wn.URL != "" {
			fmt.Fprintln(w, "   more: "+wn.URL)
		}
	}
}

// ConnectionLostError is a build that failed because the daemon went away:
// it stopped, crashed or the network between broke.
type ConnectionLostError struct {
	Addr string
	Err  error
}

func (e *ConnectionLostError) Error() string {
	return fmt.Sprintf("lost the connection to BuildKit at %s during the build (did the daemon stop?): %s", e.Addr, shortErr(e.Err))
}

func (e *ConnectionLostError) Unwrap() error { return e.Err }

// lostConnection reports an error that means the daemon is gone.
func lostConnection(err error) bool {
	if grpcerrors.Code(err) == codes.Unavailable {
		return true
	}
	s := err.Error()
	for _, sign := range []string{"error reading from server", "connection reset by peer", "transport is closing", "broken pipe"} {
		if strings.Contains(s, sign) {
			return true
		}
	}
	return false
}

// solveOpt is the session-level part of a build: exports, cache backends,
// attachables and entitlements.
func (o BuildOptions) solveOpt(entries []client.ExportEntry) client.SolveOpt {
	return client.SolveOpt{
		// Never nil: client.solve copies the cache imports into a clone of
		// it, and a clone of nil is nil (a panic in BuildKit v0.34.2).
		FrontendAttrs:       map[string]string{},
		Exports:             entries,
		CacheExports:        o.CacheExports,
		CacheImports:        o.CacheImports,
		Session:             append([]session.Attachable{registryAuth()}, o.Session...),
		AllowedEntitlements: o.Allow,
	}
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
// every op to ignore the cache, as the Dockerfile frontend does; op
// metadata changes no digest.
func (o BuildOptions) request(def *llb.Definition) gwclient.SolveRequest {
	pbDef := def.ToPB()
	if o.NoCache {
		for _, dt := range pbDef.Def {
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

// stepLog remembers each vertex's name, error and last lines of output, to
// explain a failed build in one message.
type stepLog struct {
	mu    sync.Mutex
	names map[digest.Digest]string
	errs  map[digest.Digest]string
	order []digest.Digest
	tails map[digest.Digest][]string
}

const tailLines = 15

func newStepLog() *stepLog {
	return &stepLog{
		names: map[digest.Digest]string{},
		errs:  map[digest.Digest]string{},
		tails: map[digest.Digest][]string{},
	}
}

func (l *stepLog) update(st *client.SolveStatus) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, v := range st.Vertexes {
		if _, ok := l.names[v.Digest]; !ok {
			l.order = append(l.order, v.Digest)
		}
		l.names[v.Digest] = v.Name
		if v.Error != "" {
			l.errs[v.Digest] = v.Error
		}
	}
	for _, lg := range st.Logs {
		lines := strings.Split(strings.TrimRight(string(lg.Data), "\n"), "\n")
		t := append(l.tails[lg.Vertex], lines...)
		if len(t) > tailLines {
			t = t[len(t)-tailLines:]
		}
		l.tails[lg.Vertex] = t
	}
}

// explain wraps a solve error with the failing step and its output tail.
func (l *stepLog) explain(err error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, d := range l.order {
		msg, failed := l.errs[d]
		if !failed || strings.Contains(msg, "context canceled") {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "step %s failed: %s", l.names[d], msg)
		if t := l.tails[d]; len(t) > 0 {
			b.WriteString("\n  last lines of its output:")
			for _, line := range t {
				b.WriteString("\n    " + line)
			}
		}
		return &StepError{Step: l.names[d], Msg: b.String(), Err: err}
	}
	return err
}

// StepError is a build that failed in one step.
type StepError struct {
	Step string
	Msg  string
	Err  error
}

func (e *StepError) Error() string { return e.Msg }
func (e *StepError) Unwrap() error { return e.Err }

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
