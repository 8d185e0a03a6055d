package dsl

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/containerd/platforms"
	"github.com/distribution/reference"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/slipway-build/slipway/internal/frontend"
)

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

// namedCtx is a named build context being used by the build.
type namedCtx struct {
	out   *lateOutput
	paths map[string]struct{}
}

// namedContext is a named build context's local source, limited to the
// paths the build reads from it.
func namedContext(name string, paths map[string]struct{}, ignore []string, more ...llb.LocalOption) llb.State {
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
	return llb.Local(name, append(opts, more...)...)
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
func mainContext(name string, paths map[string]struct{}, ignore []string, more ...llb.LocalOption) llb.State {
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
	if name == "" {
		name = "context"
	}
	return llb.Local(name, append(opts, more...)...)
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
	d.image = frontend.Empty(platform)
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
		d.image = frontend.Empty(platform)
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
		d.image = frontend.Empty(platform)
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
		return stepErr(1, "FROM", fmt.Errorf("named context %s: %w", key, err))
	}
	d.state = st.Platform(platform)
	d.image = img
	return nil
}

// contextState is the build context as a state to read from.
func (c *compiler) contextState() llb.State {
	c.contextUsed = true
	return llb.NewState(c.context)
}

// lateOutput is the build context, whose include paths are known only when
// every stage has been dispatched; ops that copy from it marshal later.
type lateOutput struct {
	llb.Output
}
