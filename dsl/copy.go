package dsl

import (
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerfile/dfgitutil"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/system"
	digest "github.com/opencontainers/go-digest"
	mode "github.com/tonistiigi/dchapes-mode"
)

// CopyOption is a flag of COPY and ADD. A [Stage] is one too: it is the
// source to copy from, as --from=stage is:
//
//	final.Copy("/out/app", "/usr/local/bin/app", builder, dsl.Chmod("0755"))
type CopyOption interface {
	setCopy(*copyOpts)
}

type copyOpts struct {
	from       *Stage
	chown      string
	chmod      string
	link       bool
	parents    bool
	exclude    []string
	unpack     *bool
	checksum   string
	keepGitDir *bool
	contents   []inlineFile
}

// inlineFile is a heredoc source of COPY: COPY <<name dest.
type inlineFile struct {
	name, data string
	expand     bool
}

type copyOptionFunc func(*copyOpts)

func (f copyOptionFunc) setCopy(o *copyOpts) { f(o) }

// setCopy makes a Stage the source of a COPY, as --from does.
func (s Stage) setCopy(o *copyOpts) { o.from = &s }

// Chown sets the owner of copied files, as --chown=user:group does.
func Chown(owner string) CopyOption { return copyOptionFunc(func(o *copyOpts) { o.chown = owner }) }

// Chmod sets the mode of copied files, as --chmod does: octal ("0755") or
// symbolic ("u=rwx,go=rx").
func Chmod(m string) CopyOption { return copyOptionFunc(func(o *copyOpts) { o.chmod = m }) }

// Link copies into a layer of its own, as --link does, so the layer does not
// depend on what is below it.
func Link() CopyOption { return copyOptionFunc(func(o *copyOpts) { o.link = true }) }

// Parents keeps the source paths' parent directories, as --parents does.
func Parents() CopyOption { return copyOptionFunc(func(o *copyOpts) { o.parents = true }) }

// Exclude leaves out files matching the patterns, as --exclude does.
func Exclude(patterns ...string) CopyOption {
	return copyOptionFunc(func(o *copyOpts) { o.exclude = append(o.exclude, patterns...) })
}

// Unpack sets whether ADD extracts archives (--unpack).
func Unpack(v bool) CopyOption { return copyOptionFunc(func(o *copyOpts) { o.unpack = &v }) }

// Inline adds a file with the given content to the sources, as a heredoc
// does in COPY <<name dest: name is the file's name when dest is a
// directory. The content is taken as it is.
func Inline(name, content string) CopyOption {
	return copyOptionFunc(func(o *copyOpts) { o.contents = append(o.contents, inlineFile{name: name, data: content}) })
}

// InlineExpanded is Inline with $VAR expanded in the content against the
// stage's environment, as an unquoted heredoc delimiter does.
func InlineExpanded(name, content string) CopyOption {
	return copyOptionFunc(func(o *copyOpts) {
		o.contents = append(o.contents, inlineFile{name: name, data: content, expand: true})
	})
}

// CopyInline writes content to dest, as COPY <<name dest does; it is
// CopyPaths(nil, dest, Inline(name, content), opts...).
func (s Stage) CopyInline(name, content, dest string, opts ...CopyOption) Stage {
	return CopyPaths(nil, dest, append([]CopyOption{Inline(name, content)}, opts...)...)(s)
}

// Checksum pins what ADD fetches from a URL or git repository, as
// --checksum=sha256:… (or a commit for git) does; a mismatch fails the build.
func Checksum(c string) CopyOption { return copyOptionFunc(func(o *copyOpts) { o.checksum = c }) }

// KeepGitDir keeps the .git directory of an ADDed git repository, as
// --keep-git-dir does.
func KeepGitDir(v bool) CopyOption { return copyOptionFunc(func(o *copyOpts) { o.keepGitDir = &v }) }

// Copy copies a file or directory from the build context (or, with a Stage
// among the options, from that stage) to dest, as COPY src dest does. src
// may hold wildcards; a relative dest is taken from the working directory.
func (s Stage) Copy(src, dest string, opts ...CopyOption) Stage { return Copy(src, dest, opts...)(s) }

// Copy is the free-function form of [Stage.Copy].
func Copy(src, dest string, opts ...CopyOption) StageOption {
	return CopyPaths([]string{src}, dest, opts...)
}

// CopyPaths copies several sources to dest, as COPY a b c dest/ does.
func (s Stage) CopyPaths(srcs []string, dest string, opts ...CopyOption) Stage {
	return CopyPaths(srcs, dest, opts...)(s)
}

// CopyPaths is the free-function form of [Stage.CopyPaths].
func CopyPaths(srcs []string, dest string, opts ...CopyOption) StageOption {
	return func(s Stage) Stage { return s.then(newCopy(false, srcs, dest, opts)) }
}

// Add is COPY with ADD's extras: a local archive is extracted (unless
// [Unpack](false)), as ADD src dest does.
func (s Stage) Add(src, dest string, opts ...CopyOption) Stage { return Add(src, dest, opts...)(s) }

// Add is the free-function form of [Stage.Add].
func Add(src, dest string, opts ...CopyOption) StageOption {
	return AddPaths([]string{src}, dest, opts...)
}

// AddPaths adds several sources to dest, as ADD a b dest/ does.
func (s Stage) AddPaths(srcs []string, dest string, opts ...CopyOption) Stage {
	return AddPaths(srcs, dest, opts...)(s)
}

// AddPaths is the free-function form of [Stage.AddPaths].
func AddPaths(srcs []string, dest string, opts ...CopyOption) StageOption {
	return func(s Stage) Stage { return s.then(newCopy(true, srcs, dest, opts)) }
}

func newCopy(add bool, srcs []string, dest string, opts []CopyOption) *copyIns {
	in := &copyIns{add: add, srcs: append([]string(nil), srcs...), dest: dest}
	for _, o := range opts {
		if o != nil {
			o.setCopy(&in.opts)
		}
	}
	return in
}

type copyIns struct {
	add  bool
	srcs []string
	dest string
	opts copyOpts
}

func (in *copyIns) keyword() string {
	if in.add {
		return "ADD"
	}
	return "COPY"
}

func (c *compiler) dispatchCopy(d *stageState, in *copyIns) error {
	if len(in.srcs) == 0 && len(in.opts.contents) == 0 {
		return fmt.Errorf("no source given: %w", ErrInvalid)
	}
	o := in.opts
	var source llb.State
	fromContext := o.from == nil
	var paths map[string]struct{} // of the local source read, if any
	if fromContext {
		source = c.contextState()
		paths = c.contextPaths
	} else {
		st, err := c.stage(*o.from)
		if err != nil {
			return fmt.Errorf("--from: %w", err)
		}
		source = st.state
		if st.contextName != "" {
			paths = c.named[st.contextName].paths
		}
	}
	// Sources and dest are Dockerfile words.
	srcs := make([]string, len(in.srcs))
	for i, s := range in.srcs {
		if s == "" {
			return fmt.Errorf("empty source path: %w", ErrInvalid)
		}
		// A word that expands to nothing means the root of the source, as
		// in the frontend.
		w, err := d.expand(s)
		if err != nil {
			return fmt.Errorf("source %q: %w", s, err)
		}
		srcs[i] = w
	}
	destWord, err := d.expand(in.dest)
	if err != nil {
		return fmt.Errorf("destination %q: %w", in.dest, err)
	}
	chown, err := d.expand(o.chown)
	if err != nil {
		return fmt.Errorf("--chown %q: %w", o.chown, err)
	}
	chmod, err := d.expand(o.chmod)
	if err != nil {
		return fmt.Errorf("--chmod %q: %w", o.chmod, err)
	}
	// ADD's --checksum is a word too: an ARG without a value makes it
	// empty, which is no checksum.
	if o.checksum, err = d.expand(o.checksum); err != nil {
		return fmt.Errorf("--checksum %q: %w", in.opts.checksum, err)
	}
	dest, err := c.relativeToWorkdir(d, destWord)
	if err != nil {
		return fmt.Errorf("destination %q: %w", in.dest, err)
	}

	var copyOpt []llb.CopyOption
	if chown != "" {
		if o.link && chownByName(chown) {
			return fmt.Errorf("--chown=%s: user and group names can't be resolved when used with --link, use numeric uid[:gid] instead: %w", chown, ErrInvalid)
		}
		copyOpt = append(copyOpt, llb.WithUser(chown))
	}
	if len(o.exclude) > 0 {
		copyOpt = append(copyOpt, llb.WithExcludePatterns(o.exclude))
	}
	chopt, err := parseChmod(chmod)
	if err != nil {
		return err
	}

	msg := in.keyword()
	if o.parents {
		msg += " --parents"
	}
	if chown != "" {
		msg += " --chown=" + chown
	}
	if chmod != "" {
		msg += " --chmod=" + chmod
	}
	display := msg
	var a *llb.FileAction
	if o.checksum != "" {
		if !in.add {
			return fmt.Errorf("--checksum is only for Add: %w", ErrInvalid)
		}
		if len(srcs) != 1 {
			return fmt.Errorf("--checksum needs exactly one source: %w", ErrInvalid)
		}
		if !isHTTPSource(srcs[0]) && !isGitSource(srcs[0]) {
			return fmt.Errorf("--checksum needs a URL or git source: %w", ErrInvalid)
		}
	}
	// The step's display name, computed once, as the frontend numbers it
	// before it looks at the sources.
	shown := slices.Clone(in.srcs)
	for _, f := range o.contents {
		shown = append(shown, "<<"+f.name)
	}
	name := display + " " + strings.Join(shown, " ") + " " + in.dest
	if w, err := d.expand(name); err == nil {
		name = w
	}
	pgName := d.prefix(name)
	for _, src := range srcs {
		msg += " " + src
		var gitRef *dfgitutil.GitRef
		var isGit bool
		gitErr := errNotRemote
		if strings.Contains(src, ":") { // every URL and scp-style remote has one
			gitRef, isGit, gitErr = dfgitutil.ParseGitRef(src)
		}
		if gitErr != nil && isGit {
			return fmt.Errorf("source %q: %v: %w", src, gitErr, ErrInvalid)
		}
		if gitErr == nil && !gitRef.IndistinguishableFromLocal {
			if !in.add {
				return fmt.Errorf("source %q: COPY cannot fetch a git repository, use Add: %w", src, ErrInvalid)
			}
			st, err := gitSource(gitRef, o, pgName)
			if err != nil {
				return fmt.Errorf("source %q: %w", src, err)
			}
			opts := append([]llb.CopyOption{&llb.CopyInfo{Mode: chopt, CreateDestPath: true}}, copyOpt...)
			a = addCopy(a, st, "/", dest, opts)
			continue
		}
		if isHTTPSource(src) {
			if !in.add {
				return fmt.Errorf("source %q: COPY cannot fetch a URL, use Add: %w", src, ErrInvalid)
			}
			f := "__unnamed__"
			if u, err := url.Parse(src); err == nil {
				if base := path.Base(u.Path); base != "." && base != "/" {
					f = base
				}
			}
			var sum digest.Digest
			if o.checksum != "" {
				if sum, err = digest.Parse(o.checksum); err != nil {
					return fmt.Errorf("--checksum %q: %v: %w", o.checksum, err, ErrInvalid)
				}
			}
			st := llb.HTTP(src, llb.Filename(f), llb.WithCustomName(pgName), llb.Checksum(sum))
			unpack := false
			if o.unpack != nil {
				unpack = *o.unpack
			}
			opts := append([]llb.CopyOption{&llb.CopyInfo{Mode: chopt, CreateDestPath: true, AttemptUnpack: unpack}}, copyOpt...)
			a = addCopy(a, st, f, dest, opts)
			continue
		}
		if paths != nil {
			paths[path.Join("/", filepath.ToSlash(src))] = struct{}{}
		}
		var patterns, required []string
		if o.parents {
			parent, pattern, ok := strings.Cut(src, "/./")
			if !ok {
				pattern, src = src, "/"
			} else {
				src = parent
			}
			pattern, err = system.NormalizePath("/", pattern, d.platform.OS, false)
			if err != nil {
				return fmt.Errorf("source %q: %w", src, err)
			}
			patterns = []string{strings.TrimPrefix(pattern, "/")}
			if !containsWildcards(src) && !containsWildcards(pattern) {
				rp, err := system.NormalizePath("/", filepath.Join(src, pattern), d.platform.OS, false)
				if err != nil {
					return fmt.Errorf("source %q: %w", src, err)
				}
				required = []string{rp}
			}
		}
		norm, err := system.NormalizePath("/", src, d.platform.OS, false)
		if err != nil {
			return fmt.Errorf("source %q: %w", src, err)
		}
		unpack := in.add
		if o.unpack != nil {
			unpack = *o.unpack
		}
		opts := append([]llb.CopyOption{&llb.CopyInfo{
			Mode:                chopt,
			FollowSymlinks:      true,
			CopyDirContentsOnly: true,
			IncludePatterns:     patterns,
			RequiredPaths:       required,
			AttemptUnpack:       unpack,
			CreateDestPath:      true,
			AllowWildcard:       true,
			AllowEmptyWildcard:  true,
		}}, copyOpt...)
		a = addCopy(a, source, norm, dest, opts)
	}
	for _, f := range o.contents {
		msg += " <<" + f.name
		if f.name == "" {
			return fmt.Errorf("inline file with no name: %w", ErrInvalid)
		}
		data := f.data
		if f.expand {
			lex := shell.NewLex('\\')
			lex.SkipProcessQuotes = true
			w, _, err := lex.ProcessWord(data, envOf(d.state))
			if err != nil {
				return fmt.Errorf("inline file %s: %w", f.name, err)
			}
			data = w
		}
		name, err := system.CheckSystemDriveAndRemoveDriveLetter(f.name, d.platform.OS, false)
		if err != nil {
			return fmt.Errorf("inline file %s: %w", f.name, err)
		}
		st := llb.Scratch().File(llb.Mkfile(name, 0o644, []byte(data)),
			llb.WithCustomName("[internal] preparing inline document"), llb.Platform(d.platform))
		opts := append([]llb.CopyOption{&llb.CopyInfo{Mode: chopt, CreateDestPath: true}}, copyOpt...)
		a = addCopy(a, st, system.ToSlash(name, d.platform.OS), dest, opts)
	}
	msg += " " + destWord
	if o.link && chmod == "" && c.supports(pb.CapMergeOp) {
		// --link: the copy goes into a layer of its own, merged on top, so
		// the layer's cache key does not depend on what is below it.
		d.cmdIndex--
		linkName := d.prefix("LINK " + name)
		// A fixed progress-group ID (the frontend's is random) keeps the
		// LLB's bytes the same on every compile.
		pgID := digest.FromString(d.name + "\x00" + pgName).Encoded()[:25]
		layer := llb.Scratch().File(a, llb.Platform(d.platform), llb.WithCustomName(pgName), llb.ProgressGroup(pgID, pgName, true))
		d.state = d.state.WithOutput(llb.Merge([]llb.State{d.state, layer},
			llb.ProgressGroup(pgID, pgName, false), llb.WithCustomName(linkName)).Output())
	} else {
		d.state = d.state.File(a, llb.WithCustomName(pgName))
	}
	d.commit(msg+" # buildkit", true)
	return nil
}

var errNotRemote = fmt.Errorf("not a remote source")

func addCopy(a *llb.FileAction, src llb.State, p, dest string, opts []llb.CopyOption) *llb.FileAction {
	if a == nil {
		return llb.Copy(src, p, dest, opts...)
	}
	return a.Copy(src, p, dest, opts...)
}

// gitSource is the git checkout an ADD of a git URL fetches, with the
// options the URL and the flags give, as the frontend builds it.
func gitSource(ref *dfgitutil.GitRef, o copyOpts, name string) (llb.State, error) {
	opts := []llb.GitOption{llb.WithCustomName(name), llb.GitRef(ref.Ref)}
	keep := o.keepGitDir
	if keep != nil && ref.KeepGitDir != nil && *keep != *ref.KeepGitDir {
		return llb.State{}, fmt.Errorf("--keep-git-dir disagrees with the URL's keep-git-dir: %w", ErrInvalid)
	}
	if ref.KeepGitDir != nil {
		keep = ref.KeepGitDir
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

// relativeToWorkdir resolves a COPY destination as the frontend does: an
// absolute path is cleaned, "." or "" means the working directory, and a
// trailing slash is kept (it says "into this directory").
func (c *compiler) relativeToWorkdir(d *stageState, p string) (string, error) {
	dir, err := d.state.GetDir(c.ctx, llb.Platform(d.platform))
	if err != nil {
		return "", err
	}
	p, err = system.CheckSystemDriveAndRemoveDriveLetter(p, d.platform.OS, true)
	if err != nil {
		return "", err
	}
	if system.IsAbs(p, d.platform.OS) {
		return system.NormalizePath("/", p, d.platform.OS, true)
	}
	if p == "." || p == "" {
		p = "./"
	}
	return system.NormalizePath(dir, p, d.platform.OS, true)
}

func parseChmod(s string) (*llb.ChmodOpt, error) {
	if s == "" {
		return nil, nil
	}
	bad := fmt.Errorf("--chmod %q: it should be an octal string between 0 and 07777 or a symbolic mode: %w", s, ErrInvalid)
	if p, err := strconv.ParseUint(s, 8, 32); err == nil {
		if p > 0o7777 {
			return nil, bad
		}
		return &llb.ChmodOpt{Mode: os.FileMode(p)}, nil
	}
	if _, err := mode.Parse(s); err != nil {
		return nil, bad
	}
	return &llb.ChmodOpt{ModeStr: s}, nil
}

// chownByName reports a --chown naming a user or group rather than ids.
func chownByName(chown string) bool {
	co, ok := llb.WithUser(chown).(llb.ChownOpt)
	if !ok {
		return false
	}
	return (co.User != nil && co.User.Name != "") || (co.Group != nil && co.Group.Name != "")
}

func containsWildcards(name string) bool {
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '*', '?', '[':
			return true
		case '\\':
			i++
		}
	}
	return false
}
