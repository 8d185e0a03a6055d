package cli

// prog plan and the cache gate: which steps a build will run, and why,
// before anything is solved.

import (
	"context"
	"fmt"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/internal/cmdutil"
	"github.com/slipway-build/slipway/internal/explain"
	"github.com/slipway-build/slipway/internal/frontend"
)

// runPlan compiles the build as build would, hashes its contexts, and
// prints which steps will run. With --lock no daemon is needed.
func runPlan(ctx context.Context, inv *invocation) error {
	so, err := inv.buildOptions()
	if err != nil {
		return err
	}
	so.Platforms = inv.platforms
	var c *driver.Client
	if !inv.opts.llb.lock.offline() || inv.opts.addr != "" {
		if c, err = connect(ctx, inv); err != nil {
			return err
		}
		defer c.Close()
	}
	lines, err := inv.plan(ctx, c, so)
	if err != nil {
		return err
	}
	if err := explain.Write(inv.stdout, lines, inv.opts.explain.format, inv.opts.explain.all); err != nil {
		return cmdutil.Usagef("--format: %v", err)
	}
	return nil
}

// plan compiles the build (offline with a lock file, else on c) and
// compares it with the recorded builds.
func (inv *invocation) plan(ctx context.Context, c *driver.Client, so driver.BuildOptions) ([]explain.Line, error) {
	opts, err := so.OfflineCompileOptions()
	if err != nil {
		return nil, err
	}
	lock := &inv.opts.llb.lock
	if err := lock.check(); err != nil {
		return nil, err
	}
	s, err := inv.store()
	if err != nil {
		return nil, err
	}
	// The records and the stat cache are read while the build compiles
	// and its context is walked.
	type loaded struct {
		history []*explain.Record
		err     error
	}
	records := make(chan loaded, 1)
	go func() {
		h, err := s.Load()
		explain.Prefetch(h)
		records <- loaded{h, err}
	}()
	cache := explain.LoadStatCacheAsync(inv.statCachePath(s))
	var res *dsl.Result
	if lock.offline() {
		r, err := lock.resolver(nil)
		if err != nil {
			return nil, err
		}
		res, err = dsl.Compile(ctx, inv.stage(), append(opts, dsl.WithResolver(r), dsl.WithCaps(frontend.AllCaps()))...)
		if err != nil {
			return nil, err
		}
	} else if res, err = c.Compile(ctx, inv.stage(), lock.wrapper(), opts...); err != nil {
		return nil, err
	}
	cur, _, err := inv.newRecord(ctx, res, so, cache, nil)
	if err != nil {
		return nil, err
	}
	if err := cache.Save(); err != nil {
		fmt.Fprintf(inv.stderr, "warning: %v\n", err)
	}
	l := <-records
	if l.err != nil {
		return nil, l.err
	}
	history := l.history
	lines, err := explain.Plan(explain.History(history, cur), cur)
	if err != nil {
		return nil, err
	}
	if c != nil && len(history) > 0 {
		// A daemon at hand says whether it still has anything at all.
		if n, err := c.CachedResults(ctx); err == nil && n == 0 {
			explain.Emptied(lines)
		}
	}
	return lines, nil
}

// gateBefore is --fail-on-cache-miss: the build fails, before anything is
// solved, if the plan says a step would run.
func (inv *invocation) gateBefore(ctx context.Context, c *driver.Client, so driver.BuildOptions) error {
	if inv.opts.explain.gate != "before" {
		return nil
	}
	lines, err := inv.plan(ctx, c, so)
	if err != nil {
		return fmt.Errorf("--fail-on-cache-miss: planning the build: %w", err)
	}
	if l := explain.FirstRun(lines); l != nil {
		return fmt.Errorf("--fail-on-cache-miss: %s would run: %s", label(l), l.Reason)
	}
	return nil
}

// gateAfter is --fail-on-cache-miss=after: the build fails if the solve
// ran a step, however the daemon came to miss it.
func (inv *invocation) gateAfter(rec *explain.Record) error {
	if inv.opts.explain.gate != "after" || rec == nil {
		return nil
	}
	g, err := rec.Graph()
	if err != nil {
		return err
	}
	for _, s := range g.Steps {
		if s.Op.GetSource() != nil {
			continue // sources never report cached
		}
		if r := rec.Steps[s.Digest.String()]; r != nil && !r.Cached {
			reason := ""
			if lines, err := inv.explainRecord(rec); err == nil {
				for _, l := range lines {
					if l.Digest == s.Digest.String() && l.Reason != "" {
						reason = ": " + l.Reason
					}
				}
			}
			return fmt.Errorf("--fail-on-cache-miss=after: %s ran%s", s.Label(), reason)
		}
	}
	return nil
}

// explainRecord explains rec, the newest record, against those before it.
func (inv *invocation) explainRecord(rec *explain.Record) ([]explain.Line, error) {
	s, err := inv.store()
	if err != nil {
		return nil, err
	}
	records, err := s.Load()
	if err != nil || len(records) < 2 {
		return nil, fmt.Errorf("no earlier build")
	}
	return explain.Explain(explain.History(records, rec), rec)
}

func label(l *explain.Line) string {
	if l.Location != "" {
		return l.Step + " (" + l.Location + ")"
	}
	return l.Step
}
