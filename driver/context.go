package driver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	gofs "io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/patternmatcher/ignorefile"
	"github.com/tonistiigi/fsutil"

	"github.com/slipway-build/slipway/dsl"
)

// isRemoteContext reports a named context the daemon fetches, not a
// directory the client sends.
func isRemoteContext(v string) bool {
	return strings.Contains(v, "://") || strings.HasPrefix(v, "git@")
}

// ignorePatterns reads the context's .dockerignore, as docker build does;
// a missing file excludes nothing.
func (o BuildOptions) ignorePatterns() ([]string, error) {
	dir := o.ContextDir
	if dir == "" {
		dir = "."
	}
	return readIgnore(dir)
}

// contextOptions are the compile options for the named contexts: each one's
// .dockerignore.
func (o BuildOptions) contextOptions() ([]dsl.CompileOption, error) {
	var opts []dsl.CompileOption
	for name, dir := range o.Contexts {
		if strings.HasPrefix(dir, ociLayoutScheme) {
			// The session carries the layout's store (solve); the DSL
			// names it as the frontend does.
			l, err := parseOCILayout(dir)
			if err != nil {
				return nil, fmt.Errorf("build context %s: %w", name, err)
			}
			spec, err := l.spec()
			if err != nil {
				return nil, fmt.Errorf("build context %s: %w", name, err)
			}
			opts = append(opts, dsl.WithNamedContext(name, spec))
			continue
		}
		if isRemoteContext(dir) {
			opts = append(opts, dsl.WithNamedContext(name, dir))
			continue
		}
		// FROM NAME and a copy from it read the directory too.
		opts = append(opts, dsl.WithNamedContext(name, "local:"+name))
		fi, err := os.Stat(dir)
		if err != nil {
			return nil, fmt.Errorf("build context %s: %w", name, err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("build context %s: %s is not a directory", name, dir)
		}
		ignore, err := readIgnore(dir)
		if err != nil {
			return nil, fmt.Errorf("build context %s: %w", name, err)
		}
		opts = append(opts, dsl.WithContextIgnorePatterns(name, ignore))
	}
	return opts, nil
}

func readIgnore(dir string) ([]string, error) {
	f, err := os.Open(filepath.Join(dir, ".dockerignore"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading .dockerignore: %w", err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", f.Name(), err)
	}
	return patterns, nil
}

// contextName is the name of the build context's local source, as the
// Dockerfile frontend (and package dsl) name it.
const contextName = "context"

// buildContext opens the context directory and derives its identity on the
// daemon from the host and the absolute path, as buildx does, so that
// builds of the same directory reuse the daemon's file-sync state.
func (o BuildOptions) buildContext() (fsutil.FS, string, error) {
	dir := o.ContextDir
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, "", fmt.Errorf("build context %s: %w", dir, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, "", fmt.Errorf("build context: %w", err)
	}
	if !fi.IsDir() {
		return nil, "", fmt.Errorf("build context %s is not a directory", dir)
	}
	fs, err := fsutil.NewFS(abs)
	if err != nil {
		return nil, "", fmt.Errorf("build context %s: %w", dir, err)
	}
	host, _ := os.Hostname()
	sum := sha256.Sum256([]byte(host + "\x00" + abs))
	return guardedFS{FS: fs, dir: abs}, "slipway-" + hex.EncodeToString(sum[:])[:20], nil
}

// contextsStillThere fails when a context directory the build read is gone.
func (o BuildOptions) contextsStillThere(compiled *dsl.Result, perPlatform map[string]*dsl.Result) error {
	results := []*dsl.Result{compiled}
	for _, r := range perPlatform {
		results = append(results, r)
	}
	for _, r := range results {
		if r == nil || r.Definition == nil {
			continue
		}
		for _, dt := range r.Definition.Def {
			var op pb.Op
			if err := op.UnmarshalVT(dt); err != nil {
				return err
			}
			name, ok := strings.CutPrefix(op.GetSource().GetIdentifier(), "local://")
			if !ok {
				continue
			}
			dir := o.Contexts[name]
			if name == contextName || o.member != nil && name == o.member.contextName {
				dir = o.ContextDir
				if dir == "" {
					dir = "."
				}
			}
			if dir == "" || isRemoteContext(dir) {
				continue
			}
			abs, err := filepath.Abs(dir)
			if err != nil {
				return err
			}
			if err := (guardedFS{dir: abs}).check(); err != nil {
				return err
			}
		}
	}
	return nil
}

// guardedFS is a build context that fails when its directory is gone by
// the time the daemon reads it: fsutil would send a vanished directory as
// an empty one, and the build would copy nothing without a word.
type guardedFS struct {
	fsutil.FS
	dir string
}

func (g guardedFS) check() error {
	if fi, err := os.Stat(g.dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("build context %s vanished during the build", g.dir)
	}
	return nil
}

// Walk walks the context, and fails if the directory is gone before or
// while it is walked.
func (g guardedFS) Walk(ctx context.Context, target string, fn gofs.WalkDirFunc) error {
	if err := g.check(); err != nil {
		return err
	}
	if err := g.FS.Walk(ctx, target, fn); err != nil {
		return err
	}
	return g.check()
}

// Open opens a file of the context; a file that cannot be opened because
// the whole directory is gone says so.
func (g guardedFS) Open(p string) (io.ReadCloser, error) {
	rc, err := g.FS.Open(p)
	if err != nil {
		if cerr := g.check(); cerr != nil {
			return nil, cerr
		}
	}
	return rc, err
}

// addContexts puts the build context and the named contexts in the
// session: directories as local mounts, OCI layouts as content stores. It
// returns the build context's identity on the daemon.
func (o BuildOptions) addContexts(opt *client.SolveOpt) (string, error) {
	fs, contextID, err := o.buildContext()
	if err != nil {
		return "", err
	}
	opt.LocalMounts = map[string]fsutil.FS{contextName: fs}
	for name, dir := range o.Contexts {
		if err := addNamedContext(opt, name, dir); err != nil {
			return "", fmt.Errorf("build context %s: %w", name, err)
		}
	}
	if o.WrapContext != nil {
		for name, fs := range opt.LocalMounts {
			opt.LocalMounts[name] = o.WrapContext(name, fs)
		}
	}
	return contextID, nil
}

// addNamedContext puts one named context in the session; a remote one
// needs nothing, the daemon fetches it.
func addNamedContext(opt *client.SolveOpt, name, dir string) error {
	if strings.HasPrefix(dir, ociLayoutScheme) {
		l, err := parseOCILayout(dir)
		if err != nil {
			return err
		}
		id, store, err := l.store()
		if err != nil {
			return err
		}
		if opt.OCIStores == nil {
			opt.OCIStores = map[string]content.Store{}
		}
		opt.OCIStores[id] = store
		return nil
	}
	if isRemoteContext(dir) {
		return nil
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		if err == nil {
			err = fmt.Errorf("%s is not a directory", dir)
		}
		return err
	}
	nfs, err := fsutil.NewFS(dir)
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	opt.LocalMounts[name] = guardedFS{FS: nfs, dir: abs}
	return nil
}
