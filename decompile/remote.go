package decompile

import (
	"slices"
	"strings"

	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	"github.com/slipway-build/slipway/internal/frontend"
)

// The sources of ADD that are not paths: URLs and git repositories, and
// the flags and queries that say how they are fetched.

// gitAddr is the address of a git source: the repository, the
// fragment's ref and subdir, the query pairs that only the query form
// says, and whether the .git directory is kept.
type gitAddr struct {
	full, ref string
	query     []string
	keepGit   bool
}

// arg is the address as ADD's argument, with the query pairs extra: in the
// query form when it has any, else with the fragment.
func (g *gitAddr) arg(extra ...string) string {
	query := append(slices.Clone(g.query), extra...)
	if len(query) == 0 {
		if g.ref == "" {
			return g.full
		}
		return g.full + "#" + g.ref
	}
	gitRef, subdir, _ := strings.Cut(g.ref, ":")
	if subdir != "" {
		query = append(query, "subdir="+subdir)
	}
	if gitRef != "" {
		query = append(query, "ref="+gitRef)
	}
	slices.Sort(query)
	return g.full + "?" + strings.Join(query, "&")
}

// httpSource is the argument of ADD of a URL, whose source op is sop.
func (ci *copyInstr) httpSource(dg digest.Digest, i int, c *pb.FileActionCopy, sop digest.Digest, s *pb.SourceOp) (copySource, error) {
	name := frontend.HTTPFilename(s.Identifier)
	checksum := ""
	for k, v := range s.Attrs {
		switch k {
		case "http.filename":
			if v != name {
				return copySource{}, opError(sop, "http source saved as %q, not %q as ADD names it", v, name)
			}
		case "http.checksum":
			checksum = v
		default:
			return copySource{}, opError(sop, "http source attribute %s has no ADD flag", k)
		}
	}
	if c.Src != "/"+name || c.FollowSymlink || c.DirCopyContents || c.AllowWildcard {
		return copySource{}, opError(dg, "copy %d of %s is not the copy ADD makes", i, s.Identifier)
	}
	if ci.http && c.AttemptUnpackDockerCompatibility != ci.httpUnpack {
		return copySource{}, opError(dg, "copy %d unpacks and another URL's does not; one ADD --unpack says both", i)
	}
	ci.http, ci.httpUnpack = true, c.AttemptUnpackDockerCompatibility
	return copySource{arg: s.Identifier, checksum: checksum}, nil
}

// gitSource is the argument of ADD of a git repository, whose source op
// is sop.
func (ci *copyInstr) gitSource(dg digest.Digest, i int, c *pb.FileActionCopy, sop digest.Digest, s *pb.SourceOp) (copySource, error) {
	g := &gitAddr{full: s.Attrs["git.fullurl"]}
	if _, frag, ok := strings.Cut(s.Identifier, "#"); ok {
		g.ref = frag
	}
	checksum := ""
	for k, v := range s.Attrs {
		switch k {
		case "git.fullurl", "git.authheadersecret", "git.authtokensecret", "git.mountsshsock", "git.knownsshhosts":
		case "git.keepgitdir":
			g.keepGit = v == "true"
		case "git.checksum":
			checksum = v
		// Submodules and fetch-by-commit have no flag, only the query
		// form of the address (dfgitutil's loadQuery).
		case "git.skipsubmodules":
			if v == "true" {
				g.query = append(g.query, "submodules=false")
			}
		case "git.fetchbycommit":
			if v == "true" {
				g.query = append(g.query, "fetch-by-commit=true")
			}
		default:
			return copySource{}, opError(sop, "git source attribute %s has no ADD form", k)
		}
	}
	if g.full == "" || c.Src != "/" || c.FollowSymlink || c.DirCopyContents {
		return copySource{}, opError(dg, "copy %d of %s is not the copy ADD makes", i, s.Identifier)
	}
	ci.git = true
	return copySource{git: g, checksum: checksum}, nil
}

// remoteFlags sets --checksum and --keep-git-dir, and writes the git
// addresses. A single source, or git sources that all keep .git, take the
// flags. Else the address says it in its query, where the frontend carries
// it to the git sources after it (dispatchCopy; --checksum is for one
// source only): each value of the sources in order must be the default
// until one sets it, and that one after.
func (ci *copyInstr) remoteFlags(dg digest.Digest) error {
	if len(ci.srcs) == 1 {
		s := ci.srcs[0]
		ci.checksum = s.checksum
		if s.git != nil {
			ci.keepGit = s.git.keepGit
			ci.srcs[0].arg = s.git.arg()
		}
		return nil
	}
	ci.keepGit = ci.git && !slices.ContainsFunc(ci.srcs, func(s copySource) bool { return s.git != nil && !s.git.keepGit })
	keep, sum := ci.keepGit, ""
	for i, s := range ci.srcs {
		if s.git == nil {
			if s.checksum != "" {
				return opError(dg, "copy %d of %s has a checksum beside other sources, which ADD --checksum cannot say", i, s.arg)
			}
			continue
		}
		var extra []string
		if s.git.keepGit != keep {
			if keep {
				return opError(dg, "copy %d does not keep the .git directory an earlier source of the ADD keeps", i)
			}
			keep, extra = true, append(extra, "keep-git-dir=true")
		}
		if s.checksum != sum {
			if sum != "" {
				return opError(dg, "copy %d has checksum %q after an earlier source's %q, which one ADD cannot say", i, s.checksum, sum)
			}
			sum, extra = s.checksum, append(extra, "checksum="+s.checksum)
		}
		ci.srcs[i].arg = s.git.arg(extra...)
	}
	return nil
}
