package dsl

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// fromOCILayout starts a stage from a named context that is an image in an
// OCI layout the client holds, as the frontend's oci-layout contexts do.
// The spec is the frontend's, "oci-layout://STORE[:TAG]@DIGEST": STORE
// names a content store the client attaches to the build's session (the
// driver attaches the directory of a context given as
// oci-layout://PATH[:TAG][@DIGEST] under such a name, as buildx does). The
// config comes from the resolver, which the daemon answers by reading the
// store through the session. Unlike the frontend, the op names no session:
// the daemon then looks for the store in the build's own sessions, so the
// definition does not change from one build to the next.
func (c *compiler) fromOCILayout(d *stageState, key, spec string, platform ocispecs.Platform) error {
	fail := func(format string, args ...any) error {
		return argError(1, "FROM", "named context %s=%s: %s", key, spec, fmt.Sprintf(format, args...))
	}
	ref, err := reference.Parse(strings.TrimPrefix(strings.TrimPrefix(spec, "oci-layout:"), "//"))
	if err != nil {
		return fail("%v", err)
	}
	store, ok := ref.(reference.Named)
	if !ok {
		return fail("want oci-layout://STORE@DIGEST: no store name")
	}
	dgst, ok := store.(reference.Digested)
	if !ok {
		return fail("want oci-layout://STORE@DIGEST: no digest")
	}
	// The image is named after the context in logs, as the frontend names
	// it; the store's name may mean nothing to a reader.
	name, _, _ := strings.Cut(key, "::")
	image, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return fail("%v", err)
	}
	image, err = reference.WithDigest(image, dgst.Digest())
	if err != nil {
		return fail("%v", err)
	}
	_, dt, img, err := c.contextConfig(key, image.String(), image.String(), sourceresolver.Opt{
		LogName: fmt.Sprintf("[context %s] load metadata for %s", key, image),
		OCILayoutOpt: &sourceresolver.ResolveOCILayoutOpt{
			Platform: &platform,
			Store:    sourceresolver.ResolveImageConfigOptStore{StoreID: store.Name()},
		},
	})
	if err != nil {
		return err
	}
	st, err := llb.OCILayout(image.String(),
		llb.WithCustomName("[context "+key+"] OCI load from client"),
		llb.OCIStore("", store.Name()),
		llb.Platform(platform),
	).WithImageConfig(dt)
	if err != nil {
		return stepErr(1, "FROM", fmt.Errorf("named context %s: %w", key, err))
	}
	d.platform = platform
	d.state = st.Platform(platform)
	d.image = img
	return nil
}

// contextConfig resolves the config of a named context's image ref (named
// as shown in errors). It returns the reference the resolver gives, the
// config, and the image it holds without its creation time, as the
// frontend keeps a named context's image.
func (c *compiler) contextConfig(key, ref, shown string, opt sourceresolver.Opt) (string, []byte, dockerspec.DockerOCIImage, error) {
	var img dockerspec.DockerOCIImage
	if c.opt.resolver == nil {
		return "", nil, img, argError(1, "FROM", "named context %s: no image resolver (use dsl.WithResolver)", key)
	}
	resolved, _, dt, err := c.opt.resolver.ResolveImageConfig(c.ctx, ref, opt)
	if err != nil {
		return "", nil, img, stepErr(1, "FROM", fmt.Errorf("named context %s: resolving %s: %w", key, shown, err))
	}
	if err := json.Unmarshal(dt, &img); err != nil {
		return "", nil, img, stepErr(1, "FROM", fmt.Errorf("named context %s: image config of %s: %w", key, shown, err))
	}
	img.Created = nil
	return resolved, dt, img, nil
}
