package explain

// Why a step runs: the comparison of a build with the builds before it,
// used by Explain (after the build, with the solve's own flags) and Plan
// (before it, without them).

import (
	"errors"
	"fmt"
	"path"
	"strings"

	digest "github.com/opencontainers/go-digest"
)

// State is what happens to a step.
type State string

// The states of a step.
const (
	// Cached: the daemon has the step's result.
	Cached State = "cached"
	// Runs: the step runs (a plan) or ran (an explanation).
	Runs State = "runs"
	// Depends: the step runs only if a step before it, which runs,
	// produces something different (BuildKit's content-based cache keys).
	Depends State = "depends"
	// Transfers: a source (the context, a base image), which the daemon
	// loads or checks on every build and never reports as cached; what
	// changed in it shows on the steps that read it.
	Transfers State = "transfers"
	// Failed: the step ran and failed (an explanation of a failed build).
	Failed State = "failed"
	// NotReached: the build failed before the step was solved.
	NotReached State = "not reached"
)

// The kinds of cause, beside those of Change.Kind.
const (
	CauseNew     = "new" // the step is not in the earlier build
	CauseNoCache = "no-cache"
	CauseContext = "context" // files of a local context changed
	CauseInput   = "input"   // a step before it changed
	CauseResult  = "result"  // a step before it ran and gave a different result
	CauseEvicted = "evicted" // nothing changed: the daemon lost the result
	CauseUnknown = "unknown" // no earlier build to compare with
)

// Line is one step of an explanation or a plan.
type Line struct {
	Step     string   `json:"step"`
	Location string   `json:"location,omitempty"`
	Digest   string   `json:"digest"`
	State    State    `json:"state"`
	Cause    string   `json:"cause,omitempty"`
	Reason   string   `json:"reason,omitempty"`
	Changes  []Change `json:"changes,omitempty"`
	// Seconds is how long the step took, in an explanation.
	Seconds float64 `json:"seconds,omitempty"`
	// Error is the step's error, when it failed.
	Error string `json:"error,omitempty"`
	// Platform is the platform of the build the step belongs to, when
	// one build made several (an explanation lists each one's steps).
	Platform string `json:"platform,omitempty"`
}

// analysis compares a build with the ones before it.
type analysis struct {
	cur   *Record
	g     *Graph
	prev  *Record // the build before; nil if none
	pg    *Graph
	known map[digest.Digest]bool
	pairs map[*Step]*Step
	args  map[string]string
	// actual: use the solve's flags in cur.Steps (Explain).
	actual bool
	lines  map[*Step]*Line
	// newKey: the step's cache key is not one the daemon had (yes), may
	// not be (depends), or is (no).
	newKey map[*Step]State
	// files: what changed in each local source since prev.
	files map[*Step][]fileChange
}

func newAnalysis(history []*Record, cur *Record, actual bool) (*analysis, error) {
	g, err := cur.Graph()
	if err != nil {
		return nil, err
	}
	a := &analysis{cur: cur, g: g, known: map[digest.Digest]bool{}, actual: actual,
		lines: map[*Step]*Line{}, newKey: map[*Step]State{}, files: map[*Step][]fileChange{}, args: map[string]string{}}
	for _, r := range history {
		rg, err := r.Graph()
		if err != nil {
			continue
		}
		for d := range rg.ByDigest {
			if res := r.Steps[string(d)]; res == nil || res.Error == "" {
				a.known[d] = true
			}
		}
	}
	if len(history) > 0 {
		a.prev = history[len(history)-1]
		a.pg, _ = a.prev.Graph()
		a.pairs = counterparts(a.pg, g)
		for k, v := range cur.BuildArgs {
			if ov, ok := a.prev.BuildArgs[k]; !ok || ov != v {
				a.args[k] = quoteOr(ov, ok) + " → " + quoteOr(v, true)
			}
		}
		for k, v := range a.prev.BuildArgs {
			if _, ok := cur.BuildArgs[k]; !ok {
				a.args[k] = quoteOr(v, true) + " → (unset)"
			}
		}
	}
	return a, nil
}

// run analyses every step, in order.
func (a *analysis) run() []Line {
	var out []Line
	for _, s := range a.g.Steps {
		l := a.step(s)
		a.lines[s] = l
		out = append(out, *l)
	}
	return out
}

func (a *analysis) line(s *Step, st State, cause, reason string) *Line {
	return &Line{Step: s.Name, Location: s.Location, Digest: s.Digest.String(), State: st, Cause: cause, Reason: reason}
}

// step decides one step; the steps it reads are decided already.
func (a *analysis) step(s *Step) *Line {
	l := a.predict(s)
	a.newKey[s] = l.State
	if s.isSource() {
		l.State = Transfers
		return l
	}
	if !a.actual {
		return l
	}
	res := a.cur.Steps[s.Digest.String()]
	if a.cur.Error != "" && res != nil && !res.Cached && (!res.Finished && res.Error == "" || strings.Contains(res.Error, "context canceled")) {
		res = nil // listed by the solve, then stopped by the failure
	}
	if res == nil {
		if a.cur.Error != "" {
			l.State, l.Cause, l.Reason, l.Changes = NotReached, "", "", nil
			a.newKey[s] = Cached // nothing to say about what follows
		}
		return l // not solved: the build stopped before it
	}
	l.Seconds = res.Seconds
	if res.Error != "" {
		defer func() { l.State, l.Error = Failed, res.Error }()
	}
	if res.Cached {
		l.State, l.Cause, l.Reason, l.Changes = Cached, "", "", nil
		a.newKey[s] = Cached
		return l
	}
	switch l.State {
	case Runs:
		return l
	case Depends:
		if in := a.ranInput(s); in != nil {
			l.Cause, l.Reason = CauseResult, "a step before it ran and gave a different result: "+in.Label()
		}
		l.State = Runs
		a.newKey[s] = Runs
		return l
	}
	// Predicted cached, but it ran.
	l.State = Runs
	if in := a.ranInput(s); in != nil && a.contentHashedRan(s) {
		l.Cause, l.Reason = CauseResult, "a step before it ran and gave a different result: "+in.Label()
		a.newKey[s] = Runs
		return l
	}
	a.newKey[s] = Cached // the same key as before: what follows may still hit
	l.Cause = CauseEvicted
	l.Reason = "nothing in the definition or its inputs changed: the daemon no longer had the result (pruned or evicted)"
	return l
}

// ranInput is the first step s reads that ran in this build.
func (a *analysis) ranInput(s *Step) *Step {
	for _, in := range s.Inputs {
		if r := a.cur.Steps[in.Digest.String()]; r != nil && !r.Cached && in.LocalName() == "" {
			return in
		}
	}
	return nil
}

// contentHashedRan reports whether an input s reads by content ran.
func (a *analysis) contentHashedRan(s *Step) bool {
	for i, in := range s.Inputs {
		if r := a.cur.Steps[in.Digest.String()]; r != nil && !r.Cached && in.LocalName() == "" && contentHashed(s, i) {
			return true
		}
	}
	return false
}

// predict is what the definitions and the context say, without the solve.
func (a *analysis) predict(s *Step) *Line {
	if name := s.LocalName(); name != "" {
		l := a.line(s, Transfers, "", "")
		if a.prev != nil {
			a.files[s] = diffFiles(a.prev.context(name), a.cur.context(name))
			if n := len(a.files[s]); n > 0 {
				l.Cause, l.Reason = CauseContext, describeFiles(a.files[s])
			}
		}
		return l
	}
	if a.cur.NoCache {
		return a.line(s, Runs, CauseNoCache, "--no-cache")
	}
	if a.prev == nil {
		return a.line(s, Depends, CauseUnknown, "no earlier build is recorded")
	}
	if !a.known[s.Digest] {
		return a.changed(s)
	}
	// The same step as before: it runs if what it reads has a new key.
	for i, in := range s.Inputs {
		if in.LocalName() != "" {
			if ch := relevant(a.files[in], selectors(s, i)); len(ch) > 0 {
				return a.line(s, Runs, CauseContext, describeFiles(ch))
			}
			continue
		}
		switch a.newKey[in] {
		case Runs:
			if contentHashed(s, i) {
				return a.line(s, Depends, CauseInput, "depends on what a step before it produces: "+in.Label())
			}
			return a.line(s, Runs, CauseInput, "a step before it runs: "+in.Label()+a.because(in))
		case Depends:
			return a.line(s, Depends, CauseInput, "depends on what a step before it produces: "+in.Label())
		}
	}
	return a.line(s, Cached, "", "")
}

// because is ", because REASON" of a step, to carry the first cause down
// a chain of steps.
func (a *analysis) because(s *Step) string {
	l := a.lines[s]
	if l == nil || l.Reason == "" {
		return ""
	}
	if l.Cause == CauseInput || l.Cause == CauseResult {
		// The reason already names the first step; keep its tail.
		if _, tail, ok := strings.Cut(l.Reason, " ("); ok {
			return " (" + tail
		}
		if i := strings.Index(l.Reason, ", because "); i >= 0 {
			return l.Reason[i:]
		}
		return ""
	}
	return ", because " + l.Reason
}

// changed explains a step that is not in any earlier build.
func (a *analysis) changed(s *Step) *Line {
	o := a.pairs[s]
	if o == nil {
		if ref, _ := s.image(); ref != "" {
			return a.line(s, Runs, "image", "base image "+ref+" is not in the previous build")
		}
		return a.line(s, Runs, CauseNew, "a new step: not in the previous build")
	}
	if ch := changes(o, s, a.args); len(ch) > 0 {
		l := a.line(s, Runs, ch[0].Kind, ch[0].Text)
		l.Changes = ch
		return l
	}
	// Its own fields are the same: what it reads changed.
	for i, in := range s.Inputs {
		var oin *Step
		if i < len(o.Inputs) {
			oin = o.Inputs[i]
		}
		if oin != nil && oin.Digest == in.Digest {
			continue
		}
		if in.LocalName() != "" {
			// The same directory, read with other paths.
			return a.line(s, Depends, CauseInput, "the paths it reads from the context changed: "+in.Label())
		}
		was := a.oldOf(in)
		if oin != nil && was != oin {
			// Another step than before: a step was added, removed or moved.
			st := Runs
			if contentHashed(s, i) {
				st = Depends
			}
			return a.line(s, st, CauseInput, fmt.Sprintf("the step before it is now %s (was %s)", in.Label(), oin.Label()))
		}
		st := a.newKey[in]
		if st == Runs && contentHashed(s, i) {
			st = Depends
		}
		if st == Cached {
			// Made differently, the same files: BuildKit finds the rest
			// by content.
			continue
		}
		reason := "a step before it changed: " + in.Label() + a.because(in)
		return a.line(s, st, CauseInput, reason)
	}
	if same := len(s.Inputs) == len(o.Inputs); same {
		return a.line(s, Cached, "", "")
	}
	if len(s.Inputs) != len(o.Inputs) {
		return a.line(s, Runs, CauseInput, fmt.Sprintf("it reads %d steps, was %d", len(s.Inputs), len(o.Inputs)))
	}
	return a.line(s, Runs, CauseNew, "the step changed in a way that has no name here (compare with dsl2llb --diff)")
}

// oldOf is the step of the previous build that s is, or replaces.
func (a *analysis) oldOf(s *Step) *Step {
	if o := a.pg.ByDigest[s.Digest]; o != nil {
		return o
	}
	return a.pairs[s]
}

// contentHashed reports whether BuildKit keys the step's i-th input by its
// content (a copy's source, a read-only mount) rather than by how it was
// made, so that a re-run giving the same files still hits the cache.
func contentHashed(s *Step, i int) bool {
	if f := s.Op.GetFile(); f != nil {
		for _, act := range f.Actions {
			if c := act.GetCopy(); c != nil && int(act.SecondaryInput) == i {
				return true
			}
		}
		return false
	}
	if e := s.Op.GetExec(); e != nil {
		for _, m := range e.Mounts {
			if int(m.Input) == i && m.Readonly && m.Dest != "/" {
				return true
			}
		}
	}
	return false
}

// selectors are the paths of its i-th input that a step reads: a copy's
// sources, a mount's source; nil means all of it.
func selectors(s *Step, i int) []string {
	var out []string
	if f := s.Op.GetFile(); f != nil {
		for _, act := range f.Actions {
			if c := act.GetCopy(); c != nil && int(act.SecondaryInput) == i {
				out = append(out, c.Src)
			}
		}
	}
	if e := s.Op.GetExec(); e != nil {
		for _, m := range e.Mounts {
			if int(m.Input) == i {
				if m.Selector == "" {
					return nil
				}
				out = append(out, m.Selector)
			}
		}
	}
	for _, sel := range out {
		if strings.Trim(path.Clean("/"+sel), "/") == "" {
			return nil
		}
	}
	return out
}

// relevant are the changes under the selectors (nil: all).
func relevant(ch []fileChange, sels []string) []fileChange {
	if sels == nil {
		return ch
	}
	var out []fileChange
	for _, c := range ch {
		for _, sel := range sels {
			if under(c.Path, strings.Trim(path.Clean("/"+sel), "/")) {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// under reports whether p is sel, inside it, or matched by it as a
// wildcard.
func under(p, sel string) bool {
	if p == sel || strings.HasPrefix(p, sel+"/") {
		return true
	}
	parts := strings.Split(p, "/")
	n := strings.Count(sel, "/") + 1
	if n > len(parts) {
		return false
	}
	ok, _ := path.Match(sel, strings.Join(parts[:n], "/"))
	return ok
}

// errNoHistory is Explain's error when there is nothing to compare with.
var errNoHistory = errors.New("no earlier build is recorded: explain compares the last build with the one before it")
