package explain

// The entry points: Explain, Plan and Diff, and how their lines print.

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
)

// Explain explains the build cur against the builds before it (history,
// oldest first): every step, with the solve's own cached flags, and for
// each step that ran the first cause.
func Explain(history []*Record, cur *Record) ([]Line, error) {
	if len(history) == 0 {
		return nil, errNoHistory
	}
	a, err := newAnalysis(history, cur, true)
	if err != nil {
		return nil, err
	}
	return a.run(), nil
}

// Plan predicts which steps of cur (a compiled build whose context is
// hashed, not yet solved) will run, against the builds before it.
func Plan(history []*Record, cur *Record) ([]Line, error) {
	a, err := newAnalysis(history, cur, false)
	if err != nil {
		return nil, err
	}
	return a.run(), nil
}

// Diff lists the steps of the definition new that are not in old, each with
// what changed against its counterpart in old, and the steps of old that
// are gone: State is "changed", "added" or "removed".
func Diff(old, new *pb.Definition) ([]Line, error) {
	og, err := Parse(old)
	if err != nil {
		return nil, fmt.Errorf("reading the old definition: %w", err)
	}
	ng, err := Parse(new)
	if err != nil {
		return nil, fmt.Errorf("reading the new definition: %w", err)
	}
	oldDt, _ := old.MarshalVT()
	newDt, _ := new.MarshalVT()
	prev := &Record{Definition: oldDt, def: old, graph: og}
	cur := &Record{Definition: newDt, def: new, graph: ng}
	a, err := newAnalysis([]*Record{prev}, cur, false)
	if err != nil {
		return nil, err
	}
	var out []Line
	for _, l := range a.run() {
		if l.State == Cached || l.State == Transfers && l.Reason == "" {
			continue
		}
		l.State = "changed"
		if l.Cause == CauseNew || a.pairs[ng.ByDigest[digest.Digest(l.Digest)]] == nil && l.Cause == "image" {
			l.State = "added"
		}
		out = append(out, l)
	}
	matched := map[*Step]bool{}
	for _, o := range a.pairs {
		matched[o] = true
	}
	for _, o := range og.Steps {
		if ng.ByDigest[o.Digest] == nil && !matched[o] {
			out = append(out, Line{Step: o.Name, Location: o.Location, Digest: o.Digest.String(), State: "removed", Reason: "not in the new build"})
		}
	}
	return out, nil
}

// Emptied turns a plan's cached and depending steps into steps that run:
// the daemon's cache is empty (pruned), so nothing can hit.
func Emptied(lines []Line) {
	for i := range lines {
		if l := &lines[i]; l.State == Cached || l.State == Depends {
			l.State, l.Cause, l.Changes = Runs, CauseEvicted, nil
			l.Reason = "the daemon's cache is empty (pruned): nothing can be reused"
		}
	}
}

// FirstRun is the first step of a plan that runs, or nil.
func FirstRun(lines []Line) *Line {
	for i := range lines {
		if lines[i].State == Runs {
			return &lines[i]
		}
	}
	return nil
}

// Write prints lines as text, or as JSON when format is "json". all prints
// the cached steps too; otherwise only those that run (or may).
func Write(w io.Writer, lines []Line, format string, all bool) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if lines == nil {
			lines = []Line{}
		}
		return enc.Encode(lines)
	}
	if format != "" && format != "text" {
		return fmt.Errorf("unknown format %q (want text or json)", format)
	}
	var b strings.Builder
	n := 0
	for _, l := range lines {
		if (l.State == Cached || l.State == NotReached || l.State == Transfers && l.Reason == "") && !all {
			continue
		}
		n++
		name := l.Step
		if l.Platform != "" {
			name = "[" + l.Platform + "] " + name
		}
		if l.Location != "" {
			name += " (" + l.Location + ")"
		}
		fmt.Fprintf(&b, "%-9s %s\n", l.State, name)
		if l.Reason != "" {
			fmt.Fprintf(&b, "          %s\n", l.Reason)
		}
		if l.Error != "" {
			fmt.Fprintf(&b, "          error: %s\n", l.Error)
		}
		for _, c := range l.Changes[min(1, len(l.Changes)):] {
			fmt.Fprintf(&b, "          also %s\n", c.Text)
		}
	}
	if n == 0 {
		b.WriteString("every step is cached\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ReadDefinition reads an LLB file (the protobuf llb.WriteTo writes), or
// stdin for "-".
func ReadDefinition(file string) (*pb.Definition, error) {
	var dt []byte
	var err error
	if file == "-" {
		dt, err = io.ReadAll(os.Stdin)
	} else {
		dt, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	var def pb.Definition
	if err := def.UnmarshalVT(dt); err != nil {
		return nil, fmt.Errorf("reading %s: not an LLB definition: %w", file, err)
	}
	return &def, nil
}

// Latest are the records of the newest build in records (oldest first):
// one per platform it built, which share its time.
func Latest(records []*Record) []*Record {
	if len(records) == 0 {
		return nil
	}
	last := records[len(records)-1].Time
	var out []*Record
	for _, r := range records {
		if r.Time.Equal(last) {
			out = append(out, r)
		}
	}
	return out
}

// History is what cur is explained or planned against: the records of
// the builds before cur's (all of records for a cur not yet saved, whose
// Time is zero), ordered so that the one cur is compared with comes last.
// That is the record of cur's platform in the build before, when that
// build had it, else that build's last record: a build of several
// platforms keeps one record per platform.
func History(records []*Record, cur *Record) []*Record {
	var out []*Record
	for _, r := range records {
		if r != cur && (cur.Time.IsZero() || r.Time.Before(cur.Time)) {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil
	}
	prev := out[len(out)-1].Time
	for i := len(out) - 1; i >= 0 && out[i].Time.Equal(prev); i-- {
		if out[i].Platform == cur.Platform {
			r := out[i]
			out = append(append(out[:i:i], out[i+1:]...), r)
			break
		}
	}
	return out
}
