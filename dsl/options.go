package dsl

import (
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/util/apicaps"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

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
	// session is the session the local contexts are read from (WithContextSession).
	session string
	// contextName is the main context's local name (WithContextName).
	contextName string
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
