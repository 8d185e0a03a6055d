package dsl

import (
	"fmt"
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

// Unpack sets whether ADD extracts archives, as --unpack=true|false does.
// Without it, ADD extracts local archives and not fetched ones; so
// Unpack(false) is not the same as leaving it out.
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
	return CopyInline(name, content, dest, opts...)(s)
}

// CopyInline is the free-function form of [Stage.CopyInline].
func CopyInline(name, content, dest string, opts ...CopyOption) StageOption {
	return CopyPaths(nil, dest, append([]CopyOption{Inline(name, content)}, opts...)...)
}

// Checksum pins what ADD fetches from a URL or git repository, as
// --checksum=sha256:… (or a commit for git) does; a mismatch fails the build.
func Checksum(c string) CopyOption { return copyOptionFunc(func(o *copyOpts) { o.checksum = c }) }

// KeepGitDir sets whether an ADDed git repository keeps its .git
// directory, as --keep-git-dir=true|false does. Without it, the URL's
// keep-git-dir= decides; given, it must agree with the URL.
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
	at := here()
	return func(s Stage) Stage { return s.thenAt(at, newCopy(false, srcs, dest, opts)) }
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
	at := here()
	return func(s Stage) Stage { return s.thenAt(at, newCopy(true, srcs, dest, opts)) }
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

// copyStep is a COPY or ADD being dispatched: its words expanded, and the
// file action its sources add to.
type copyStep struct {
	in *copyIns
	// o are the flags, the checksum expanded.
	o      copyOpts
	source llb.State
	// paths are those read of the local source, if any.
	paths    map[string]struct{}
	srcs     []string
	destWord string
	dest     string
	chown    string
	chmod    string
	chopt    *llb.ChmodOpt
	copyOpt  []llb.CopyOption
	// pgName is the step's name in the progress display, name without
	// its number.
	name   string
	pgName string
	a      *llb.FileAction
}

func (c *compiler) dispatchCopy(d *stageState, in *copyIns) error {
	if len(in.srcs) == 0 && len(in.opts.contents) == 0 {
		return fmt.Errorf("no source given: %w", ErrInvalid)
	}
	cs := &copyStep{in: in, o: in.opts}
	if err := c.copySource(cs); err != nil {
		return err
	}
	if err := c.expandCopy(d, cs); err != nil {
		return err
	}
	if err := cs.flags(); err != nil {
		return err
	}
	msg := cs.display()
	cs.name = msg + " " + strings.Join(cs.shown(), " ") + " " + in.dest
	if w, err := d.expand(cs.name); err == nil {
		cs.name = w
	}
	// The step is numbered once, as the frontend numbers it before it looks
	// at the sources.
	cs.pgName = d.prefix(cs.name)
	for _, src := range cs.srcs {
		msg += " " + src
		if err := cs.addSource(d, src); err != nil {
			return err
		}
	}
	for _, f := range cs.o.contents {
		msg += " <<" + f.name
		if err := cs.addInline(d, f); err != nil {
			return err
		}
	}
	msg += " " + cs.destWord
	c.applyCopy(d, cs)
	d.commit(msg+" # buildkit", true)
	return nil
}

// copySource is where a COPY reads from: the build context, or the stage
// of --from.
func (c *compiler) copySource(cs *copyStep) error {
	if cs.o.from == nil {
		cs.source = c.contextState()
		cs.paths = c.contextPaths
		return nil
	}
	st, err := c.stage(*cs.o.from)
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	cs.source = st.state
	if st.contextName != "" {
		cs.paths = c.named[st.contextName].paths
	}
	return nil
}

// expandCopy expands the Dockerfile words of a COPY: sources, destination,
// --chown, --chmod and --checksum.
func (c *compiler) expandCopy(d *stageState, cs *copyStep) error {
	in := cs.in
	cs.srcs = make([]string, len(in.srcs))
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
		cs.srcs[i] = w
	}
	var err error
	if cs.destWord, err = d.expand(in.dest); err != nil {
		return fmt.Errorf("destination %q: %w", in.dest, err)
	}
	if cs.chown, err = d.expand(cs.o.chown); err != nil {
		return fmt.Errorf("--chown %q: %w", cs.o.chown, err)
	}
	if cs.chmod, err = d.expand(cs.o.chmod); err != nil {
		return fmt.Errorf("--chmod %q: %w", cs.o.chmod, err)
	}
	// ADD's --checksum is a word too: an ARG without a value makes it
	// empty, which is no checksum.
	if cs.o.checksum, err = d.expand(cs.o.checksum); err != nil {
		return fmt.Errorf("--checksum %q: %w", in.opts.checksum, err)
	}
	if cs.dest, err = c.relativeToWorkdir(d, cs.destWord); err != nil {
		return fmt.Errorf("destination %q: %w", in.dest, err)
	}
	return nil
}

// flags checks the flags of a COPY against each other and turns them into
// copy options.
func (cs *copyStep) flags() error {
	o := cs.o
	if cs.chown != "" {
		if o.link && chownByName(cs.chown) {
			return fmt.Errorf("--chown=%s: user and group names can't be resolved when used with --link, use numeric uid[:gid] instead: %w", cs.chown, ErrInvalid)
		}
		cs.copyOpt = append(cs.copyOpt, llb.WithUser(cs.chown))
	}
	if len(o.exclude) > 0 {
		cs.copyOpt = append(cs.copyOpt, llb.WithExcludePatterns(o.exclude))
	}
	var err error
	if cs.chopt, err = parseChmod(cs.chmod); err != nil {
		return err
	}
	if o.checksum != "" {
		if !cs.in.add {
			return fmt.Errorf("--checksum is only for Add: %w", ErrInvalid)
		}
		if len(cs.srcs) != 1 {
			return fmt.Errorf("--checksum needs exactly one source: %w", ErrInvalid)
		}
		if !isHTTPSource(cs.srcs[0]) && !isGitSource(cs.srcs[0]) {
			return fmt.Errorf("--checksum needs a URL or git source: %w", ErrInvalid)
		}
	}
	return nil
}

// display is the command and the flags the history shows of a COPY.
func (cs *copyStep) display() string {
	msg := cs.in.keyword()
	if cs.o.parents {
		msg += " --parents"
	}
	if cs.chown != "" {
		msg += " --chown=" + cs.chown
	}
	if cs.chmod != "" {
		msg += " --chmod=" + cs.chmod
	}
	return msg
}

// shown are the sources as written, inline files as heredocs.
func (cs *copyStep) shown() []string {
	shown := slices.Clone(cs.in.srcs)
	for _, f := range cs.o.contents {
		shown = append(shown, "<<"+f.name)
	}
	return shown
}

// addSource adds the copy of one source: a git repository, a URL, or a
// path of the local source.
func (cs *copyStep) addSource(d *stageState, src string) error {
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
		if !cs.in.add {
			return fmt.Errorf("source %q: COPY cannot fetch a git repository, use Add: %w", src, ErrInvalid)
		}
		st, err := gitSource(gitRef, &cs.o, cs.pgName, d.source())
		if err != nil {
			return fmt.Errorf("source %q: %w", src, err)
		}
		// The frontend lists every source of an ADD but an http(s) URL
		// among the paths it reads from the build context, a git address
		// too (dispatch, case *instructions.AddCommand).
		if cs.paths != nil && !strings.HasPrefix(src, "http://") && !strings.HasPrefix(src, "https://") {
			cs.paths[path.Join("/", filepath.ToSlash(src))] = struct{}{}
		}
		cs.add(st, "/", &llb.CopyInfo{Mode: cs.chopt, CreateDestPath: true})
		return nil
	}
	if isHTTPSource(src) {
		return cs.addHTTP(d, src)
	}
	return cs.addLocal(d, src)
}

// addLocal adds the copy of a path of the local source (the context or a
// stage), with --parents' pattern if given.
func (cs *copyStep) addLocal(d *stageState, src string) error {
	if cs.paths != nil {
		cs.paths[path.Join("/", filepath.ToSlash(src))] = struct{}{}
	}
	var patterns, required []string
	if cs.o.parents {
		parent, pattern, ok := strings.Cut(src, "/./")
		if !ok {
			pattern, src = src, "/"
		} else {
			src = parent
		}
		pattern, err := system.NormalizePath("/", pattern, d.platform.OS, false)
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
	unpack := cs.in.add
	if cs.o.unpack != nil {
		unpack = *cs.o.unpack
	}
	cs.add(cs.source, norm, &llb.CopyInfo{
		Mode:                cs.chopt,
		FollowSymlinks:      true,
		CopyDirContentsOnly: true,
		IncludePatterns:     patterns,
		RequiredPaths:       required,
		AttemptUnpack:       unpack,
		CreateDestPath:      true,
		AllowWildcard:       true,
		AllowEmptyWildcard:  true,
	})
	return nil
}

// addInline adds the copy of a heredoc file, expanded if its delimiter was
// unquoted.
func (cs *copyStep) addInline(d *stageState, f inlineFile) error {
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
	cs.add(st, system.ToSlash(name, d.platform.OS), &llb.CopyInfo{Mode: cs.chopt, CreateDestPath: true})
	return nil
}

// add copies p of src to the destination, with info and the flags' options.
func (cs *copyStep) add(src llb.State, p string, info *llb.CopyInfo) {
	opts := append([]llb.CopyOption{info}, cs.copyOpt...)
	cs.a = addCopy(cs.a, src, p, cs.dest, opts)
}

// applyCopy applies the copy's file action to the stage: with --link (and
// no --chmod) on a daemon that merges, a layer of its own merged on top.
func (c *compiler) applyCopy(d *stageState, cs *copyStep) {
	if cs.o.link && cs.chmod == "" && c.supports(pb.CapMergeOp) {
		// --link: the copy goes into a layer of its own, merged on top, so
		// the layer's cache key does not depend on what is below it.
		d.cmdIndex--
		linkName := d.prefix("LINK " + cs.name)
		// A fixed progress-group ID (the frontend's is random) keeps the
		// LLB's bytes the same on every compile.
		pgID := digest.FromString(d.name + "\x00" + cs.pgName).Encoded()[:25]
		layer := llb.Scratch().File(cs.a, llb.Platform(d.platform), llb.WithCustomName(cs.pgName), llb.ProgressGroup(pgID, cs.pgName, true), d.source())
		d.state = d.state.WithOutput(llb.Merge([]llb.State{d.state, layer},
			llb.ProgressGroup(pgID, cs.pgName, false), llb.WithCustomName(linkName)).Output())
		return
	}
	d.state = d.state.File(cs.a, llb.WithCustomName(cs.pgName), d.source())
}

func addCopy(a *llb.FileAction, src llb.State, p, dest string, opts []llb.CopyOption) *llb.FileAction {
	if a == nil {
		return llb.Copy(src, p, dest, opts...)
	}
	return a.Copy(src, p, dest, opts...)
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
