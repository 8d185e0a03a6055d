package driver

// Several builds solved together: one connection, one session for the
// build contexts they read, one progress display, every failure reported.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/filesync"
	"github.com/moby/buildkit/util/progress/progressui"
	"github.com/tonistiigi/fsutil"
	fstypes "github.com/tonistiigi/fsutil/types"

	"github.com/slipway-build/slipway/dsl"
)

// Target is one build of several that BuildTargets solves together: a
// name (it prefixes the target's steps in the progress display and its
// errors), the stage and its options. Options.Progress and ProgressOut
// are ignored: TargetsOptions has the shared display. Options.OnStatus
// sees the target's own updates, unprefixed (a target's build record).
type Target struct {
	Name    string
	Stage   dsl.Stage
	Options BuildOptions
}

// TargetsOptions configure a build of several targets as a whole.
type TargetsOptions struct {
	// FailFast cancels the other targets when one fails, and then writes
	// no target's output file. Without it, the other targets finish and
	// export, and every failure is reported.
	FailFast bool
	// Progress and ProgressOut are the one display all targets share;
	// every step's name starts with "[TARGET] ", as bake shows them.
	Progress    progressui.DisplayMode
	ProgressOut io.Writer
	// OnStatus, if set, sees every status update, with the names prefixed.
	OnStatus func(*client.SolveStatus)
}

// TargetResult is how one target of BuildTargets ended: its result, or
// its error (with, as Build returns it, the part of the result that says
// what was solved, when the stage compiled).
type TargetResult struct {
	Name   string
	Result *Result
	Err    error
}

// TargetError is the failure of one target of several.
type TargetError struct {
	Target string
	Err    error
}

func (e *TargetError) Error() string { return "target " + e.Target + ": " + e.Err.Error() }
func (e *TargetError) Unwrap() error { return e.Err }

// errCanceledByFailFast is the error of a target that another target's
// failure canceled.
var errCanceledByFailFast = errors.New("canceled: another target failed (--fail-fast)")

// BuildTargets solves all targets concurrently over this connection. The
// build context and the named directory contexts are read from one
// session that all targets share, so a context is sent once and the steps
// the targets have in common are the same ops, which the daemon runs once.
// Each target exports where its Outputs say. The results come in the
// targets' order; the error joins a *TargetError per failed target. Each
// target may have its own ContextDir (the session serves every directory
// once, however many targets read it); all must have the same Contexts.
func (c *Client) BuildTargets(ctx context.Context, targets []Target, o TargetsOptions) ([]TargetResult, error) {
	if len(targets) == 0 {
		return nil, errors.New("building targets: no target given")
	}
	for _, t := range targets[1:] {
		if !maps.Equal(t.Options.Contexts, targets[0].Options.Contexts) {
			return nil, fmt.Errorf("targets %s and %s use different named build contexts: targets built together share theirs", targets[0].Name, t.Name)
		}
	}
	shared, err := c.contextSession(ctx, targets)
	if err != nil {
		return nil, err
	}
	defer shared.close()

	g, err := newTargetGroup(o)
	if err != nil {
		return nil, err
	}
	var warnings []client.VertexWarning
	go g.forward()
	go func() {
		defer close(g.displayDone)
		// The display drains the channel whatever happens to the build.
		warnings, _ = g.display.UpdateFrom(context.WithoutCancel(ctx), g.toDisplay)
		for range g.toDisplay { // a display that stopped early must not block a target
		}
	}()

	tc := newTargetContexts(ctx, len(targets))
	defer tc.cancelAll()
	results := make([]TargetResult, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		results[i].Name = t.Name
		to := t.Options
		to.Compile = append(append([]dsl.CompileOption{}, to.Compile...), dsl.WithContextSession(shared.id), dsl.WithContextName(shared.names[i]))
		to.Progress, to.ProgressOut = progressui.QuietMode, io.Discard
		to.member = &groupMember{group: g, name: t.Name, contextName: shared.names[i]}
		to.OnError = g.onError(to.OnError, tc, i, t.Name)
		wg.Go(func() {
			res, err := c.Build(tc.ctxs[i], t.Stage, to)
			if err != nil {
				if o.FailFast && !tc.failedFirst(i) && tc.ctxs[i].Err() != nil && ctx.Err() == nil {
					err = errCanceledByFailFast
				}
				results[i].Result = res // what compiled, if anything: Build
				results[i].Err = &TargetError{Target: t.Name, Err: err}
				return
			}
			results[i].Result = res
		})
	}
	wg.Wait()
	close(g.statuses)
	<-g.displayDone
	if o.Progress != progressui.QuietMode && o.Progress != progressui.RawJSONMode {
		printWarnings(g.out, warnings)
	}
	return results, g.finish(results)
}

// groupMember ties one target's build to the group it is built in.
type groupMember struct {
	group *targetGroup
	name  string
	// contextName is the target's build context's name in the shared
	// session.
	contextName string
}

// targetGroup is the state the targets of one BuildTargets share.
type targetGroup struct {
	display  progressui.Display
	out      io.Writer
	onStatus func(*client.SolveStatus)
	// statuses are the targets' updates; forward hands them on to
	// toDisplay until stop is closed (a debug process takes the terminal).
	statuses, toDisplay chan *client.SolveStatus
	stop                chan struct{}
	stopOnce            sync.Once
	displayDone         chan struct{}
	// shellClaimed is set by the first target whose failed step opens
	// --on-error's process.
	shellClaimed atomic.Bool
	failFast     bool
	// held are the output files of finished targets under --fail-fast,
	// written only when every target succeeded.
	mu   sync.Mutex
	held []*export
}

func newTargetGroup(o TargetsOptions) (*targetGroup, error) {
	display, out, _, err := openDisplay(o.ProgressOut, o.Progress)
	if err != nil {
		return nil, err
	}
	return &targetGroup{
		display: display, out: out, onStatus: o.OnStatus,
		statuses: make(chan *client.SolveStatus), toDisplay: make(chan *client.SolveStatus),
		stop: make(chan struct{}), displayDone: make(chan struct{}),
		failFast: o.FailFast,
	}, nil
}

// forward hands the targets' updates to the display until it is stopped,
// then drops them, until every target is done and statuses is closed.
func (g *targetGroup) forward() {
	out := g.toDisplay
	defer func() {
		if out != nil {
			close(out)
		}
	}()
	// The stop is awaited while no status comes too: a target whose step
	// failed sends none while its --on-error process waits for the display.
	for out != nil {
		select {
		case st, ok := <-g.statuses:
			if !ok {
				return
			}
			select {
			case out <- st:
			case <-g.stop:
				close(out)
				out = nil
			}
		case <-g.stop:
			close(out)
			out = nil
		}
	}
	for range g.statuses { // unseen, so that no target blocks on its sends
	}
}

// stopDisplay ends the shared display and waits for it to flush, for the
// process --on-error opens in a failed step of one target: the other
// targets go on building, unseen, and their ends are reported after.
func (g *targetGroup) stopDisplay() {
	g.stopOnce.Do(func() { close(g.stop) })
	<-g.displayDone
}

// onError is target i's --on-error process, if it asked for one. One
// process at a time can have the terminal: the first failed step opens
// it, the other failures are only reported. Under --fail-fast that step's
// failure is the first, which cancels the other targets and not this one.
func (g *targetGroup) onError(sh *DebugShell, tc *targetContexts, i int, name string) *DebugShell {
	if sh == nil {
		return nil
	}
	own := *sh
	own.target = name
	own.claim = func() bool {
		if !g.shellClaimed.CompareAndSwap(false, true) {
			return false
		}
		if g.failFast {
			tc.failedFirst(i)
		}
		return true
	}
	return &own
}

// targetContexts are the contexts the targets are built in, one each, so
// that --fail-fast cancels every target but the one that failed first,
// which may be holding a debug process open.
type targetContexts struct {
	ctxs    []context.Context
	cancels []context.CancelFunc
	once    sync.Once
}

func newTargetContexts(ctx context.Context, n int) *targetContexts {
	tc := &targetContexts{ctxs: make([]context.Context, n), cancels: make([]context.CancelFunc, n)}
	for i := range n {
		tc.ctxs[i], tc.cancels[i] = context.WithCancel(ctx)
	}
	return tc
}

// failedFirst reports whether target i is the first to fail, and then
// cancels the others.
func (tc *targetContexts) failedFirst(i int) (first bool) {
	tc.once.Do(func() {
		first = true
		for j, cancel := range tc.cancels {
			if j != i {
				cancel()
			}
		}
	})
	return first
}

func (tc *targetContexts) cancelAll() {
	for _, cancel := range tc.cancels {
		cancel()
	}
}

// relay hands one target's updates to the shared display, each step's
// name prefixed with the target's, until the target's solve ends.
func (m *groupMember) relay(p *progress) {
	defer close(p.displayDone)
	prefix := "[" + m.name + "] "
	for st := range p.toDisplay {
		named := *st
		named.Vertexes = make([]*client.Vertex, len(st.Vertexes))
		for i, v := range st.Vertexes {
			nv := *v
			nv.Name = prefix + v.Name
			named.Vertexes[i] = &nv
		}
		if m.group.onStatus != nil {
			m.group.onStatus(&named)
		}
		m.group.statuses <- &named
	}
}

// keep decides what becomes of a finished target's output files: under
// --fail-fast they wait for the other targets (keep reports true and takes
// them); otherwise they are written now.
func (m *groupMember) keep(exports []*export) bool {
	g := m.group
	if !g.failFast {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.held = append(g.held, exports...)
	return true
}

// finish writes the held output files when every target succeeded, or
// removes them, and joins the targets' errors.
func (g *targetGroup) finish(results []TargetResult) error {
	var errs []error
	for _, r := range results {
		if r.Err == nil {
			continue
		}
		errs = append(errs, r.Err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, e := range g.held {
		if len(errs) > 0 {
			e.discard()
			continue
		}
		if err := e.commit(); err != nil {
			errs = append(errs, fmt.Errorf("writing %s: %w", e.dest, err))
		}
	}
	g.held = nil
	return errors.Join(errs...)
}

// contextSession is the session the targets' contexts are read from.
type contextSession struct {
	id string
	// names are the local names of the targets' build contexts, in the
	// targets' order.
	names []string
	s     *session.Session
	done  chan error
	close func()
}

// contextSession starts a session on the daemon that serves the targets'
// build contexts and the named directory contexts, with their ownership
// reset to root as BuildKit's client does for a solve's own session. A
// context directory is served once, under "context" when every target
// reads the same one, else under a name per directory.
func (c *Client) contextSession(ctx context.Context, targets []Target) (*contextSession, error) {
	var opt client.SolveOpt
	if _, err := targets[0].Options.addContexts(&opt); err != nil {
		return nil, err
	}
	cs := &contextSession{names: make([]string, len(targets))}
	byDir := map[string]string{}
	mounts := map[string]fsutil.FS{}
	for i, t := range targets {
		fs, id, err := t.Options.buildContext()
		if err != nil {
			return nil, fmt.Errorf("target %s: %w", t.Name, err)
		}
		name, ok := byDir[id]
		if !ok {
			name = contextName + "-" + strings.TrimPrefix(id, "slipway-")
			if _, clash := opt.LocalMounts[name]; clash {
				return nil, fmt.Errorf("target %s: a named context is called %s, the name of a build context", t.Name, name)
			}
			byDir[id] = name
			mounts[name] = fs
		}
		cs.names[i] = name
	}
	if len(byDir) == 1 { // one directory: the name a single build gives it
		for i := range cs.names {
			cs.names[i] = contextName
		}
		mounts = map[string]fsutil.FS{contextName: opt.LocalMounts[contextName]}
	}
	delete(opt.LocalMounts, contextName)
	maps.Copy(opt.LocalMounts, mounts)
	dirs := filesync.StaticDirSource{}
	for name, fs := range opt.LocalMounts {
		f, err := fsutil.NewFilterFS(fs, &fsutil.FilterOpt{Map: func(_ string, st *fstypes.Stat) fsutil.MapResult {
			st.Uid, st.Gid = 0, 0
			return fsutil.MapResultKeep
		}})
		if err != nil {
			return nil, fmt.Errorf("build context %s: %w", name, err)
		}
		dirs[name] = f
	}
	// The session outlives any one target; it ends when all have.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s, err := session.NewSession(sctx, "slipway-targets")
	if err != nil {
		cancel()
		return nil, fmt.Errorf("starting the build session: %w", err)
	}
	s.Allow(filesync.NewFSSyncProvider(dirs))
	cs.id, cs.s, cs.done = s.ID(), s, make(chan error, 1)
	go func() { cs.done <- s.Run(sctx, c.bk.Dialer()) }()
	cs.close = func() {
		s.Close()
		cancel()
		<-cs.done
	}
	return cs, nil
}
