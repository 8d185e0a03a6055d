package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"sync"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	digest "github.com/opencontainers/go-digest"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/internal/cmdutil"
	"github.com/slipway-build/slipway/lockfile"
)

// lockOptions are the image lock flags, shared by build and llb.
type lockOptions struct {
	file   string
	update lockfile.UpdateMode
	loaded *loadedLock // shared by copies of the options
}

// loadedLock is the lock file, read once.
type loadedLock struct {
	once sync.Once
	lock *lockfile.Lock
	err  error
}

func (o *lockOptions) register(set *flag.FlagSet) {
	o.loaded = &loadedLock{}
	set.StringVar(&o.file, "lock", "", "image lock file: base images resolve from FILE only, offline (see package lockfile)")
	set.Var(&o.update, "update-lock", "with --lock: resolve the images missing from the lock file on the daemon and add them; =all resolves every image again")
}

// check reports flags that do not go together, as a usage error.
func (o *lockOptions) check() error {
	if o.update != lockfile.UpdateNone && o.file == "" {
		return cmdutil.Usagef("--update-lock needs --lock FILE")
	}
	return nil
}

// offline reports whether base images come from the lock file alone.
func (o *lockOptions) offline() bool {
	return o.file != "" && o.update == lockfile.UpdateNone
}

// load reads the lock file once. In update mode a missing file is an empty
// lock.
func (o *lockOptions) load() (*lockfile.Lock, error) {
	ll := o.loaded
	ll.once.Do(func() {
		ll.lock, ll.err = lockfile.Load(o.file)
		if ll.err != nil && errors.Is(ll.err, fs.ErrNotExist) && o.update != lockfile.UpdateNone {
			ll.lock, ll.err = lockfile.New(o.file), nil
		}
	})
	return ll.lock, ll.err
}

// resolver is where base images come from, given the daemon's resolver
// (nil when offline): the lock, the lock filled from the daemon, or, with
// no --lock, the daemon.
func (o *lockOptions) resolver(daemon llb.ImageMetaResolver) (llb.ImageMetaResolver, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	if o.file == "" {
		return daemon, nil
	}
	lock, err := o.load()
	if err != nil {
		return nil, err
	}
	if o.update == lockfile.UpdateNone {
		return lock.Resolver(updateLockCommand()), nil
	}
	if daemon == nil {
		return nil, errors.New("updating the lock file needs a BuildKit daemon")
	}
	return lock.Updater(daemon, o.update, lockfile.Save), nil
}

// wrapper is the driver hook for the build command: the lock file (read
// when the build first resolves an image) in front of the daemon's
// resolver. With --update-lock the file is rewritten as soon as an image is
// added.
func (o *lockOptions) wrapper() driver.ResolverWrapper {
	if o.file == "" && o.update == lockfile.UpdateNone {
		return nil
	}
	return func(daemon llb.ImageMetaResolver) llb.ImageMetaResolver {
		r, err := o.resolver(daemon)
		if err != nil {
			return failingResolver{err}
		}
		return r
	}
}

// updateLockCommand is the command line that adds missing images to the
// lock: this one, with --update-lock; or what cmd/dsl2llb says it is.
func updateLockCommand() []string {
	if cmd := os.Getenv(cmdutil.UpdateLockCommandEnv); cmd != "" {
		var args []string
		if err := json.Unmarshal([]byte(cmd), &args); err == nil && len(args) > 0 {
			return args
		}
	}
	return cmdutil.UpdateLockCommand(programName(), os.Args[1:])
}

// failingResolver reports an error that happened before resolving, such as
// an unreadable lock file, where the build first resolves an image.
type failingResolver struct{ err error }

func (r failingResolver) ResolveImageConfig(context.Context, string, sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	return "", "", nil, r.err
}
