package explain

// How a step of one build is paired with a step of another, and what
// differs between the two, in the user's terms.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/moby/buildkit/solver/pb"
)

// counterparts pairs each step of g that is not in old with the step of old
// it replaces, or nil for a new step: first the step of the same stage with
// the same text (so a step that only moved, or whose inputs changed, finds
// itself), then the one at the same place of the same stage with the same
// kind, then the nearest of the same kind in the stage, then a source of
// the same image or directory.
func counterparts(old, g *Graph) map[*Step]*Step {
	pairs := map[*Step]*Step{}
	used := map[*Step]bool{}
	var changed []*Step
	for _, s := range g.Steps {
		if o := old.ByDigest[s.Digest]; o != nil {
			used[o] = true
			continue
		}
		changed = append(changed, s)
	}
	passes := []func(s, o *Step) bool{
		func(s, o *Step) bool { return s.Stage == o.Stage && s.Text == o.Text },
		func(s, o *Step) bool {
			return s.Index > 0 && s.Stage == o.Stage && s.Index == o.Index && s.Total == o.Total && s.Kind == o.Kind
		},
		func(s, o *Step) bool { return s.Index > 0 && s.Stage == o.Stage && s.Kind == o.Kind },
		func(s, o *Step) bool { return s.isSource() && o.isSource() && sameSource(s, o) },
	}
	for _, match := range passes {
		for _, s := range changed {
			if pairs[s] != nil {
				continue
			}
			var best *Step
			for _, o := range old.Steps {
				if used[o] || !match(s, o) {
					continue
				}
				if best == nil || distance(s, o) < distance(s, best) {
					best = o
				}
			}
			if best != nil {
				pairs[s] = best
				used[best] = true
			}
		}
	}
	return pairs
}

func distance(s, o *Step) int {
	d := s.Index - o.Index
	if s.Index == 0 {
		d = s.Pos - o.Pos
	}
	if d < 0 {
		return -d
	}
	return d
}

// sameSource reports two sources of the same image (any digest), local
// directory, git repository or URL.
func sameSource(a, b *Step) bool {
	ra, _ := a.image()
	rb, _ := b.image()
	if ra != "" || rb != "" {
		return ra == rb
	}
	return a.Op.GetSource().GetIdentifier() == b.Op.GetSource().GetIdentifier()
}

// Change is one difference between a step and its counterpart.
type Change struct {
	// Kind is what changed: command, env, arg, user, dir, mount, network,
	// security, platform, image, source, file, type.
	Kind string `json:"kind"`
	// Text says it in the user's terms: "env FOO: 1 → 2".
	Text string `json:"text"`
}

// changes lists what differs between the step o of the old build and s of
// the new one, in the step's own fields (not its inputs). args are the
// build arguments that changed, by name, as "old → new".
func changes(o, s *Step, args map[string]string) []Change {
	var out []Change
	add := func(kind, format string, a ...any) {
		out = append(out, Change{Kind: kind, Text: fmt.Sprintf(format, a...)})
	}
	if po, ps := platformString(o.Op.GetPlatform()), platformString(s.Op.GetPlatform()); po != ps {
		add("platform", "platform %s → %s", po, ps)
	}
	switch {
	case o.Op.GetExec() != nil && s.Op.GetExec() != nil:
		out = append(out, execChanges(o.Op.GetExec(), s.Op.GetExec(), args)...)
	case o.Op.GetSource() != nil && s.Op.GetSource() != nil:
		out = append(out, sourceChanges(o, s)...)
	case o.Op.GetFile() != nil && s.Op.GetFile() != nil:
		oa, sa := fileActions(o.Op.GetFile()), fileActions(s.Op.GetFile())
		for i := 0; i < max(len(oa), len(sa)); i++ {
			a, b := at(oa, i), at(sa, i)
			if a != b {
				add("file", "%s → %s", orNone(a), orNone(b))
				break
			}
		}
	case kindOf(o) != kindOf(s) || fmt.Sprintf("%T", o.Op.Op) != fmt.Sprintf("%T", s.Op.Op):
		add("type", "a different step: %s → %s", o.Text, s.Text)
	}
	if o.Text != s.Text && len(out) == 0 && len(o.Inputs) == len(s.Inputs) {
		// Same op, other name: only the metadata moved.
		return nil
	}
	return out
}

func at(l []string, i int) string {
	if i < len(l) {
		return l[i]
	}
	return ""
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func platformString(p *pb.Platform) string {
	if p == nil {
		return "(default)"
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

func execChanges(o, s *pb.ExecOp, args map[string]string) []Change {
	var out []Change
	add := func(kind, format string, a ...any) {
		out = append(out, Change{Kind: kind, Text: fmt.Sprintf(format, a...)})
	}
	om, sm := o.GetMeta(), s.GetMeta()
	if oc, sc := strings.Join(om.GetArgs(), " "), strings.Join(sm.GetArgs(), " "); oc != sc {
		add("command", "command: %s", WordDiff(oc, sc))
	}
	oe, se := envMap(om.GetEnv()), envMap(sm.GetEnv())
	for _, k := range slices.Sorted(maps.Keys(union(oe, se))) {
		ov, oin := oe[k]
		sv, sin := se[k]
		if ov == sv && oin == sin {
			continue
		}
		if a, ok := args[k]; ok {
			add("arg", "build argument %s: %s", k, a)
			continue
		}
		add("env", "env %s: %s → %s", k, quoteOr(ov, oin), quoteOr(sv, sin))
	}
	if om.GetUser() != sm.GetUser() {
		add("user", "user %s → %s", orNone(om.GetUser()), orNone(sm.GetUser()))
	}
	if om.GetCwd() != sm.GetCwd() {
		add("dir", "working directory %s → %s", orNone(om.GetCwd()), orNone(sm.GetCwd()))
	}
	omn, smn := mounts(o), mounts(s)
	for _, m := range omn {
		if !slices.Contains(smn, m) {
			add("mount", "mount removed: %s", m)
		}
	}
	for _, m := range smn {
		if !slices.Contains(omn, m) {
			add("mount", "mount added: %s", m)
		}
	}
	if o.GetNetwork() != s.GetNetwork() {
		add("network", "network %s → %s", strings.ToLower(o.GetNetwork().String()), strings.ToLower(s.GetNetwork().String()))
	}
	if o.GetSecurity() != s.GetSecurity() {
		add("security", "security %s → %s", strings.ToLower(o.GetSecurity().String()), strings.ToLower(s.GetSecurity().String()))
	}
	if len(out) == 0 && o.String() != s.String() {
		add("exec", "the step's other settings (hostname, hosts, ulimits, valid exit codes)")
	}
	return out
}

func quoteOr(v string, ok bool) string {
	if !ok {
		return "(unset)"
	}
	return fmt.Sprintf("%q", v)
}

func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		m[k] = v
	}
	return m
}

func union(a, b map[string]string) map[string]string {
	u := maps.Clone(a)
	maps.Copy(u, b)
	return u
}

// mounts describes the mounts of an exec other than its root, as RUN
// --mount would write them.
func mounts(e *pb.ExecOp) []string {
	var out []string
	for _, m := range e.GetMounts() {
		if m.Dest == "/" {
			continue
		}
		d := "type=" + strings.ToLower(m.MountType.String()) + ",target=" + m.Dest
		if m.Selector != "" {
			d += ",source=" + m.Selector
		}
		if m.Readonly {
			d += ",ro"
		}
		if c := m.CacheOpt; c != nil {
			d += ",id=" + c.ID + ",sharing=" + strings.ToLower(c.Sharing.String())
		}
		if s := m.SecretOpt; s != nil {
			d += ",id=" + s.ID
		}
		if s := m.SSHOpt; s != nil {
			d += ",id=" + s.ID
		}
		out = append(out, d)
	}
	return out
}

func sourceChanges(o, s *Step) []Change {
	ro, do := o.image()
	rs, ds := s.image()
	switch {
	case ro != "" && ro == rs && do != ds:
		return []Change{{Kind: "image", Text: fmt.Sprintf("base image %s moved: %s → %s", rs, orNone(do), orNone(ds))}}
	case ro != "" && rs != "" && ro != rs:
		return []Change{{Kind: "image", Text: fmt.Sprintf("base image %s → %s", ro, rs)}}
	}
	oi, si := o.Op.GetSource().GetIdentifier(), s.Op.GetSource().GetIdentifier()
	if oi != si {
		return []Change{{Kind: "source", Text: fmt.Sprintf("source %s → %s", oi, si)}}
	}
	oa, sa := o.Op.GetSource().GetAttrs(), s.Op.GetSource().GetAttrs()
	for _, k := range slices.Sorted(maps.Keys(union(oa, sa))) {
		if oa[k] != sa[k] {
			what := k
			switch k {
			case pb.AttrFollowPaths, pb.AttrIncludePatterns:
				what = "the paths the build reads from it"
			case pb.AttrExcludePatterns:
				what = "its .dockerignore patterns"
			}
			return []Change{{Kind: "source", Text: fmt.Sprintf("%s: %s → %s", what, orNone(oa[k]), orNone(sa[k]))}}
		}
	}
	return nil
}

// fileActions describes each action of a file op, as COPY and friends
// would write it; the inputs it reads are left out (they are compared as
// inputs).
func fileActions(f *pb.FileOp) []string {
	var out []string
	for _, a := range f.GetActions() {
		switch x := a.Action.(type) {
		case *pb.FileAction_Copy:
			c := x.Copy.CloneVT()
			out = append(out, fmt.Sprintf("copy %s to %s%s", c.Src, c.Dest, copyFlags(c)))
		case *pb.FileAction_Mkdir:
			out = append(out, fmt.Sprintf("mkdir %s mode %o", x.Mkdir.Path, x.Mkdir.Mode))
		case *pb.FileAction_Mkfile:
			out = append(out, fmt.Sprintf("file %s mode %o (%d bytes, %s)", x.Mkfile.Path, x.Mkfile.Mode, len(x.Mkfile.Data), shortHash(x.Mkfile.Data)))
		case *pb.FileAction_Rm:
			out = append(out, "rm "+x.Rm.Path)
		case *pb.FileAction_Symlink:
			out = append(out, "symlink "+x.Symlink.Newpath+" → "+x.Symlink.Oldpath)
		}
	}
	return out
}

func copyFlags(c *pb.FileActionCopy) string {
	var f []string
	if c.Mode != -1 && c.Mode != 0 {
		f = append(f, fmt.Sprintf("chmod=%o", c.Mode))
	}
	if o := c.GetOwner(); o != nil {
		f = append(f, "chown="+o.String())
	}
	if len(c.IncludePatterns) > 0 {
		f = append(f, "include="+strings.Join(c.IncludePatterns, ","))
	}
	if len(c.ExcludePatterns) > 0 {
		f = append(f, "exclude="+strings.Join(c.ExcludePatterns, ","))
	}
	if c.FollowSymlink {
		f = append(f, "follow-symlinks")
	}
	if len(f) == 0 {
		return ""
	}
	return " (" + strings.Join(f, " ") + ")"
}

// WordDiff shows how the words of a changed into those of b: kept words
// as they are, removed ones as [-word-], added ones as {+word+}.
func WordDiff(a, b string) string {
	x, y := strings.Fields(a), strings.Fields(b)
	if len(x)*len(y) > 1<<20 {
		return "[-" + a + "-] {+" + b + "+}"
	}
	// The longest common subsequence, by dynamic programming.
	l := make([][]int, len(x)+1)
	for i := range l {
		l[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				l[i][j] = l[i+1][j+1] + 1
			} else {
				l[i][j] = max(l[i+1][j], l[i][j+1])
			}
		}
	}
	var out []string
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			out = append(out, x[i])
			i++
			j++
		case j < len(y) && (i == len(x) || l[i][j+1] > l[i+1][j]):
			out = append(out, "{+"+y[j]+"+}")
			j++
		default:
			out = append(out, "[-"+x[i]+"-]")
			i++
		}
	}
	return strings.Join(out, " ")
}

// shortHash is the first hex digits of the sha256 of dt.
func shortHash(dt []byte) string {
	sum := sha256.Sum256(dt)
	return hex.EncodeToString(sum[:6])
}
