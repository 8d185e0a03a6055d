package dsl

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/distribution/reference"
	"github.com/slipway-build/slipway/internal/baseimage"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/buildkit/util/apicaps"
	"github.com/moby/buildkit/util/system"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// ImageConfigKey is the description key, on the metadata of a definition's
// last op, under which [Compile] stores the JSON image config. It rides with
// the LLB without changing any op digest, so an LLB file alone is a complete
// image recipe.
const ImageConfigKey = "containerimage.config"

// historyComment marks history entries as the Dockerfile frontend does, so
// images built either way carry the same history.
const historyComment = "buildkit.dockerfile.v0"

// Result is a compiled build.
type Result struct {
	// State is the final filesystem state, for callers that want to keep
	// composing with BuildKit's llb package.
	State llb.State
	// Definition is the marshaled LLB. The image config is in the metadata
	// of its last op under ImageConfigKey.
	Definition *llb.Definition
	// Image is the OCI image config of the result, as the Dockerfile
	// frontend would produce it.
	Image *dockerspec.DockerOCIImage
	// Epoch is SOURCE_DATE_EPOCH when the build args set it: the time every
	// history entry, created directory and exported file carries.
	Epoch *time.Time
}

// CompileOption configures [Compile].
type CompileOption func(*compileOptions)

type compileOptions struct {
	caps      *apicaps.CapSet
	resolver  llb.ImageMetaResolver
	platform  *ocispecs.Platform
	buildArgs map[string]string
	contextID string
	ignore    []string
	// namedIgnore are the ignore patterns of named contexts.
	namedIgnore map[string][]string
	// namedSpecs are the named contexts given as images.
	namedSpecs map[string]string
	// sources answers SOURCE_DATE_EPOCH=NAME of a remote named context.
	sources SourceResolver
}

// WithNamedContext gives the build a named context, as docker buildx build
// --build-context NAME=VALUE does: an image, spec "docker-image://REF", an
// image in an OCI layout the client attaches to the session as a content
// store, spec "oci-layout://STORE@DIGEST" (the driver does this for
// oci-layout://PATH), a git repository ("git://...",
// "https://....git#ref", "git@host:repo"), a file at an http(s) URL, or a
// directory the client sends under the name DIR, spec "local:DIR". A
// FROM of the image NAME (and so a Copy from it) and dsl.Context(NAME) then
// read the context instead, as the frontend reads them. NAME may end in
// ::PLATFORM to apply to one platform only. dsl.Context(NAME) of a
// directory needs no option; the driver sends it.
func WithNamedContext(name, spec string) CompileOption {
	return func(o *compileOptions) {
		if o.namedSpecs == nil {
			o.namedSpecs = map[string]string{}
		}
		o.namedSpecs[name] = spec
	}
}

// WithContextIgnorePatterns leaves files matching the patterns out of the
// named context name, as its .dockerignore does.
func WithContextIgnorePatterns(name string, patterns []string) CompileOption {
	return func(o *compileOptions) {
		if o.namedIgnore == nil {
			o.namedIgnore = map[string][]string{}
		}
		o.namedIgnore[name] = slices.Clone(patterns)
	}
}

// WithIgnorePatterns leaves files matching the patterns out of the build
// context, as a .dockerignore does; the driver reads the context's
// .dockerignore into them.
func WithIgnorePatterns(patterns []string) CompileOption {
	return func(o *compileOptions) { o.ignore = slices.Clone(patterns) }
}

// WithCaps tells the compiler what the daemon supports, as the frontend is
// told: with them, a read-write bind mount discards its writes without a copy
// and COPY --link becomes a merge of an independent layer. The driver passes
// the daemon's; without them, Compile produces what the frontend does for a
// daemon whose capabilities it does not know.
func WithCaps(caps apicaps.CapSet) CompileOption {
	return func(o *compileOptions) { o.caps = &caps }
}

// supports reports a daemon capability.
func (c *compiler) supports(id apicaps.CapID) bool {
	return c.opt.caps != nil && c.opt.caps.Supports(id) == nil
}

// DefaultContextID scopes the build context's file-sync cache on the daemon
// when no WithContextID is given. It is fixed, so that the same program
// always compiles to the same bytes.
const DefaultContextID = "slipway-context"

// WithContextID sets the identity of the build context on the daemon (the
// local source's unique ID): builds with the same ID reuse each other's
// file-sync state. The driver derives one from the context directory, as
// buildx does; the ID is part of the local source op, so of the cache key of
// the steps that copy from it.
func WithContextID(id string) CompileOption {
	return func(o *compileOptions) { o.contextID = id }
}

// WithResolver sets where base image configs come from: the daemon when
// building, a registry, or an image lock file. Compile needs one for every
// stage that is not FROM scratch.
func WithResolver(r llb.ImageMetaResolver) CompileOption {
	return func(o *compileOptions) { o.resolver = r }
}

// WithPlatform sets the target platform, as `docker build --platform` does.
// Without it the build targets the platform of the machine, and a base image
// of another os/arch keeps its own, as the Dockerfile frontend does.
func WithPlatform(p ocispecs.Platform) CompileOption {
	return func(o *compileOptions) { o.platform = &p }
}

// Compile turns a stage into LLB and an image config.
func Compile(ctx context.Context, s Stage, opts ...CompileOption) (*Result, error) {
	o := compileOptions{contextID: DefaultContextID}
	for _, opt := range opts {
		opt(&o)
	}
	c := &compiler{opt: o}
	c.platform = platforms.DefaultSpec()
	if o.platform != nil {
		c.platform = *o.platform
	}
	// Without a worker to ask, the build platform is the target when one is
	// given, else this machine's: what the frontend assumes in the same case.
	build := c.platform
	if o.platform == nil {
		build = platforms.DefaultSpec()
	}
	c.globalArgs = predefinedArgs(build, c.platform, o.buildArgs, "")
	// SOURCE_DATE_EPOCH comes from the build args, else, as the frontend
	// reads it, from a global ARG with a default.
	v, ok := o.buildArgs["SOURCE_DATE_EPOCH"]
	what := "build arg"
	if !ok {
		var err error
		if v, ok, err = c.globalEpoch(s); err != nil {
			return nil, err
		}
		what = "global ARG"
	}
	if ok && v != "" {
		c.ctx = ctx
		tm, err := c.sourceDateEpoch(what, v)
		if err != nil {
			return nil, err
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
	c.target = s.n
	return c.compile(ctx, s)
}

type compiler struct {
	ctx        context.Context
	opt        compileOptions
	target     *node // the stage being compiled
	platform   ocispecs.Platform
	globalArgs *llb.EnvList

	epoch *time.Time
	// epochResolved is set when SOURCE_DATE_EPOCH was given: every stage's
	// global args then hold the resolved time (or lack it), as the
	// frontend's do.
	epochResolved bool
	stages        map[*node]*stageState
	nextIndex     int
	context       *lateOutput
	contextPaths  map[string]struct{}
	named         map[string]*namedCtx
	// contextUsed is set once a step reads the build context.
	contextUsed bool
	// backslash is the lexer of the default escape character, from
	// backslashLexers; lexers are those of others.
	backslash *shell.Lex
	lexers    map[rune]*shell.Lex
	// proxy are the proxy build args every RUN gets, or nil.
	proxy *llb.ProxyEnv
}

// stageState is what dispatching a stage builds up, the counterpart of the
// frontend's dispatchState.
type stageState struct {
	state    llb.State
	image    dockerspec.DockerOCIImage
	platform ocispecs.Platform
	name     string
	cmdIndex int
	cmdTotal int
	cmdSet   bool
	lex      *shell.Lex
	epoch    *time.Time
	// globalArgs are the predefined and global args the stage sees.
	globalArgs *llb.EnvList
	// contextName is set for a named build context (dsl.Context).
	contextName string
	// escape is the escape character of the stage's words, if not '\\'.
	escape rune
	// inTrigger is set while ONBUILD triggers of the base are dispatched.
	inTrigger bool
	// dispatching is set while the stage's instructions are dispatched.
	dispatching bool
	// buildArgs are the ARGs declared so far, in order.
	buildArgs []buildArg
}

func (c *compiler) compile(ctx context.Context, s Stage) (*Result, error) {
	c.ctx = ctx
	c.stages = map[*node]*stageState{}
	c.context = &lateOutput{}
	c.contextPaths = map[string]struct{}{}
	c.named = map[string]*namedCtx{}
	c.proxy = proxyEnv(c.opt.buildArgs)
	defer func() {
		if c.backslash != nil {
			backslashLexers.Put(c.backslash)
		}
	}()
	d, err := c.stage(s)
	if err != nil {
		return nil, err
	}
	if c.contextUsed {
		c.context.Output = mainContext(c.contextPaths, c.opt.ignore).Output()
	}
	for name, nc := range c.named {
		nc.out.Output = namedContext(name, nc.paths, c.opt.namedIgnore[name]).Output()
	}
	return c.finish(ctx, d)
}

// namedCtx is a named build context being used by the build.
type namedCtx struct {
	out   *lateOutput
	paths map[string]struct{}
}

// namedContext is a named build context's local source, limited to the
// paths the build reads from it.
func namedContext(name string, paths map[string]struct{}, ignore []string) llb.State {
	opts := []llb.LocalOption{
		llb.SharedKeyHint("context:" + name),
		llb.WithCustomName("[context " + name + "] load from client"),
	}
	if len(ignore) > 0 {
		opts = append(opts, llb.ExcludePatterns(ignore))
	}
	if include := followPaths(paths); len(include) > 0 {
		opts = append(opts, llb.FollowPaths(include))
	}
	return llb.Local(name, opts...)
}

// followPaths turns the paths a build reads into FollowPaths, or nil when
// it reads the whole directory.
func followPaths(paths map[string]struct{}) []string {
	var include []string
	for p := range paths {
		if p == "/" {
			return nil
		}
		include = append(include, path.Join(".", p))
	}
	slices.Sort(include)
	return include
}

// mainContext is the build context as the frontend names it, limited to the
// paths the build copies from it, so a build sends only what it uses.
func mainContext(paths map[string]struct{}, ignore []string) llb.State {
	opts := []llb.LocalOption{
		llb.SharedKeyHint("context"),
		llb.WithCustomName("[internal] load build context"),
	}
	if len(ignore) > 0 {
		opts = append(opts, llb.ExcludePatterns(ignore))
	}
	if include := followPaths(paths); len(include) > 0 {
		opts = append(opts, llb.FollowPaths(include))
	}
	return llb.Local("context", opts...)
}

// stage dispatches a stage once, after the stages it depends on, so that
// stages are numbered as they would be in a Dockerfile written in order.
func (c *compiler) stage(s Stage) (*stageState, error) {
	if d, ok := c.stages[s.n]; ok {
		if d.dispatching {
			return nil, fmt.Errorf("stage %s depends on itself: %w", d.name, ErrInvalid)
		}
		return d, nil
	}
	ins := s.instructions()
	if len(ins) == 0 {
		return nil, fmt.Errorf("empty stage: start a build with dsl.From: %w", ErrInvalid)
	}
	d := &stageState{lex: c.lexer('\\'), dispatching: true, epoch: c.epoch}
	c.stages[s.n] = d
	for i, in := range ins {
		for _, dep := range dependencies(in) {
			if dep.n == nil {
				return nil, c.inStage(d, s, fmt.Errorf("instruction %d (%s): refers to an empty stage (start one with dsl.From): %w", i+1, in.keyword(), ErrInvalid))
			}
			if _, err := c.stage(dep); err != nil {
				return nil, err
			}
		}
	}
	for _, in := range ins {
		if a, ok := in.(*asIns); ok {
			d.name = a.name
		}
	}
	if d.name == "" {
		d.name = "stage-" + strconv.Itoa(c.nextIndex)
	} else if !validStageName(d.name) {
		return nil, fmt.Errorf("stage name %q: must start with a letter and hold only lowercase letters, digits, '-', '_' and '.': %w", d.name, ErrInvalid)
	}
	c.nextIndex++
	d.cmdTotal = countSteps(ins[1:])
	if root, ok := ins[0].(*fromIns); ok && len(root.candidates) > 0 {
		chosen, err := c.choose(d, root)
		if err != nil {
			return nil, c.inStage(d, s, err)
		}
		if chosen != nil {
			// Built on the chosen stage, exactly as FromStage(chosen).
			ins = append([]instruction{&fromStageIns{base: *chosen}}, ins[1:]...)
		}
	}
	switch root := ins[0].(type) {
	case *fromIns:
		if root.escape != 0 {
			if root.escape != '\\' && root.escape != '`' {
				return nil, c.inStage(d, s, argError(1, "FROM", "escape character %q: want \\ or `", root.escape))
			}
			d.escape = root.escape
			d.lex = c.lexer(root.escape)
		}
		if err := c.resolveBase(d, root); err != nil {
			return nil, c.inStage(d, s, err)
		}
	case *fromStageIns:
		base, err := c.stage(root.base)
		if err != nil {
			return nil, err
		}
		d.state = base.state
		d.platform = base.platform
		d.image = baseimage.Clone(base.image)
		d.buildArgs = slices.Clone(base.buildArgs)
		d.globalArgs = base.globalArgs
		if base.escape != 0 {
			d.escape = base.escape
			d.lex = c.lexer(base.escape)
		}
	case *contextIns:
		if root.name == "" || root.name == "context" || strings.ContainsAny(root.name, "/: \t\n") {
			return nil, c.inStage(d, s, argError(1, "FROM", "context name %q: want a plain name other than \"context\"", root.name))
		}
		d.globalArgs = c.globalArgs
		if key, spec, ok := c.namedSpec(root.name, c.platform); ok {
			if err := c.fromNamedContext(d, key, spec, c.platform); err != nil {
				return nil, c.inStage(d, s, err)
			}
			break
		}
		c.localContext(d, root.name, c.platform)
	case *fromLLBIns:
		if root.err != nil {
			return nil, c.inStage(d, s, fmt.Errorf("instruction 1 (FROM): %w", root.err))
		}
		d.state = root.state
		d.platform = c.platform
		d.globalArgs = c.globalArgs
		d.image = baseimage.Empty(c.platform)
		if root.image != nil {
			d.image = baseimage.Clone(*root.image)
		}
	default:
		return nil, c.inStage(d, s, argError(1, ins[0].keyword(), "a stage must start with FROM"))
	}
	// ONBUILD triggers of the base run first, as the frontend runs them.
	triggers, err := c.triggers(d.image.Config.OnBuild)
	if err != nil {
		return nil, c.inStage(d, s, fmt.Errorf("instruction 1 (FROM): %w", err))
	}
	d.image.Config.OnBuild = nil
	d.cmdTotal += len(triggers)
	c.initFromImage(d)
	d.inTrigger = true
	for _, in := range triggers {
		if err := c.dispatch(d, in); err != nil {
			return nil, c.inStage(d, s, fmt.Errorf("instruction 1 (FROM): ONBUILD %s: %w", in.keyword(), err))
		}
	}
	d.inTrigger = false
	for i, in := range ins[1:] {
		if err := c.dispatch(d, in); err != nil {
			return nil, c.inStage(d, s, fmt.Errorf("instruction %d (%s): %w", i+2, in.keyword(), err))
		}
	}
	d.dispatching = false
	return d, nil
}

// metaArgs are the global args a stage sees: the predefined ones, then
// each declared one with its build-time value or its default expanded
// against those before it, as the frontend's buildMetaArgs.
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
				return "", false, fmt.Errorf("instruction 1 (FROM): %w", err)
			}
			v, ok := args.Get("SOURCE_DATE_EPOCH")
			return v, ok, nil
		default:
			return "", false, nil
		}
	}
}

func (c *compiler) metaArgs(d *stageState, decls []globalArg) (*llb.EnvList, error) {
	args := c.globalArgs
	for _, g := range decls {
		if g.name == "" || strings.ContainsAny(g.name, "= \t\n") {
			return nil, fmt.Errorf("global ARG name %q: %w", g.name, ErrInvalid)
		}
		var value *string
		if v, ok := c.opt.buildArgs[g.name]; ok {
			value = &v
		} else if g.def != nil {
			w, _, err := d.lex.ProcessWord(*g.def, args)
			if err != nil {
				return nil, fmt.Errorf("default of global ARG %s %q: %w", g.name, *g.def, err)
			}
			value = &w
		}
		if value != nil {
			args = args.AddOrReplace(g.name, *value)
		}
	}
	if _, ok := args.Get("SOURCE_DATE_EPOCH"); ok && c.epochResolved {
		if c.epoch == nil {
			deleted := args.Delete("SOURCE_DATE_EPOCH")
			return &deleted, nil
		}
		args = args.AddOrReplace("SOURCE_DATE_EPOCH", c.epochSeconds())
	}
	return args, nil
}

// epochSeconds is SOURCE_DATE_EPOCH as the frontend writes it back.
func (c *compiler) epochSeconds() string { return strconv.FormatInt(c.epoch.Unix(), 10) }

// choose is the candidate of a FromNamed whose name the reference expands
// to, compiled; nil means the reference names an image.
func (c *compiler) choose(d *stageState, from *fromIns) (*Stage, error) {
	lex := d.lex
	if from.escape != 0 {
		lex = c.lexer(from.escape)
	}
	globals, err := c.metaArgs(d, from.globals)
	if err != nil {
		return nil, fmt.Errorf("instruction 1 (FROM): %w", err)
	}
	name, err := expandWith(lex, from.ref, globals)
	if err != nil {
		return nil, argError(1, "FROM", "reference %q: %v", from.ref, err)
	}
	for i := range from.candidates {
		cand := from.candidates[i]
		if cand.n == nil {
			return nil, argError(1, "FROM", "candidate %d is an empty stage", i+1)
		}
		if n := stageName(cand); n != "" && strings.EqualFold(n, name) {
			if _, err := c.stage(cand); err != nil {
				return nil, err
			}
			return &cand, nil
		}
	}
	return nil, nil
}

// stageName is the name a stage's As gives it, or "".
func stageName(s Stage) string {
	for n := s.n; n != nil; n = n.parent {
		if a, ok := n.ins.(*asIns); ok {
			return a.name
		}
	}
	return ""
}

// inStage names the stage in an error from a stage other than the one
// being compiled, which needs no name.
func (c *compiler) inStage(d *stageState, s Stage, err error) error {
	if s.n == c.target {
		return err
	}
	return fmt.Errorf("stage %s: %w", d.name, err)
}

// dependencies are the stages an instruction refers to.
func dependencies(in instruction) []Stage {
	switch in := in.(type) {
	case *fromStageIns:
		return []Stage{in.base}
	case *copyIns:
		if in.opts.from != nil {
			return []Stage{*in.opts.from}
		}
	case *runIns:
		var deps []Stage
		for _, m := range in.opts.mounts {
			if m.from != nil {
				deps = append(deps, *m.from)
			}
		}
		return deps
	}
	return nil
}

func validStageName(name string) bool {
	for i, r := range name {
		switch {
		case r >= 'a' && r <= 'z':
		case i > 0 && (r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'):
		default:
			return false
		}
	}
	return name != ""
}

// countSteps counts the instructions that show as numbered steps in the
// progress display, as the frontend counts them.
func countSteps(ins []instruction) int {
	n := 0
	for _, in := range ins {
		switch in.(type) {
		case *runIns, *workdirIns, *copyIns:
			n++
		}
	}
	return n
}

func (c *compiler) resolveBase(d *stageState, from *fromIns) error {
	ctx := c.ctx
	if from.err != nil {
		return fmt.Errorf("instruction 1 (FROM): %w", from.err)
	}
	globals, err := c.metaArgs(d, from.globals)
	if err != nil {
		return fmt.Errorf("instruction 1 (FROM): %w", err)
	}
	d.globalArgs = globals
	platform := c.platform
	if from.platform != "" {
		p, err := expandWith(d.lex, from.platform, globals)
		if err != nil {
			return argError(1, "FROM", "--platform %q: %v", from.platform, err)
		}
		if p == "" {
			return argError(1, "FROM", "--platform %q is empty", from.platform)
		}
		pl, err := platforms.Parse(p)
		if err != nil {
			return argError(1, "FROM", "--platform %q: %v", from.platform, err)
		}
		platform = pl
	}
	// The reference expands with the global args: FROM alpine:$VERSION.
	word, err := expandWith(d.lex, from.ref, globals)
	if err != nil {
		return argError(1, "FROM", "image reference %q: %v", from.ref, err)
	}
	if word == "scratch" {
		d.state = llb.Scratch()
		d.image = baseimage.Empty(c.platform)
		d.platform = c.platform
		return nil
	}
	if key, spec, ok := c.namedSpec(word, platform); ok {
		return c.fromNamedContext(d, key, spec, platform)
	}
	d.cmdTotal++ // FROM of an image is a step of its own
	if strings.TrimSpace(word) == "" {
		return argError(1, "FROM", "empty image reference")
	}
	ref, err := parseImageRef(word)
	if err != nil {
		return argError(1, "FROM", "image reference %q: %v", from.ref, err)
	}
	name := ref.tagNameOnly().String()
	if c.opt.resolver == nil {
		return argError(1, "FROM", "image %q: no image resolver (use dsl.WithResolver)", from.ref)
	}
	resolved, dgst, dt, err := c.opt.resolver.ResolveImageConfig(ctx, name, sourceresolver.Opt{
		LogName: "[internal] load metadata for " + name,
		ImageOpt: &sourceresolver.ResolveImageOpt{
			Platform:    &platform,
			ResolveMode: llb.ResolveModeDefault.String(),
		},
	})
	if err != nil {
		return fmt.Errorf("instruction 1 (FROM): resolving %s: %w", from.ref, err)
	}
	if resolved != ref.String() {
		if ref, err = parseImageRef(resolved); err != nil {
			return fmt.Errorf("instruction 1 (FROM): resolver returned reference %q: %w", resolved, err)
		}
	}
	var img dockerspec.DockerOCIImage
	if err := json.Unmarshal(dt, &img); err != nil {
		return fmt.Errorf("instruction 1 (FROM): image config of %s: %w", from.ref, err)
	}
	img.Created = nil
	if dgst != "" {
		if ref, err = ref.withDigest(dgst); err != nil {
			return fmt.Errorf("instruction 1 (FROM): pinning %s: %w", from.ref, err)
		}
	}
	d.image = img
	d.platform = platform
	if isScratch(img) {
		d.state = llb.Scratch()
		return nil
	}
	pinned := ref.String()
	d.state = imageSource(ref,
		describe("FROM "+from.ref, d.prefix("FROM "+pinned)),
		llb.Platform(platform),
	)
	return nil
}

// namedSpec is the named context a FROM word names, looked up as the
// frontend looks it up: the familiar name without :latest, for the
// platform first.
func (c *compiler) namedSpec(word string, p ocispecs.Platform) (key, spec string, ok bool) {
	if len(c.opt.namedSpecs) == 0 {
		return "", "", false
	}
	named, err := reference.ParseNormalizedNamed(word)
	if err != nil {
		return "", "", false
	}
	name := strings.TrimSuffix(reference.FamiliarString(named), ":latest")
	for _, key := range []string{name + "::" + platforms.FormatAll(platforms.Normalize(p)), name} {
		if spec, ok := c.opt.namedSpecs[key]; ok {
			return key, spec, true
		}
	}
	return "", "", false
}

// localContext starts a stage from the named context name, a directory
// sent by the client, with the config of scratch.
func (c *compiler) localContext(d *stageState, name string, platform ocispecs.Platform) {
	nc, ok := c.named[name]
	if !ok {
		nc = &namedCtx{out: &lateOutput{}, paths: map[string]struct{}{}}
		c.named[name] = nc
	}
	d.contextName = name
	d.state = llb.NewState(nc.out)
	d.platform = platform
	d.image = baseimage.Empty(platform)
}

// fromNamedContext starts a stage from a named context, as the frontend's
// named contexts do: a directory ("local:NAME"), an image
// ("docker-image://REF") by its tag, not pinned, with its config, an image
// in an OCI layout (fromOCILayout), a git repository or an http(s) file.
func (c *compiler) fromNamedContext(d *stageState, key, spec string, platform ocispecs.Platform) error {
	kind, rest, _ := strings.Cut(spec, ":")
	if strings.HasPrefix(kind, "git@") {
		kind = "git" // an ssh URL without a scheme, as the frontend allows
	}
	switch kind {
	case "local":
		if rest == "" || strings.ContainsAny(rest, "/: \t\n") {
			return argError(1, "FROM", "named context %s=%s: want local:NAME", key, spec)
		}
		c.localContext(d, rest, platform)
		return nil
	case "git", "http", "https":
		// A git repository, or for http(s) a file that is not one, read
		// with BuildKit's own detection, as the frontend reads it.
		st, _, err := remoteContextState(key, spec)
		if err != nil {
			return argError(1, "FROM", "named context %s=%s: %v", key, spec, err)
		}
		d.state = st.Platform(platform)
		d.platform = platform
		d.image = baseimage.Empty(platform)
		return nil
	case "oci-layout":
		return c.fromOCILayout(d, key, spec, platform)
	case "docker-image":
	default:
		return argError(1, "FROM", "named context %s=%s: want a directory, docker-image://REF, oci-layout://STORE@DIGEST, a git URL or an http(s) URL", key, spec)
	}
	ref := strings.TrimPrefix(rest, "//")
	d.platform = platform
	if ref == "scratch" {
		d.state = llb.Scratch().Platform(platform)
		d.image = baseimage.Empty(platform)
		return nil
	}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return argError(1, "FROM", "named context %s=%s: %v", key, spec, err)
	}
	named = reference.TagNameOnly(named)
	resolved, dt, img, err := c.contextConfig(key, named.String(), ref, sourceresolver.Opt{
		LogName: fmt.Sprintf("[context %s] load metadata for %s", key, ref),
		ImageOpt: &sourceresolver.ResolveImageOpt{
			Platform:    &platform,
			ResolveMode: llb.ResolveModeDefault.String(),
		},
	})
	if err != nil {
		return err
	}
	st, err := llb.Image(resolved, llb.WithCustomName("[context "+key+"] "+ref), llb.Platform(platform)).WithImageConfig(dt)
	if err != nil {
		return fmt.Errorf("instruction 1 (FROM): named context %s: %w", key, err)
	}
	d.state = st.Platform(platform)
	d.image = img
	return nil
}

// isScratch reports an image with no layers, which the frontend builds on as
// on scratch.
func isScratch(img dockerspec.DockerOCIImage) bool {
	if len(img.RootFS.DiffIDs) > 0 {
		return false
	}
	for _, h := range img.History {
		if !h.EmptyLayer {
			return false
		}
	}
	return true
}

// initFromImage applies the base image's environment, working directory and
// user to the stage, as a container started from that image would see them.
func (c *compiler) initFromImage(d *stageState) {
	if !hasEnv(d.image.Config.Env, "PATH") && d.platform.OS != "windows" {
		d.image.Config.Env = append(d.image.Config.Env, "PATH="+system.DefaultPathEnv(d.platform.OS))
	}
	for _, kv := range d.image.Config.Env {
		k, v, _ := strings.Cut(kv, "=")
		d.state = d.state.AddEnv(k, v)
	}
	if wd := d.image.Config.WorkingDir; wd != "" {
		if nwd, err := system.NormalizeWorkdir("", wd, d.platform.OS); err == nil {
			d.image.Config.WorkingDir = nwd
			d.state = d.state.Dir(system.ToSlash(nwd, d.platform.OS))
		}
	}
	if u := d.image.Config.User; u != "" {
		d.state = d.state.User(u)
	}
	d.state = d.state.Network(0)
}

func (c *compiler) dispatch(d *stageState, in instruction) error {
	switch in := in.(type) {
	case *fromIns:
		return fmt.Errorf("FROM %q in the middle of a stage: start a new stage with dsl.From instead", in.ref)
	case *runIns:
		return c.dispatchRun(d, in)
	case *cmdIns:
		return c.dispatchCmd(d, in)
	case *envIns:
		return c.dispatchEnv(d, in)
	case *workdirIns:
		return c.dispatchWorkdir(d, in)
	case *labelIns:
		return c.dispatchLabel(d, in)
	case *exposeIns:
		return c.dispatchExpose(d, in)
	case *userIns:
		return c.dispatchUser(d, in)
	case *entrypointIns:
		return c.dispatchEntrypoint(d, in)
	case *shellIns:
		return c.dispatchShell(d, in)
	case *stopSignalIns:
		return c.dispatchStopSignal(d, in)
	case *volumeIns:
		return c.dispatchVolume(d, in)
	case *maintainerIns:
		return c.dispatchMaintainer(d, in)
	case *onBuildIns:
		return c.dispatchOnBuild(d, in)
	case *healthIns:
		return c.dispatchHealth(d, in)
	case *argIns:
		return c.dispatchArg(d, in)
	case *copyIns:
		return c.dispatchCopy(d, in)
	case *asIns:
		return nil // names the stage; read before dispatch
	case *fromStageIns, *fromLLBIns, *contextIns:
		return fmt.Errorf("FROM in the middle of a stage: start a new stage with dsl.FromStage instead")
	default:
		return fmt.Errorf("unknown instruction %T", in)
	}
}

func (c *compiler) dispatchRun(d *stageState, in *runIns) error {
	if len(in.args) == 0 || (in.shell && strings.TrimSpace(in.args[0]) == "") {
		return fmt.Errorf("empty command: %w", ErrInvalid)
	}
	if !in.shell && in.args[0] == "" {
		return fmt.Errorf("empty program name in %q: %w", in.args, ErrInvalid)
	}
	args := in.args
	var display string
	var scriptMount llb.RunOption
	switch {
	case in.script:
		if in.scriptName == "" || strings.ContainsAny(in.scriptName, "/ \t\n") {
			return fmt.Errorf("script name %q: want a plain file name: %w", in.scriptName, ErrInvalid)
		}
		display = "RUN <<" + in.scriptName
		if d.image.OS != "windows" && strings.HasPrefix(in.args[0], "#!") {
			// A script with an interpreter line is a file to execute.
			st := llb.Scratch().Dir("/").File(llb.Mkfile(in.scriptName, 0o755, []byte(in.args[0])),
				llb.WithCustomName("[internal] preparing inline document"), llb.Platform(d.platform))
			scriptMount = llb.AddMount("/dev/pipes/", st, llb.SourcePath("/"), llb.Readonly)
			args = []string{path.Join("/dev/pipes/", in.scriptName)}
		}
		args = withShell(d.image, args)
	case in.shell:
		display = "RUN " + in.args[0]
		args = withShell(d.image, args)
	default:
		display = "RUN " + jsonArray(in.args)
	}
	// The step's display name shows variables with their values, keeping
	// quotes and escapes, as the frontend's does.
	name := display
	if strings.Contains(display, "$") {
		rawLex := *d.lex
		rawLex.RawQuotes = true
		rawLex.RawEscapes = true
		rawLex.SkipUnsetEnv = true
		if w, _, err := rawLex.ProcessWord(display, envOf(d.state)); err == nil {
			name = w
		}
	}
	opts := []llb.RunOption{}
	if scriptMount != nil {
		opts = append(opts, scriptMount)
	}
	opts = append(opts, llb.Args(args))
	if c.proxy != nil {
		opts = append(opts, llb.WithProxy(*c.proxy))
	}
	mounts, err := c.runOptions(d, in.opts)
	if err != nil {
		return err
	}
	opts = append(opts, mounts...)
	opts = append(opts, describe(display, d.prefix(name)))
	d.state = d.state.Run(opts...).Root()
	d.commit(d.runHistory(args)+" # buildkit", true)
	return nil
}

func (c *compiler) dispatchCmd(d *stageState, in *cmdIns) error {
	args := in.args
	if in.shell {
		args = withShell(d.image, args)
	}
	d.image.Config.Cmd = args
	d.image.Config.ArgsEscaped = true //nolint:staticcheck // the frontend sets it for Docker's image spec
	d.cmdSet = true
	d.commit("CMD "+quoteList(args), false)
	return nil
}

func (c *compiler) dispatchEnv(d *stageState, in *envIns) error {
	if in.err != nil {
		return in.err
	}
	// Every word is expanded against the environment from before the
	// instruction, as the frontend does: ENV A=1 B=$A does not see A=1.
	pairs := make([]keyValue, len(in.pairs))
	for i, kv := range in.pairs {
		// A name written empty or with '=' is a mistake no Dockerfile can
		// make: its parser splits a pair at the first '='. What a name
		// expands to, the frontend takes as it is, empty, with spaces or
		// with '='; so does this.
		if kv.key == "" {
			return fmt.Errorf("empty variable name: %w", ErrInvalid)
		}
		if strings.Contains(kv.key, "=") {
			return fmt.Errorf("variable name %q contains '=': %w", kv.key, ErrInvalid)
		}
		key, err := d.expand(kv.key)
		if err != nil {
			return fmt.Errorf("key %q: %w", kv.key, err)
		}
		value, err := d.expand(kv.value)
		if err != nil {
			return fmt.Errorf("value of %s %q: %w", key, kv.value, err)
		}
		pairs[i] = keyValue{key, value}
	}
	msg := "ENV"
	for _, kv := range pairs {
		msg += " " + kv.key + "=" + kv.value
		d.state = d.state.AddEnv(kv.key, kv.value)
		d.image.Config.Env = addEnv(d.image.Config.Env, kv.key, kv.value)
	}
	d.commit(msg, false)
	return nil
}

func (c *compiler) dispatchWorkdir(d *stageState, in *workdirIns) error {
	p, err := d.expand(in.path)
	if err != nil {
		return fmt.Errorf("path %q: %w", in.path, err)
	}
	// A path that expands to nothing is the working directory, as in the
	// frontend (WORKDIR $HOME of an image without HOME); only a path
	// written as nothing is a mistake.
	if in.path == "" {
		return fmt.Errorf("empty path: %w", ErrInvalid)
	}
	wd, err := system.NormalizeWorkdir(d.image.Config.WorkingDir, p, d.platform.OS)
	if err != nil {
		return fmt.Errorf("path %q: %w", in.path, err)
	}
	d.image.Config.WorkingDir = wd
	wd = system.ToSlash(wd, d.platform.OS)
	d.state = d.state.Dir(wd)
	withLayer := false
	if wd != "/" {
		var mkdirOpts []llb.MkdirOption
		mkdirOpts = append(mkdirOpts, llb.WithParents(true))
		if u := d.image.Config.User; u != "" {
			mkdirOpts = append(mkdirOpts, llb.WithUser(u))
		}
		if d.epoch != nil {
			mkdirOpts = append(mkdirOpts, llb.WithCreatedTime(*d.epoch))
		}
		display := "WORKDIR " + in.path
		name := display
		if w, err := d.expand(display); err == nil {
			name = w
		}
		d.state = d.state.File(llb.Mkdir(wd, 0o755, mkdirOpts...),
			llb.WithCustomName(d.prefix(name)),
			llb.Platform(d.platform),
		)
		withLayer = true
	}
	d.commit("WORKDIR "+wd, withLayer)
	return nil
}

func (c *compiler) finish(ctx context.Context, d *stageState) (*Result, error) {
	defaults := []llb.ConstraintsOpt{llb.Platform(c.platform)}
	if c.opt.caps != nil {
		defaults = append(defaults, llb.WithCaps(*c.opt.caps))
	}
	st := d.state.SetMarshalDefaults(defaults...)
	img := baseimage.Clone(d.image)
	if c.opt.platform != nil {
		t := c.platform
		sameOsArch := t.OS == img.OS && t.Architecture == img.Architecture
		img.OS = t.OS
		img.Architecture = t.Architecture
		if t.Variant != "" || !sameOsArch {
			img.Variant = t.Variant
		}
		if t.OSVersion != "" || !sameOsArch {
			img.OSVersion = t.OSVersion
		}
		if t.OSFeatures != nil {
			img.OSFeatures = slices.Clone(t.OSFeatures)
		}
	}
	img.Platform = platforms.Normalize(img.Platform)

	def, last, err := marshal(ctx, d.state, defaults, llb.LocalUniqueID(c.opt.contextID))
	if err != nil {
		return nil, fmt.Errorf("marshaling LLB: %w", err)
	}
	if err := attachImageConfig(def, last, &img); err != nil {
		return nil, err
	}
	return &Result{State: st, Definition: def, Image: &img, Epoch: c.epoch}, nil
}

// attachImageConfig stores the image config in the metadata of the
// definition's last op, whose digest is last, which changes no digest.
func attachImageConfig(def *llb.Definition, last digest.Digest, img *dockerspec.DockerOCIImage) error {
	if len(def.Def) == 0 {
		return nil
	}
	dt, err := json.Marshal(img)
	if err != nil {
		return fmt.Errorf("encoding image config: %w", err)
	}
	md := def.Metadata[last]
	desc := make(map[string]string, len(md.Description)+1)
	for k, v := range md.Description {
		desc[k] = v
	}
	desc[ImageConfigKey] = string(dt)
	md.Description = desc
	if def.Metadata == nil {
		def.Metadata = map[digest.Digest]llb.OpMetadata{}
	}
	def.Metadata[last] = md
	return nil
}

func (d *stageState) expand(word string) (string, error) {
	if plainWord(word) {
		return word, nil
	}
	out, _, err := d.lex.ProcessWord(word, envOf(d.state))
	return out, err
}

// expandWith expands a word against env, skipping the lexer for a plain
// word.
func expandWith(lex *shell.Lex, word string, env shell.EnvGetter) (string, error) {
	if plainWord(word) {
		return word, nil
	}
	out, _, err := lex.ProcessWord(word, env)
	return out, err
}

// backslashLexers recycles the lexers of the default escape character from
// one compile to the next.
var backslashLexers = sync.Pool{New: func() any { return shell.NewLex('\\') }}

// lexer is the shell lexer for an escape character, one per compile: a
// lexer is large (2 KB), and is reset by every word it processes.
func (c *compiler) lexer(escape rune) *shell.Lex {
	if escape == '\\' {
		if c.backslash == nil {
			c.backslash = backslashLexers.Get().(*shell.Lex)
		}
		return c.backslash
	}
	if c.lexers == nil {
		c.lexers = map[rune]*shell.Lex{}
	}
	lex, ok := c.lexers[escape]
	if !ok {
		lex = shell.NewLex(escape)
		c.lexers[escape] = lex
	}
	return lex
}

// plainWord reports a word the shell lexer would return unchanged: no
// variable, quote or escape character (either one) in it. Most words are,
// and skipping the lexer for them is most of what makes compiling fast.
func plainWord(w string) bool {
	return !strings.ContainsAny(w, "$'\"\\`")
}

// prefix names a step as the frontend does in the progress display:
// "[stage-0 2/3] RUN …".
func (d *stageState) prefix(s string) string {
	if d.cmdTotal == 0 {
		return s
	}
	d.cmdIndex++
	width := int(1 + math.Log10(float64(d.cmdTotal)))
	if d.inTrigger {
		s = "ONBUILD " + s
	}
	// fmt's "[%s %*d/%d] %s", without fmt.
	index := strconv.Itoa(d.cmdIndex)
	pad := ""
	if n := width - len(index); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	return "[" + d.name + " " + pad + index + "/" + strconv.Itoa(d.cmdTotal) + "] " + s
}

func (d *stageState) commit(msg string, withLayer bool) {
	d.image.History = append(d.image.History, ocispecs.History{
		CreatedBy:  msg,
		Comment:    historyComment,
		EmptyLayer: !withLayer,
		Created:    d.epoch,
	})
}

func withShell(img dockerspec.DockerOCIImage, args []string) []string {
	sh := slices.Clone(img.Config.Shell)
	if len(sh) == 0 {
		if img.OS == "windows" {
			sh = []string{"cmd", "/S", "/C"}
		} else {
			sh = []string{"/bin/sh", "-c"}
		}
	}
	return append(sh, strings.Join(args, " "))
}

// hasEnv reports a variable in a KEY=VALUE list, matching keys as
// shell.EnvsFromSlice(env).Get does, without building its map.
func hasEnv(env []string, key string) bool {
	key = shell.NormalizeEnvKey(key)
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if shell.NormalizeEnvKey(k) == key {
			return true
		}
	}
	return false
}

func addEnv(env []string, k, v string) []string {
	for i, kv := range env {
		key, _, _ := strings.Cut(kv, "=")
		if shell.EqualEnvKeys(key, k) {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// envOf reads the environment a state carries; it never fails for states
// this package builds.
func envOf(st llb.State) shell.EnvGetter {
	env, err := st.Env(context.Background())
	if err != nil || env == nil {
		return &llb.EnvList{}
	}
	return env
}

// describe is the description of a step: its Dockerfile command and, as
// llb.WithCustomName sets it, its name in the progress display.
func describe(cmd, name string) llb.ConstraintsOpt {
	return llb.WithDescription(map[string]string{
		"com.docker.dockerfile.v1.command": cmd,
		"llb.customname":                   name,
	})
}

// quoteList is fmt's %q of a list of strings: ["a" "b"].
func quoteList(args []string) string {
	b := []byte{'['}
	for i, a := range args {
		if i > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendQuote(b, a)
	}
	return string(append(b, ']'))
}

func jsonArray(args []string) string {
	dt, _ := json.Marshal(args) // []string always encodes
	return string(dt)
}
