package cli

// Build records and prog explain: every build keeps a record (package
// internal/explain) under the user's cache directory; explain compares the
// last one with the one before.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	"google.golang.org/protobuf/proto"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/internal/cmdutil"
	"github.com/slipway-build/slipway/internal/explain"
)

// explainOptions are the flags of explain and plan, and build's cache gate.
type explainOptions struct {
	format string
	all    bool
	gate   gateFlag
	record bool
}

func (o *explainOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.format, "format", "text", "the format of explain, plan and list: text or json")
	fs.BoolVar(&o.all, "all-steps", false, "explain and plan: list the cached steps too")
	fs.Var(&o.gate, "fail-on-cache-miss", "build: fail before any step runs if the plan says a step would run; =after fails after the solve if any step ran")
	fs.BoolVar(&o.record, "record", true, "build: keep a record of the build for explain and plan (=false: none, and no context hashing)")
}

// gateFlag is --fail-on-cache-miss: off, before (the flag alone) or after.
type gateFlag string

func (g *gateFlag) String() string { return string(*g) }

// IsBoolFlag lets the flag stand alone.
func (g *gateFlag) IsBoolFlag() bool { return true }

func (g *gateFlag) Set(v string) error {
	switch v {
	case "true", "before":
		*g = "before"
	case "false", "":
		*g = ""
	case "after":
		*g = "after"
	default:
		return fmt.Errorf("want before or after, not %q", v)
	}
	return nil
}

// store is the record directory of this program and --target, or of the
// Program's target.
func (inv *invocation) store() (*explain.Store, error) {
	key := inv.opts.target
	if inv.recordKey != "" {
		key = inv.recordKey
	}
	s, err := explain.DefaultStore(programName(), key)
	if err != nil {
		return nil, err
	}
	s.Warn = func(format string, args ...any) { fmt.Fprintf(inv.stderr, "warning: "+format+"\n", args...) }
	return s, nil
}

// statCache is the program's stat cache, beside its records.
func (inv *invocation) statCache(s *explain.Store) *explain.StatCache {
	return explain.LoadStatCache(inv.statCachePath(s))
}

// statCachePath is where the program's stat cache is kept.
func (inv *invocation) statCachePath(s *explain.Store) string {
	return filepath.Join(filepath.Dir(s.Dir), "statcache.json")
}

// recorder collects the solve's status for the build's record, keeps
// the file sync's walks of the contexts (so the record lists the files the
// daemon got without walking them again), and makes the record while the
// daemon solves, as soon as the file sync has walked.
type recorder struct {
	mu       sync.Mutex
	vertexes map[string]*client.Vertex
	walks    *explain.Walks
	solved   chan struct{} // closed when the solve has ended
	end      sync.Once
	pre      chan *prehashed // the record made during the solve, once compiled
}

// prehashed is the record of the compiled build, made during the solve.
type prehashed struct {
	res    *dsl.Result
	cache  *explain.StatCache
	rec    *explain.Record
	solved map[digest.Digest]digest.Digest
	kept   int // the walks kept when it was made
	err    error
}

// prehash makes so's build keep its walks and, once it is compiled, load
// the stat cache and make its record beside the solve, which spends its
// time waiting on the daemon: when the file sync has walked every context
// the build reads (or the solve has ended). Targets built together share
// walks (and their session): nil gives the build walks of its own.
func (r *recorder) prehash(ctx context.Context, inv *invocation, so *driver.BuildOptions, walks *explain.Walks) {
	if !inv.opts.explain.record {
		return
	}
	if walks == nil {
		walks = &explain.Walks{}
	}
	r.walks = walks
	so.WrapContext = walks.Wrap
	r.solved = make(chan struct{})
	opts := *so
	var once sync.Once
	so.OnCompiled = func(res *dsl.Result) {
		once.Do(func() {
			pre := make(chan *prehashed, 1)
			r.mu.Lock()
			r.pre = pre
			r.mu.Unlock()
			go func() {
				p := &prehashed{res: res}
				defer func() { pre <- p }()
				s, err := inv.store()
				if err != nil {
					p.err = err
					return
				}
				p.cache = inv.statCache(s)
				r.waitWalks(ctx, res, opts)
				p.kept, _ = walks.Kept()
				p.rec, p.solved, p.err = inv.newRecord(ctx, res, opts, p.cache, walks)
			}()
		})
	}
}

// waitWalks waits until the file sync has walked every local directory res
// reads, or the solve has ended.
func (r *recorder) waitWalks(ctx context.Context, res *dsl.Result, so driver.BuildOptions) {
	var names []string
	for _, dt := range res.Definition.Def {
		var op pb.Op
		if op.UnmarshalVT(dt) != nil {
			return
		}
		if n, ok := strings.CutPrefix(op.GetSource().GetIdentifier(), "local://"); ok && so.LocalContextDir(n) != "" {
			names = append(names, n)
		}
	}
	for {
		_, changed := r.walks.Kept()
		if !slices.ContainsFunc(names, func(n string) bool { return !r.walks.Walked(n) }) {
			return
		}
		select {
		case <-changed:
		case <-r.solved:
			return
		case <-ctx.Done():
			return
		}
	}
}

// prepared ends the solve for prehash and waits for its record, if the
// build got that far; nil when none was started.
func (r *recorder) prepared() *prehashed {
	if r.solved == nil {
		return nil
	}
	r.end.Do(func() { close(r.solved) })
	r.mu.Lock()
	pre := r.pre
	r.pre = nil
	r.mu.Unlock()
	if pre == nil {
		return nil
	}
	return <-pre
}

// watch makes so's status updates reach the recorder too.
func (r *recorder) watch(so *driver.BuildOptions) {
	r.vertexes = map[string]*client.Vertex{}
	next := so.OnStatus
	so.OnStatus = func(st *client.SolveStatus) {
		r.mu.Lock()
		for _, v := range st.Vertexes {
			c := *v
			r.vertexes[v.Digest.String()] = &c
		}
		r.mu.Unlock()
		if next != nil {
			next(st)
		}
	}
}

// steps are the vertexes as a record keeps them.
func (r *recorder) steps() map[string]*explain.StepResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]*explain.StepResult{}
	for d, v := range r.vertexes {
		s := &explain.StepResult{Name: v.Name, Cached: v.Cached, Error: v.Error, Finished: v.Completed != nil}
		if v.Started != nil && v.Completed != nil {
			s.Seconds = v.Completed.Sub(*v.Started).Seconds()
		}
		out[d] = s
	}
	return out
}

// newRecord is the record of a compiled build, its contexts hashed as the
// build sends them (read from walks, the file sync's, where they serve). The definition is kept without the session of its
// local sources (explain.WithoutSessions); solved maps the digests it
// changed back to those the solve reports.
func (inv *invocation) newRecord(ctx context.Context, res *dsl.Result, so driver.BuildOptions, cache *explain.StatCache, walks *explain.Walks) (r *explain.Record, solved map[digest.Digest]digest.Digest, err error) {
	contextID, err := so.ContextID()
	if err != nil {
		return nil, nil, err
	}
	def, solved, err := explain.WithoutSessions(res.Definition.ToPB(), contextID)
	if err != nil {
		return nil, nil, err
	}
	dt, err := proto.MarshalOptions{Deterministic: true}.Marshal(def)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding the definition: %w", err)
	}
	r = &explain.Record{Definition: dt, BuildArgs: inv.buildArgs, Platform: inv.opts.platform, NoCache: so.NoCache}
	if inv.platform != nil {
		r.Platform = platforms.Format(*inv.platform)
	}
	g, err := r.Graph()
	if err != nil {
		return nil, nil, err
	}
	for _, s := range g.Steps {
		name := s.LocalName()
		if name == "" {
			continue
		}
		src := s.Op.GetSource()
		dir := so.LocalContextDir(name)
		if dir == "" {
			continue
		}
		files, err := explain.HashContext(ctx, dir, src, cache, walks)
		if err != nil {
			return nil, nil, err
		}
		if r.Contexts == nil {
			r.Contexts = map[string]*explain.Context{}
		}
		abs, _ := filepath.Abs(dir)
		r.Contexts[name] = &explain.Context{Dir: abs, Files: files}
	}
	return r, solved, nil
}

// saveRecord keeps the record of a build, finished or failed (buildErr),
// one per platform it built: every record of one build has its time. It
// never fails the build: a record that cannot be written is a warning. It
// returns the record of the first platform, nil when none was kept.
func (inv *invocation) saveRecord(ctx context.Context, res *driver.Result, buildErr error, so driver.BuildOptions, rec *recorder) *explain.Record {
	if !inv.opts.explain.record || res == nil || res.Compiled == nil || res.Compiled.Definition == nil {
		return nil
	}
	warn := func(err error) { fmt.Fprintf(inv.stderr, "warning: keeping the build record: %v\n", err) }
	s, err := inv.store()
	if err != nil {
		warn(err)
		return nil
	}
	pre := rec.prepared()
	var cache *explain.StatCache
	if pre != nil && pre.cache != nil {
		cache = pre.cache
	} else {
		cache = inv.statCache(s)
	}
	builds := []*dsl.Result{res.Compiled}
	plats := []string{""}
	if len(res.PerPlatform) > 1 {
		builds, plats = nil, nil
		for _, p := range inv.platforms {
			if r := res.PerPlatform[platforms.Format(p)]; r != nil && r.Definition != nil {
				builds, plats = append(builds, r), append(plats, platforms.Format(p))
			}
		}
	}
	steps := rec.steps()
	now := time.Now()
	var first *explain.Record
	for i, b := range builds {
		var r *explain.Record
		var solved map[digest.Digest]digest.Digest
		if kept, _ := rec.walks.Kept(); pre != nil && pre.res == b && pre.kept == kept {
			r, solved, err = pre.rec, pre.solved, pre.err
		} else { // made before the file sync walked, or not at all
			r, solved, err = inv.newRecord(ctx, b, so, cache, rec.walks)
		}
		if err != nil {
			warn(err)
			return first
		}
		if plats[i] != "" {
			r.Platform = plats[i]
		}
		r.Time = now
		if buildErr != nil {
			r.Error = buildErr.Error()
		}
		// The solve's status covers every platform: each record keeps
		// its own definition's vertexes.
		g, err := r.Graph()
		if err != nil {
			warn(err)
			return first
		}
		r.Steps = map[string]*explain.StepResult{}
		for d := range g.ByDigest {
			st := steps[d.String()]
			if o, ok := solved[d]; ok {
				st = steps[o.String()]
			}
			if st != nil {
				r.Steps[d.String()] = st
			}
		}
		if err := s.Save(r); err != nil {
			warn(err)
		}
		if first == nil {
			first = r
		}
	}
	if err := cache.Save(); err != nil {
		warn(err)
	}
	return first
}

// runExplain explains the last build against the one before it.
func runExplain(ctx context.Context, inv *invocation) error {
	s, err := inv.store()
	if err != nil {
		return err
	}
	records, err := s.Load()
	if err != nil {
		return err
	}
	if len(records) == 0 {
		return errors.New("explaining the last build: no build of this program is recorded yet")
	}
	var lines []explain.Line
	latest := explain.Latest(records)
	for _, cur := range latest {
		l, err := explain.Explain(explain.History(records, cur), cur)
		if err != nil {
			return fmt.Errorf("explaining the last build: %w", err)
		}
		if len(latest) > 1 {
			for i := range l {
				l[i].Platform = cur.Platform
			}
		}
		lines = append(lines, l...)
	}
	if err := explain.Write(inv.stdout, lines, inv.opts.explain.format, inv.opts.explain.all); err != nil {
		return cmdutil.Usagef("--format: %v", err)
	}
	if cur := latest[0]; cur.Error != "" && inv.opts.explain.format != "json" {
		fmt.Fprintf(inv.stdout, "the build failed: %s\n", firstLine(cur.Error))
	}
	return nil
}

// firstLine is s up to its first newline.
func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
