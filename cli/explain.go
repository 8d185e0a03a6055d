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
	"sync"

	"github.com/moby/buildkit/client"
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
}

func (o *explainOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.format, "format", "text", "the format of explain, plan and list: text or json")
	fs.BoolVar(&o.all, "all-steps", false, "explain and plan: list the cached steps too")
	fs.Var(&o.gate, "fail-on-cache-miss", "build: fail before any step runs if the plan says a step would run; =after fails after the solve if any step ran")
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

// store is the record directory of this program and --target.
func (inv *invocation) store() (*explain.Store, error) {
	s, err := explain.DefaultStore(programName(), inv.opts.target)
	if err != nil {
		return nil, err
	}
	s.Warn = func(format string, args ...any) { fmt.Fprintf(inv.stderr, "warning: "+format+"\n", args...) }
	return s, nil
}

// statCache is the program's stat cache, beside its records.
func (inv *invocation) statCache(s *explain.Store) *explain.StatCache {
	return explain.LoadStatCache(filepath.Join(filepath.Dir(s.Dir), "statcache.json"))
}

// recorder collects the solve's status for the build's record.
type recorder struct {
	mu       sync.Mutex
	vertexes map[string]*client.Vertex
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
// build sends them.
func (inv *invocation) newRecord(ctx context.Context, res *dsl.Result, so driver.BuildOptions, cache *explain.StatCache) (*explain.Record, error) {
	dt, err := proto.MarshalOptions{Deterministic: true}.Marshal(res.Definition.ToPB())
	if err != nil {
		return nil, fmt.Errorf("encoding the definition: %w", err)
	}
	r := &explain.Record{Definition: dt, BuildArgs: inv.buildArgs, Platform: inv.opts.platform, NoCache: so.NoCache}
	g, err := r.Graph()
	if err != nil {
		return nil, err
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
		files, err := explain.HashContext(ctx, dir, src, cache)
		if err != nil {
			return nil, err
		}
		if r.Contexts == nil {
			r.Contexts = map[string]*explain.Context{}
		}
		abs, _ := filepath.Abs(dir)
		r.Contexts[name] = &explain.Context{Dir: abs, Files: files}
	}
	return r, nil
}

// saveRecord keeps the record of a finished build. It never fails the
// build: a record that cannot be written is a warning.
func (inv *invocation) saveRecord(ctx context.Context, res *driver.Result, so driver.BuildOptions, rec *recorder) *explain.Record {
	if res == nil || res.Compiled == nil || res.Compiled.Definition == nil {
		return nil
	}
	warn := func(err error) { fmt.Fprintf(inv.stderr, "warning: keeping the build record: %v\n", err) }
	s, err := inv.store()
	if err != nil {
		warn(err)
		return nil
	}
	cache := inv.statCache(s)
	r, err := inv.newRecord(ctx, res.Compiled, so, cache)
	if err != nil {
		warn(err)
		return nil
	}
	r.Steps = rec.steps()
	if err := s.Save(r); err != nil {
		warn(err)
	}
	if err := cache.Save(); err != nil {
		warn(err)
	}
	return r
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
	lines, err := explain.Explain(records[:len(records)-1], records[len(records)-1])
	if err != nil {
		return fmt.Errorf("explaining the last build: %w", err)
	}
	if err := explain.Write(inv.stdout, lines, inv.opts.explain.format, inv.opts.explain.all); err != nil {
		return cmdutil.Usagef("--format: %v", err)
	}
	return nil
}
