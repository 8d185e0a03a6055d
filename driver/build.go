package driver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	gwclient "github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/util/progress/progressui"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/slipway-build/slipway/dsl"
)

// BuildOptions configure one build.
type BuildOptions struct {
	// Outputs are the exports; none means the result stays in the
	// daemon's cache only.
	Outputs []Output
	// Platform is the target platform; nil means the daemon's.
	Platform *ocispecs.Platform
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
	// Compiled is the build as it was solved.
	Compiled *dsl.Result
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
		e, err := out.prepare()
		if err != nil {
			return nil, err
		}
		exports = append(exports, e)
		entries = append(entries, e.entry)
	}
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

	var compiled *dsl.Result
	steps := newStepLog()
	statusCh := make(chan *client.SolveStatus)
	displayCh := make(chan *client.SolveStatus)
	var resp *client.SolveResponse
	eg, egctx := errgroup.WithContext(ctx)
	eg.Go(func() error {
		var err error
		resp, err = c.bk.Build(egctx, client.SolveOpt{Exports: entries}, "", func(ctx context.Context, gw gwclient.Client) (*gwclient.Result, error) {
			opts := []dsl.CompileOption{dsl.WithResolver(o.Resolver.wrap(gw))}
			if o.Platform != nil {
				opts = append(opts, dsl.WithPlatform(*o.Platform))
			}
			r, err := dsl.Compile(ctx, s, opts...)
			if err != nil {
				return nil, err
			}
			compiled = r
			return solve(ctx, gw, r)
		}, statusCh)
		return err
	})
	eg.Go(func() error {
		defer close(displayCh)
		for st := range statusCh {
			steps.update(st)
			if o.OnStatus != nil {
				o.OnStatus(st)
			}
			displayCh <- st
		}
		return nil
	})
	eg.Go(func() error {
		// The display must drain the channel even when the build fails, and
		// its own error (a closed terminal) must not hide the build's.
		_, _ = display.UpdateFrom(context.WithoutCancel(egctx), displayCh)
		return nil
	})
	if err := eg.Wait(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("build canceled: %w", ctx.Err())
		}
		return nil, steps.explain(err)
	}
	for _, e := range exports {
		if err := e.commit(); err != nil {
			return nil, fmt.Errorf("writing %s: %w", e.dest, err)
		}
	}
	exports = nil
	return &Result{Compiled: compiled, ExporterResponse: resp.ExporterResponse}, nil
}

// solve runs the compiled definition in the gateway and hands the result and
// its image config to the exporters.
func solve(ctx context.Context, gw gwclient.Client, r *dsl.Result) (*gwclient.Result, error) {
	cfg, err := json.Marshal(r.Image)
	if err != nil {
		return nil, fmt.Errorf("encoding image config: %w", err)
	}
	res := gwclient.NewResult()
	if len(r.Definition.Def) > 0 {
		sres, err := gw.Solve(ctx, gwclient.SolveRequest{Definition: r.Definition.ToPB(), Evaluate: true})
		if err != nil {
			return nil, err
		}
		ref, err := sres.SingleRef()
		if err != nil {
			return nil, err
		}
		res.SetRef(ref)
	} else {
		res.SetRef(nil) // FROM scratch with no file changes: an empty image
	}
	res.AddMeta(exptypes.ExporterImageConfigKey, cfg)
	return res, nil
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
		r, err := dsl.Compile(ctx, s, append([]dsl.CompileOption{dsl.WithResolver(w.wrap(gw))}, opts...)...)
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
