package driver

import (
	"context"
	"fmt"

	"github.com/moby/buildkit/client"

	"github.com/slipway-build/slipway/dsl"
)

// OfflineCompileOptions are the options Build compiles the stage with that
// need no daemon: the build context's identity and .dockerignore, the
// named contexts, the platform and o.Compile. Compiled with these, a
// resolver and the capabilities of the daemon, a stage gives the definition
// Build would solve, so a plan can be made before the build.
func (o BuildOptions) OfflineCompileOptions() ([]dsl.CompileOption, error) {
	ignore, err := o.ignorePatterns()
	if err != nil {
		return nil, err
	}
	_, contextID, err := o.buildContext()
	if err != nil {
		return nil, err
	}
	opts := []dsl.CompileOption{dsl.WithContextID(contextID), dsl.WithIgnorePatterns(ignore)}
	named, err := o.contextOptions()
	if err != nil {
		return nil, err
	}
	opts = append(opts, named...)
	opts = append(opts, o.Compile...)
	if len(o.Platforms) > 0 {
		opts = append(opts, dsl.WithPlatform(o.Platforms[0]))
	} else if o.Platform != nil {
		opts = append(opts, dsl.WithPlatform(*o.Platform))
	}
	return opts, nil
}

// LocalContextDir is the directory the local source of the given name
// reads: the build context ("context") or a named context; "" for none.
func (o BuildOptions) LocalContextDir(name string) string {
	if name == contextName {
		if o.ContextDir == "" {
			return "."
		}
		return o.ContextDir
	}
	if dir := o.Contexts[name]; dir != "" && !isRemoteContext(dir) {
		return dir
	}
	return ""
}

// CachedResults counts the results the daemon keeps in its cache (the
// records buildctl du lists as regular): none means every step of the next
// build runs, whatever the build records say.
func (c *Client) CachedResults(ctx context.Context) (int, error) {
	du, err := c.bk.DiskUsage(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading the daemon's cache: %w", err)
	}
	n := 0
	for _, r := range du {
		if r.RecordType == client.UsageRecordTypeRegular {
			n++
		}
	}
	return n, nil
}

// ContextID is the unique ID of the build context's local source, as
// Build compiles it when the source has no shared session.
func (o BuildOptions) ContextID() (string, error) {
	_, id, err := o.buildContext()
	return id, err
}
