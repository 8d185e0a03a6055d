package decompile

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/buildkit/frontend/dockerfile/dfgitutil"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/system"
	digest "github.com/opencontainers/go-digest"
)

// copySource is one source of a COPY or ADD.
type copySource struct {
	arg     string // as written in the instruction
	heredoc *pb.FileActionMkFile
	// git is a git source's address, whose arg is written once the
	// instruction's flags are known; checksum is a git or http source's.
	git      *gitAddr
	checksum string
}

// copyInstr is what the copies of one file op say about the COPY or ADD
// that made them.
type copyInstr struct {
	srcs    []copySource
	from    string
	fromSet bool
	// local, http and git say which kinds of source the copies read; one
	// ADD may mix them.
	local, http, git bool
	// localUnpack and httpUnpack are whether the copies of each kind
	// unpack archives: ADD's --unpack, whose default is true for a local
	// source and false for a URL.
	localUnpack, httpUnpack bool
	parents                 bool
	// checksum and keepGit are the --checksum and --keep-git-dir flags
	// (see remoteFlags).
	checksum string
	keepGit  bool
}

// remote reports whether the copies read a git or http source.
func (ci *copyInstr) remote() bool { return ci.http || ci.git }

// writeCopy writes the COPY or ADD a file op of copies makes; link is
// COPY --link, whose copy goes onto scratch and is merged.
func (d *decompiler) writeCopy(st *frontState, dg digest.Digest, op *pb.Op, f *pb.FileOp, link bool) error {
	first := f.Actions[0].GetCopy()
	if first == nil {
		return d.unsupported(dg, "file op with %T actions, which no Dockerfile instruction makes", f.Actions[0].Action)
	}
	ci, err := d.readCopies(dg, op, f, first)
	if err != nil {
		return d.refused(err)
	}
	add := ci.remote() || (ci.local && ci.localUnpack)
	flags, err := ci.flags(dg, first, add, link)
	if err != nil {
		return d.refused(err)
	}
	keyword := "COPY"
	if add {
		keyword = "ADD"
	}
	srcs, dest := ci.srcs, first.Dest
	if h := d.spelling(st, keyword, srcs, dest, flags); h != nil {
		keyword, dest, flags = h.keyword, h.dest, h.flags
		for i, w := range h.srcs {
			if srcs[i].heredoc == nil {
				srcs[i].arg = w
			}
		}
	}
	line, err := copyLine(dg, keyword, flags, srcs, dest)
	if err != nil {
		return d.refused(err)
	}
	d.out.add("%s", line)
	return nil
}

// readCopies reads the copies of a file op, each of which one source of
// the COPY or ADD makes, the first of them first.
func (d *decompiler) readCopies(dg digest.Digest, op *pb.Op, f *pb.FileOp, first *pb.FileActionCopy) (*copyInstr, error) {
	ci := &copyInstr{}
	for i, a := range f.Actions {
		c := a.GetCopy()
		if c == nil {
			return nil, opError(dg, "file op mixes copies with %T, which no Dockerfile instruction makes", a.Action)
		}
		if c.Dest != first.Dest || !sameOwner(c.Owner, first.Owner) || c.Mode != first.Mode || c.ModeStr != first.ModeStr || !slices.Equal(c.ExcludePatterns, first.ExcludePatterns) {
			return nil, opError(dg, "copy %d differs from copy 0 in destination, owner, mode or excludes; one COPY shares them", i)
		}
		if c.Timestamp != -1 {
			return nil, opError(dg, "copy %d sets file times (SOURCE_DATE_EPOCH), which slipway does not decompile yet", i)
		}
		if c.AlwaysReplaceExistingDestPaths {
			return nil, opError(dg, "copy %d always replaces existing paths, which has no Dockerfile flag", i)
		}
		src, err := d.g.input(op, a.SecondaryInput)
		if err != nil {
			return nil, opError(dg, "copy %d: %v", i, err)
		}
		sop := d.g.ops[src.op]
		if mk := mkfileOf(sop); mk != nil && d.isPart(src) {
			if mk.Mode != 0o644 || c.Src != mk.Path || c.FollowSymlink || c.DirCopyContents || c.AllowWildcard || c.AttemptUnpackDockerCompatibility {
				return nil, opError(dg, "copy %d of an inline file that COPY <<NAME does not make", i)
			}
			ci.srcs = append(ci.srcs, copySource{heredoc: mk})
			continue
		}
		if len(ci.srcs) > 0 && ci.srcs[len(ci.srcs)-1].heredoc != nil {
			return nil, opError(dg, "copy %d follows an inline document; COPY writes its files first", i)
		}
		var cs copySource
		switch s := sop.GetSource(); {
		case s != nil && (strings.HasPrefix(s.Identifier, "https://") || strings.HasPrefix(s.Identifier, "http://")):
			cs, err = ci.httpSource(dg, i, c, src.op, s)
		case s != nil && strings.HasPrefix(s.Identifier, "git://"):
			cs, err = ci.gitSource(dg, i, c, src.op, s)
		default:
			cs.arg, err = d.localSource(ci, dg, i, c, src)
		}
		if err != nil {
			return nil, err
		}
		if !c.CreateDestPath {
			return nil, opError(dg, "copy %d does not create its destination, as COPY always does", i)
		}
		ci.srcs = append(ci.srcs, cs)
	}
	if err := ci.remoteFlags(dg); err != nil {
		return nil, err
	}
	if ci.local && ci.http && !ci.localUnpack && ci.httpUnpack {
		return nil, opError(dg, "copies of a URL unpack and those of a path do not; one ADD --unpack says both")
	}
	return ci, nil
}

// localSource is the source path of a COPY, or ADD of an archive, from a
// stage, an image or the build context: copy 0 sets the --from the others
// must share.
func (d *decompiler) localSource(ci *copyInstr, dg digest.Digest, i int, c *pb.FileActionCopy, src ref) (string, error) {
	name, err := d.from(dg, src)
	if err != nil {
		return "", opError(dg, "copy %d: %v", i, err)
	}
	if ci.fromSet && name != ci.from {
		return "", opError(dg, "copy %d reads another source than copy 0; a COPY has one --from", i)
	}
	if !c.FollowSymlink || !c.DirCopyContents || !c.CreateDestPath || !c.AllowWildcard || !c.AllowEmptyWildcard {
		return "", opError(dg, "copy %d has flags COPY does not set", i)
	}
	if ci.local && c.AttemptUnpackDockerCompatibility != ci.localUnpack {
		return "", opError(dg, "copy %d unpacks and another path's does not; one ADD does both", i)
	}
	ci.from, ci.fromSet = name, true
	ci.local, ci.localUnpack = true, c.AttemptUnpackDockerCompatibility
	if len(c.IncludePatterns) > 0 {
		ci.parents = true
		if len(c.IncludePatterns) != 1 {
			return "", opError(dg, "copy %d includes %q; COPY --parents makes one pattern", i, c.IncludePatterns)
		}
		if c.Src == "/" {
			return c.IncludePatterns[0], nil
		}
		return c.Src + "/./" + c.IncludePatterns[0], nil
	}
	if c.Src == "/" {
		return ".", nil
	}
	return strings.TrimPrefix(c.Src, "/"), nil
}

// flags are the COPY or ADD flags the copies share; add is ADD.
func (ci *copyInstr) flags(dg digest.Digest, first *pb.FileActionCopy, add, link bool) ([]string, error) {
	var flags []string
	if ci.fromSet && ci.from != "" {
		flags = append(flags, "--from="+ci.from)
	}
	if ci.parents {
		flags = append(flags, "--parents")
	}
	if o, err := chown(first.Owner); err != nil {
		return nil, opError(dg, "owner: %v", err)
	} else if o != "" {
		flags = append(flags, "--chown="+o)
	}
	switch {
	case first.ModeStr != "":
		flags = append(flags, "--chmod="+first.ModeStr)
	case first.Mode >= 0:
		flags = append(flags, "--chmod="+strconv.FormatInt(int64(first.Mode), 8))
	}
	if link {
		flags = append(flags, "--link")
	}
	for _, p := range first.ExcludePatterns {
		flags = append(flags, "--exclude="+p)
	}
	// --unpack where a default does not say it: true for a URL, false
	// for a path read by an ADD that a remote source makes.
	switch {
	case ci.http && ci.httpUnpack:
		flags = append(flags, "--unpack=true")
	case ci.local && !ci.localUnpack && ci.remote():
		flags = append(flags, "--unpack=false")
	}
	if ci.checksum != "" {
		flags = append(flags, "--checksum="+ci.checksum)
	}
	if ci.keepGit {
		flags = append(flags, "--keep-git-dir=true")
	}
	for _, fl := range flags {
		if err := checkFlag(fl); err != nil {
			return nil, opError(dg, "%v", err)
		}
	}
	return flags, nil
}

// copyLine is the COPY or ADD instruction, with the bodies of its inline
// files after it.
func copyLine(dg digest.Digest, keyword string, flags []string, srcs []copySource, dest string) (string, error) {
	var words []string
	var bodies []string
	for _, s := range srcs {
		if s.heredoc != nil {
			name := strings.TrimPrefix(s.heredoc.Path, "/")
			body, err := heredocBody(name, string(s.heredoc.Data))
			if err != nil || !validHeredocName(name) {
				return "", opError(dg, "the inline file %s cannot be written as a heredoc", s.heredoc.Path)
			}
			bodies = append(bodies, body)
			continue
		}
		if err := checkText("source", s.arg); err != nil {
			return "", opError(dg, "%v", err)
		}
		words = append(words, s.arg)
	}
	if err := checkText("destination", dest); err != nil {
		return "", opError(dg, "%v", err)
	}
	line := keyword
	if len(flags) > 0 {
		line += " " + strings.Join(flags, " ")
	}
	if len(bodies) == 0 {
		return line + " " + args(append(words, dest)), nil
	}
	// Heredocs need the shell form; the other words must be plain.
	for _, w := range append(slices.Clone(words), dest) {
		if !plainWord(word(w)) {
			return "", opError(dg, "a COPY with inline files and the path %q, which only the JSON form can say", w)
		}
	}
	for _, w := range words {
		line += " " + word(w)
	}
	for _, s := range srcs {
		if s.heredoc != nil {
			line += " <<'" + strings.TrimPrefix(s.heredoc.Path, "/") + "'"
		}
	}
	return line + " " + word(dest) + "\n" + strings.Join(bodies, "\n"), nil
}

func validHeredocName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if !(r == '_' || r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// sameOwner reports whether two owners are the same.
func sameOwner(a, b *pb.ChownOpt) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.EqualVT(b)
}

// copySpelling is how the image history spells a COPY or ADD.
type copySpelling struct {
	keyword string
	flags   []string
	srcs    []string
	dest    string
}

// spelling returns the history's spelling of the COPY or ADD being
// written, when the history has it and it says the same thing: the paths
// as they were written (relative, with ./), and --chown and --chmod as they
// were given, so that the history the frontend records matches too.
func (d *decompiler) spelling(st *frontState, keyword string, srcs []copySource, dest string, flags []string) *copySpelling {
	createdBy, ok := d.hist.peekLayer(d.curChain)
	if !ok {
		return nil
	}
	words := strings.Split(strings.TrimSuffix(createdBy, " # buildkit"), " ")
	if len(words) < 3 || (words[0] != "COPY" && words[0] != "ADD") {
		return nil
	}
	h := &copySpelling{keyword: words[0]}
	if h.keyword != keyword && !(keyword == "COPY" && h.keyword == "ADD") {
		return nil
	}
	rest := words[1:]
	given := map[string]string{}
	for len(rest) > 0 && strings.HasPrefix(rest[0], "--") {
		k, v, _ := strings.Cut(rest[0], "=")
		given[k] = v
		rest = rest[1:]
	}
	// The history joins the paths with spaces, and a path may hold some:
	// find the grouping of the words whose paths are the copy's (a search
	// kept to histories of a sensible length).
	if len(rest) > 256 {
		return nil
	}
	groups := groupWords(rest, len(srcs)+1, func(k int, w string) bool {
		if k == len(srcs) {
			p, err := relativeToWorkdir(st.dir, w)
			return err == nil && sameDest(p, dest)
		}
		if s := srcs[k]; s.heredoc != nil {
			return w == "<<"+strings.TrimPrefix(s.heredoc.Path, "/")
		}
		return sameSource(w, srcs[k])
	})
	if groups == nil {
		return nil
	}
	for k, s := range srcs {
		if s.heredoc != nil {
			h.srcs = append(h.srcs, "")
		} else {
			h.srcs = append(h.srcs, groups[k])
		}
	}
	h.dest = groups[len(srcs)]
	for _, f := range flags {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "--chmod":
			if g, ok := given[k]; ok && sameMode(g, v) {
				v = g
			}
		case "--chown":
			if g, ok := given[k]; ok && sameOwnerSpec(g, v) {
				v = g
			}
		}
		if v != "" || strings.Contains(f, "=") {
			f = k + "=" + v
		}
		h.flags = append(h.flags, f)
	}
	if h.keyword == "ADD" && keyword == "COPY" {
		h.flags = append(h.flags, "--unpack=false")
	}
	return h
}

// groupWords splits words into n groups, joined back with spaces, each of
// which ok accepts as the k-th; nil when there is no such grouping.
func groupWords(words []string, n int, ok func(k int, w string) bool) []string {
	if n == 0 {
		if len(words) == 0 {
			return []string{}
		}
		return nil
	}
	for end := 1; end <= len(words)-(n-1); end++ {
		w := strings.Join(words[:end], " ")
		if !ok(0, w) {
			continue
		}
		rest := groupWords(words[end:], n-1, func(k int, w string) bool { return ok(k+1, w) })
		if rest != nil {
			return append([]string{w}, rest...)
		}
	}
	return nil
}

// sameSource reports whether a source as written and as decompiled name
// the same path. A git address may say in its query what the decompiled
// ADD says with a flag (checksum, keep-git-dir), which the ops do not tell
// apart; the flags stay written, and must agree with what the source has.
func sameSource(written string, src copySource) bool {
	decompiled := src.arg
	if a, isGit, err := dfgitutil.ParseGitRef(written); isGit && err == nil && !a.IndistinguishableFromLocal {
		b, _, err := dfgitutil.ParseGitRef(decompiled)
		skip := func(r *dfgitutil.GitRef) bool { return r.Submodules != nil && !*r.Submodules }
		return err == nil && a.Remote == b.Remote && a.Ref == b.Ref && a.SubDir == b.SubDir &&
			skip(a) == skip(b) && a.FetchByCommit == b.FetchByCommit &&
			src.git != nil && (a.Checksum == "" || a.Checksum == src.checksum) && (a.KeepGitDir == nil || *a.KeepGitDir == src.git.keepGit)
	}
	if strings.Contains(written, "://") {
		return written == decompiled
	}
	return path.Clean("/"+written) == path.Clean("/"+decompiled) && strings.Contains(written, "/./") == strings.Contains(decompiled, "/./")
}

// relativeToWorkdir resolves a COPY destination as the frontend does.
func relativeToWorkdir(dir, p string) (string, error) {
	if path.IsAbs(p) {
		return system.NormalizePath("/", p, "linux", true)
	}
	if p == "." || p == "" {
		p = "./"
	}
	return system.NormalizePath(dir, p, "linux", true)
}

// sameDest reports whether two destinations make the same copy: llb
// cleans the path ("/etc/php//x", from a variable that was empty, is
// "/etc/php/x"), and a trailing slash means a directory.
func sameDest(a, b string) bool {
	return a == b || (strings.HasSuffix(a, "/") == strings.HasSuffix(b, "/") && path.Clean(a) == path.Clean(b))
}

func sameMode(a, b string) bool {
	if a == b {
		return true
	}
	x, err1 := strconv.ParseUint(a, 8, 32)
	y, err2 := strconv.ParseUint(b, 8, 32)
	return err1 == nil && err2 == nil && x == y
}

func sameOwnerSpec(a, b string) bool {
	if a == b {
		return true
	}
	ua, ga, _ := strings.Cut(a, ":")
	ub, gb, _ := strings.Cut(b, ":")
	if ua == "" {
		ua = "0" // --chown=: is root's, as llb reads it
	}
	return ownerID(ua) == ownerID(ub) && (ownerID(ga) == ownerID(gb) || gb == "")
}

// ownerID is a --chown user or group as llb reads it: root is 0, and a
// number is the number ("0001" is 1).
func ownerID(s string) string {
	if s == "root" {
		return "0"
	}
	if n, err := strconv.ParseInt(s, 10, 32); err == nil {
		return strconv.FormatInt(n, 10)
	}
	return s
}

// from names a state as the value of --from: a stage name, an image
// reference, or "" for the build context.
func (d *decompiler) from(dg digest.Digest, r ref) (string, error) {
	if s, ok := d.named[r]; ok {
		return s.name, nil
	}
	if r.scratch() {
		return "scratch", nil
	}
	op := d.g.ops[r.op]
	src := op.GetSource()
	if src == nil {
		return "", opError(dg, "reads a %s op that is not a stage", kind(op))
	}
	if named, ok := imageRef(src.Identifier); ok {
		if len(src.Attrs) > 0 {
			return "", opError(r.op, "image source attributes %v have no --from form", src.Attrs)
		}
		return reference.FamiliarString(named), nil
	}
	if src.Identifier == "local://context" {
		return "", nil
	}
	return "", opError(r.op, "source %s as --from, which slipway does not decompile yet (a named build context)", src.Identifier)
}

// chown writes an owner as --chown's value.
func chown(o *pb.ChownOpt) (string, error) {
	if o == nil {
		return "", nil
	}
	one := func(u *pb.UserOpt) (string, error) {
		switch u := u.User.(type) {
		case *pb.UserOpt_ByID:
			return strconv.FormatUint(uint64(u.ByID), 10), nil
		case *pb.UserOpt_ByName:
			return u.ByName.Name, nil
		}
		return "", fmt.Errorf("an owner without a user")
	}
	if o.User == nil {
		return "", fmt.Errorf("an owner without a user")
	}
	s, err := one(o.User)
	if err != nil {
		return "", err
	}
	if o.Group != nil {
		g, err := one(o.Group)
		if err != nil {
			return "", err
		}
		s += ":" + g
	}
	return s, nil
}
