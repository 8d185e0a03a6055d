package dsl

// ADD's remote sources: a file at a URL and a git repository.

import (
	"fmt"
	"strings"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerfile/dfgitutil"
	digest "github.com/opencontainers/go-digest"
	"github.com/slipway-build/slipway/internal/frontend"
)

// addHTTP adds the copy of a file fetched from a URL, as ADD does; the
// fetch is placed at the ADD's call, as every op of an instruction is.
func (cs *copyStep) addHTTP(d *stageState, src string) error {
	if !cs.in.add {
		return fmt.Errorf("source %q: COPY cannot fetch a URL, use Add: %w", src, ErrInvalid)
	}
	f := frontend.HTTPFilename(src)
	var sum digest.Digest
	if cs.o.checksum != "" {
		var err error
		if sum, err = digest.Parse(cs.o.checksum); err != nil {
			return fmt.Errorf("--checksum %q: %v: %w", cs.o.checksum, err, ErrInvalid)
		}
	}
	st := llb.HTTP(src, llb.Filename(f), llb.WithCustomName(cs.pgName), llb.Checksum(sum), d.source())
	unpack := false
	if cs.o.unpack != nil {
		unpack = *cs.o.unpack
	}
	cs.add(st, f, &llb.CopyInfo{Mode: cs.chopt, CreateDestPath: true, AttemptUnpack: unpack})
	return nil
}

var errNotRemote = fmt.Errorf("not a remote source")

// gitSource is the git checkout an ADD of a git URL fetches, with the
// options the URL and the flags give, as the frontend builds it. A
// keep-git-dir or checksum in the URL's query is kept in o, as the
// frontend's dispatchCopy keeps it for the sources after this one. The
// checkout is placed at the ADD's call (at), as every op of an instruction
// is.
func gitSource(ref *dfgitutil.GitRef, o *copyOpts, name string, at llb.ConstraintsOpt) (llb.State, error) {
	opts := []llb.GitOption{llb.WithCustomName(name), llb.GitRef(ref.Ref), at}
	keep := o.keepGitDir
	if keep != nil && ref.KeepGitDir != nil && *keep != *ref.KeepGitDir {
		return llb.State{}, fmt.Errorf("--keep-git-dir disagrees with the URL's keep-git-dir: %w", ErrInvalid)
	}
	if ref.KeepGitDir != nil {
		keep = ref.KeepGitDir
		o.keepGitDir = keep
	}
	if keep != nil && *keep {
		opts = append(opts, llb.KeepGitDir())
	}
	sum := o.checksum
	if sum != "" && ref.Checksum != "" && sum != ref.Checksum {
		return llb.State{}, fmt.Errorf("checksum mismatch %q != %q: %w", sum, ref.Checksum, ErrInvalid)
	}
	if ref.Checksum != "" {
		sum = ref.Checksum
		o.checksum = sum
	}
	if sum != "" {
		opts = append(opts, llb.GitChecksum(sum))
	}
	if ref.SubDir != "" {
		opts = append(opts, llb.GitSubDir(ref.SubDir))
	}
	if ref.Submodules != nil && !*ref.Submodules {
		opts = append(opts, llb.GitSkipSubmodules())
	}
	if ref.FetchByCommit {
		opts = append(opts, llb.GitFetchByCommit())
	}
	return llb.Git(ref.Remote, "", opts...), nil
}

func isHTTPSource(src string) bool {
	if !strings.HasPrefix(src, "http://") && !strings.HasPrefix(src, "https://") {
		return false
	}
	return !isGitSource(src)
}

func isGitSource(src string) bool {
	ref, isGit, _ := dfgitutil.ParseGitRef(src)
	return ref != nil && isGit
}
