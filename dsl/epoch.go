package dsl

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerui"
	gwclient "github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/gitutil/gitobject"
	"github.com/moby/go-archive/compression"
)

// SourceResolver is what SOURCE_DATE_EPOCH=NAME needs of the daemon when
// NAME is a named context: the source's metadata (a git commit, an http
// file's Last-Modified) and, for an http file without one, the file
// itself. A gateway client (gwclient.Client) is one; the driver passes it.
type SourceResolver interface {
	sourceresolver.MetaResolver
	Solve(ctx context.Context, req gwclient.SolveRequest) (*gwclient.Result, error)
}

// WithSourceResolver lets SOURCE_DATE_EPOCH name a named context that is a
// git repository (the epoch is its commit's time) or an http(s) file (its
// Last-Modified, else the newest file in it if it is an archive), as the
// frontend allows.
func WithSourceResolver(r SourceResolver) CompileOption {
	return func(o *compileOptions) { o.sources = r }
}

// sourceDateEpoch is the time SOURCE_DATE_EPOCH=v (from what, a build arg
// or a global ARG) stands for, as the frontend reads it:
//   - seconds since 1970;
//   - "context": the main context's time; the DSL's is always a directory,
//     which has none, as the frontend finds for one;
//   - the name of a named context: a git repository's commit time, an http
//     file's time, and none for a directory or an image.
//
// The frontend also takes the name of a stage made of one remote ADD; DSL
// stages are Go values, and a named context says the same. nil means no
// time: the build then has no SOURCE_DATE_EPOCH at all.
func (c *compiler) sourceDateEpoch(what, v string) (*time.Time, error) {
	if sde, err := strconv.ParseInt(v, 10, 64); err == nil {
		tm := time.Unix(sde, 0).UTC()
		return &tm, nil
	}
	if v == "context" {
		return nil, nil
	}
	// Looked up as the frontend's client looks it up with no platform: for
	// the default platform first, then by the name alone.
	key, spec, ok := c.namedSpec(v, platforms.DefaultSpec())
	if !ok {
		return nil, fmt.Errorf("%s SOURCE_DATE_EPOCH=%q: want seconds since 1970, \"context\" or the name of a named context (--build-context, dsl.WithNamedContext): %w", what, v, ErrInvalid)
	}
	st, ok, err := remoteContextState(key, spec)
	if err != nil {
		return nil, fmt.Errorf("%s SOURCE_DATE_EPOCH=%q: %w", what, v, err)
	}
	if !ok {
		return nil, nil // a directory or an image has no time of its own
	}
	if c.opt.sources == nil {
		return nil, fmt.Errorf("%s SOURCE_DATE_EPOCH=%q: the time of named context %s=%s comes from the daemon, which builds ask but an offline compile cannot (dsl.WithSourceResolver): %w", what, v, key, spec, ErrInvalid)
	}
	tm, err := c.sourceTime(st, "[internal] resolve SOURCE_DATE_EPOCH named context "+v)
	if err != nil {
		return nil, fmt.Errorf("%s SOURCE_DATE_EPOCH=%q: named context %s: %w", what, v, key, err)
	}
	return tm, nil
}

// remoteContextState is the source of a named context the daemon fetches,
// a git repository or an http(s) file, read as the frontend reads one;
// ok is false for any other kind.
func remoteContextState(key, spec string) (llb.State, bool, error) {
	kind, _, _ := strings.Cut(spec, ":")
	if strings.HasPrefix(kind, "git@") {
		kind = "git" // an ssh URL without a scheme, as the frontend allows
	}
	if kind != "git" && kind != "http" && kind != "https" {
		return llb.State{}, false, nil
	}
	// BuildKit's own detection tells a repository from a file.
	st, isGit, err := dockerui.DetectGitContext(spec, nil)
	switch {
	case isGit && err != nil:
		return llb.State{}, false, err
	case !isGit && kind == "git":
		return llb.State{}, false, errors.New("not a git URL")
	case !isGit:
		return llb.HTTP(spec, llb.Filename("context"), llb.WithCustomName("[context "+key+"] "+spec)), true, nil
	}
	return *st, true, nil
}

// sourceTime asks the daemon for the time of st's one source, as the
// frontend does: a git commit's committer time, an http file's
// Last-Modified, or for an http file without one, the newest regular file
// in it when it is an archive.
func (c *compiler) sourceTime(st llb.State, logName string) (*time.Time, error) {
	def, err := st.Marshal(c.ctx)
	if err != nil {
		return nil, err
	}
	var src *pb.SourceOp
	for _, dt := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			return nil, err
		}
		if s := op.GetSource(); s != nil {
			src = &pb.SourceOp{Identifier: s.Identifier, Attrs: maps.Clone(s.Attrs)}
		}
	}
	if src == nil {
		return nil, nil
	}
	opt := sourceresolver.Opt{LogName: logName}
	if strings.HasPrefix(src.Identifier, "git://") {
		opt.GitOpt = &sourceresolver.ResolveGitOpt{ReturnObject: true}
	}
	md, err := c.opt.sources.ResolveSourceMetadata(c.ctx, src, opt)
	if err != nil {
		return nil, err
	}
	if md.Git != nil && len(md.Git.CommitObject) > 0 {
		obj, err := gitobject.Parse(md.Git.CommitObject)
		if err != nil {
			return nil, err
		}
		commit, err := obj.ToCommit()
		if err != nil {
			return nil, err
		}
		return commit.Committer.When, nil
	}
	if md.HTTP != nil && md.HTTP.LastModified != nil {
		return md.HTTP.LastModified, nil
	}
	filename := src.Attrs[pb.AttrHTTPFilename]
	isHTTP := strings.HasPrefix(src.Identifier, "http://") || strings.HasPrefix(src.Identifier, "https://")
	if !isHTTP || filename == "" {
		return nil, nil
	}
	res, err := c.opt.sources.Solve(c.ctx, gwclient.SolveRequest{Definition: def.ToPB()})
	if err != nil {
		return nil, err
	}
	ref, err := res.SingleRef()
	if err != nil {
		return nil, err
	}
	dt, err := dockerui.ReadFile(c.ctx, ref, filename)
	if err != nil {
		return nil, err
	}
	return archiveMaxTime(dt), nil
}

// archiveMaxTime is the newest modification time of a regular file in a
// (possibly compressed) tar archive, or nil when dt is not one.
func archiveMaxTime(dt []byte) *time.Time {
	rc, err := compression.DecompressStream(bytes.NewReader(dt))
	if err != nil {
		return nil
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var newest *time.Time
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return newest
		}
		if err != nil {
			return nil
		}
		if !hdr.FileInfo().Mode().IsRegular() {
			continue
		}
		if tm := hdr.ModTime.UTC(); newest == nil || tm.After(*newest) {
			newest = &tm
		}
	}
}

// globalEpoch is the value the global ARGs of the target's FROM give
// SOURCE_DATE_EPOCH, if they declare it.
func (c *compiler) globalEpoch(s Stage) (string, bool, error) {
	for {
		ins := s.instructions()
		if len(ins) == 0 {
			return "", false, nil
		}
		switch from := ins[0].(type) {
		case *fromStageIns:
			s = from.base
			continue
		case *fromIns:
			declared := false
			for _, g := range from.globals {
				declared = declared || g.name == "SOURCE_DATE_EPOCH"
			}
			if !declared {
				return "", false, nil
			}
			lex := c.lexer('\\')
			if from.escape != 0 {
				lex = c.lexer(from.escape)
			}
			args, err := c.metaArgs(&stageState{lex: lex}, from.globals)
			if err != nil {
				return "", false, place(s, "", stepErr(1, "FROM", err))
			}
			v, ok := args.Get("SOURCE_DATE_EPOCH")
			return v, ok, nil
		default:
			return "", false, nil
		}
	}
}

// epochSeconds is SOURCE_DATE_EPOCH as the frontend writes it back.
func (c *compiler) epochSeconds() string { return strconv.FormatInt(c.epoch.Unix(), 10) }

// resolveEpoch reads SOURCE_DATE_EPOCH from the build args, else, as the
// frontend reads it, from a global ARG with a default, and sets the build
// arg to the time in seconds, or drops it when there is none.
func (c *compiler) resolveEpoch(ctx context.Context, s Stage) error {
	v, ok := c.opt.buildArgs["SOURCE_DATE_EPOCH"]
	what := "build arg"
	if !ok {
		var err error
		if v, ok, err = c.globalEpoch(s); err != nil {
			return err
		}
		what = "global ARG"
	}
	if ok && v != "" {
		c.ctx = ctx
		tm, err := c.sourceDateEpoch(what, v)
		if err != nil {
			return err
		}
		c.epochResolved = true
		c.epoch = tm
		// As the frontend does, the build arg then holds the time in
		// seconds, or is gone when there is none.
		c.opt.buildArgs = maps.Clone(c.opt.buildArgs)
		_, given := c.opt.buildArgs["SOURCE_DATE_EPOCH"]
		switch {
		case tm != nil:
			c.globalArgs = c.globalArgs.AddOrReplace("SOURCE_DATE_EPOCH", c.epochSeconds())
			if given {
				c.opt.buildArgs["SOURCE_DATE_EPOCH"] = c.epochSeconds()
			}
		case given:
			delete(c.opt.buildArgs, "SOURCE_DATE_EPOCH")
		}
	}
	return nil
}
