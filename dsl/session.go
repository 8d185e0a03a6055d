package dsl

import "github.com/moby/buildkit/client/llb"

// WithContextSession makes the build context and the named directory
// contexts read from the client session of this ID, whichever solve asks
// for them. Several builds solved together in one program (cli targets)
// share one session for their contexts, which lives as long as all of them,
// so a context is sent once. Without it, the
// daemon reads them from the session of the solve that asks, as it does for
// a Dockerfile; the ID is part of the local source op.
func WithContextSession(id string) CompileOption {
	return func(o *compileOptions) { o.session = id }
}

// WithContextName names the build context's local source in the client
// session, "context" when not given. Several builds that share one session
// (WithContextSession) but read different context directories give each
// directory its own name; the driver does.
func WithContextName(name string) CompileOption {
	return func(o *compileOptions) { o.contextName = name }
}

// localOptions are the options every local source of the build gets.
func (o *compileOptions) localOptions() []llb.LocalOption {
	if o.session == "" {
		return nil
	}
	return []llb.LocalOption{llb.SessionID(o.session)}
}
