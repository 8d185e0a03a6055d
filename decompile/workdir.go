package decompile

import (
	"path"
	"strings"

	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
)

// writeWorkdir writes the WORKDIR of a mkdir. The mkdir's path is clean,
// but the frontend runs the steps after an absolute WORKDIR in the path
// as written ("WORKDIR /out/" runs them in /out/): the image history has
// it, for the stages of the image, and the cwd of the first RUN there, for
// any stage (see respellWorkdir).
func (d *decompiler) writeWorkdir(st *frontState, dg digest.Digest, mk *pb.FileActionMkDir) error {
	wantTime := int64(-1)
	if d.epochTime != nil {
		wantTime = d.epochTime.UnixNano()
	}
	if !mk.MakeParents || mk.Mode != 0o755 || !path.IsAbs(mk.Path) || mk.Timestamp != wantTime {
		return d.unsupported(dg, "mkdir %s (mode %o, parents %v) is not the directory WORKDIR makes", mk.Path, mk.Mode, mk.MakeParents)
	}
	if err := checkText("path", mk.Path); err != nil {
		return d.unsupported(dg, "%v", err)
	}
	// The frontend makes the directory for the current user: an owner
	// tells a USER that no step before told. It gives an owner only when
	// a USER is set, so an owner of root after no USER is USER root (in
	// --chown, an empty user is root's; here it is no USER at all).
	if u, err := chown(mk.Owner); err == nil && u != "" && (st.user == "" || !sameOwnerSpec(st.user, u)) {
		if checkText("user", u) != nil || strings.ContainsAny(u, " \t\n\r") {
			return d.unsupported(dg, "user %q cannot be written as USER", u)
		}
		d.out.add("USER %s", word(u))
		st.user = u
	}
	// The config keeps the path as written too.
	wd := mk.Path
	if h, ok := d.hist.peekLayer(d.curChain); ok {
		if p, ok := strings.CutPrefix(h, "WORKDIR "); ok && path.Clean(p) == mk.Path && plainWord(word(p)) && checkText("path", p) == nil {
			wd = p
		}
	}
	line := d.out.add("WORKDIR %s", word(wd))
	st.dir = wd
	st.img.Config.WorkingDir = wd
	st.wd = nil
	if wd == mk.Path {
		// Not spelled by the history: the first RUN there, in this stage
		// or one FROM it, may still spell it (see respellWorkdir).
		st.wd = &workdirLine{line: line, owner: st}
	}
	return nil
}

// respellWorkdir writes the WORKDIR that made st's dir as the RUN's cwd,
// which the frontend keeps as written ("/ak-root/"), when no RUN used it
// yet: the RUN may be in the WORKDIR's stage or in a stage FROM it.
func (d *decompiler) respellWorkdir(st *frontState, cwd string) bool {
	w := st.wd
	if w == nil || w.used || !path.IsAbs(cwd) || path.Clean(cwd) != path.Clean(st.dir) ||
		!plainWord(word(cwd)) || checkText("path", cwd) != nil {
		return false
	}
	d.out.l[w.line] = "WORKDIR " + word(cwd)
	w.used = true
	for _, s := range []*frontState{st, w.owner} {
		if s.wd == w {
			s.dir, s.img.Config.WorkingDir = cwd, cwd
		}
	}
	return true
}
