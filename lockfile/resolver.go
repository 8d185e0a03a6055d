package lockfile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/containerd/platforms"
	"github.com/distribution/reference"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// ErrMissing matches the error of a reference that is not in the lock.
var ErrMissing = errors.New("not in the lock file")

// MissingError is a reference and platform the lock has no entry for.
type MissingError struct {
	// File is the lock file.
	File string
	// Ref is the normalized reference, Platform its platform key.
	Ref, Platform string
	// Command, if set, is the command line that adds the reference.
	Command []string
}

func (e *MissingError) Error() string {
	msg := fmt.Sprintf("image %s for platform %s is not in the lock file %s", e.Ref, e.Platform, e.File)
	if len(e.Command) > 0 {
		return msg + "; add it with: " + shellJoin(e.Command)
	}
	return msg + "; add it by running again with --update-lock"
}

// Is makes errors.Is(err, ErrMissing) true.
func (e *MissingError) Is(target error) bool { return target == ErrMissing }

// Resolver returns an image resolver that answers only from the lock: no
// network, no daemon. A reference the lock does not have is a
// [*MissingError]; addCommand, if not empty, is the command line it tells
// the user to run to add it.
func (l *Lock) Resolver(addCommand []string) llb.ImageMetaResolver {
	return &lockResolver{lock: l, addCommand: addCommand}
}

type lockResolver struct {
	lock       *Lock
	addCommand []string
}

func (r *lockResolver) ResolveImageConfig(_ context.Context, ref string, opt sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	key, pinned, p, err := requestKey(ref, opt)
	if err != nil {
		return "", "", nil, err
	}
	img, ok := r.lock.Get(key, p)
	if !ok {
		return "", "", nil, &MissingError{File: r.lock.path, Ref: key, Platform: PlatformKey(p), Command: r.addCommand}
	}
	if pinned != "" && pinned != img.Digest {
		return "", "", nil, fmt.Errorf("resolving %s: the lock file %s pins %s to %s", ref, r.lock.path, key, img.Digest)
	}
	return ref, img.Digest, img.Config, nil
}

// requestKey is the lock key and platform of a resolver request. A
// reference with both a tag and a digest (what a decompiled FROM says) is
// the tag's entry, which must pin that digest: pinned is the digest then.
func requestKey(ref string, opt sourceresolver.Opt) (key string, pinned digest.Digest, p ocispecs.Platform, err error) {
	if opt.ImageOpt == nil {
		return "", "", p, fmt.Errorf("resolving %s: a lock file pins registry images only", ref)
	}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", "", p, fmt.Errorf("resolving %s: %w", ref, err)
	}
	p = platforms.DefaultSpec()
	if opt.ImageOpt.Platform != nil {
		p = *opt.ImageOpt.Platform
	}
	if nt, ok := named.(reference.NamedTagged); ok {
		if d, ok := named.(reference.Digested); ok {
			pinned = d.Digest()
			if named, err = reference.WithTag(reference.TrimNamed(named), nt.Tag()); err != nil {
				return "", "", p, fmt.Errorf("resolving %s: %w", ref, err)
			}
		}
	}
	return reference.TagNameOnly(named).String(), pinned, p, nil
}

// UpdateMode says which references an [Updater] asks its upstream resolver
// for. It is a flag.Value that also accepts the bare flag:
//
//	--update-lock          UpdateMissing
//	--update-lock=missing  UpdateMissing
//	--update-lock=all      UpdateAll
//	--update-lock=false    UpdateNone
type UpdateMode string

const (
	// UpdateNone answers from the lock only.
	UpdateNone UpdateMode = ""
	// UpdateMissing resolves what the lock does not have.
	UpdateMissing UpdateMode = "missing"
	// UpdateAll resolves every reference again.
	UpdateAll UpdateMode = "all"
)

func (m *UpdateMode) String() string {
	if m == nil {
		return ""
	}
	return string(*m)
}

// Set implements flag.Value.
func (m *UpdateMode) Set(v string) error {
	switch v {
	case "true", "missing":
		*m = UpdateMissing
	case "all":
		*m = UpdateAll
	case "false", "":
		*m = UpdateNone
	default:
		return errors.New("want missing (the default) or all")
	}
	return nil
}

// IsBoolFlag lets the flag package accept a bare --update-lock.
func (m *UpdateMode) IsBoolFlag() bool { return true }

// Updater is an image resolver that answers from a lock and asks an upstream
// resolver for references the lock does not have (or for all of them, with
// [UpdateAll]), recording the answers in the lock. It is safe for
// concurrent use.
type Updater struct {
	lock     *Lock
	upstream llb.ImageMetaResolver
	mode     UpdateMode
	onChange func(*Lock) error

	mu   sync.Mutex
	done map[string]bool // keys already asked upstream in this run
}

// Updater returns a resolver that fills the lock from upstream. onChange,
// if not nil, runs (serialized) after every answer that changed the lock;
// [Lock.Save] is the usual choice, so that the file is complete even if the
// build fails later.
func (l *Lock) Updater(upstream llb.ImageMetaResolver, mode UpdateMode, onChange func(*Lock) error) *Updater {
	return &Updater{lock: l, upstream: upstream, mode: mode, onChange: onChange, done: map[string]bool{}}
}

// ResolveImageConfig implements llb.ImageMetaResolver.
func (u *Updater) ResolveImageConfig(ctx context.Context, ref string, opt sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	key, _, p, err := requestKey(ref, opt)
	if err != nil {
		return "", "", nil, err
	}
	once := key + " " + PlatformKey(p)
	u.mu.Lock()
	asked := u.done[once]
	u.mu.Unlock()
	if img, ok := u.lock.Get(key, p); ok && (u.mode != UpdateAll || asked) {
		return ref, img.Digest, img.Config, nil
	}
	resolved, dgst, dt, err := u.upstream.ResolveImageConfig(ctx, ref, opt)
	if err != nil {
		return "", "", nil, err
	}
	if dgst == "" {
		return "", "", nil, fmt.Errorf("resolving %s for %s: the resolver returned no digest to lock", key, PlatformKey(p))
	}
	if resolved != ref {
		// Lock what was asked for; the digest pins it either way.
		if n, err := reference.ParseNormalizedNamed(resolved); err != nil || reference.TagNameOnly(n).String() != key {
			return "", "", nil, fmt.Errorf("resolving %s: the resolver answered for %s", key, resolved)
		}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.done[once] = true
	changed, err := u.lock.Set(key, p, Image{Digest: dgst, Config: dt})
	if err != nil {
		return "", "", nil, err
	}
	if changed && u.onChange != nil {
		if err := u.onChange(u.lock); err != nil {
			return "", "", nil, err
		}
	}
	img, _ := u.lock.Get(key, p)
	return ref, img.Digest, img.Config, nil
}

// Save is an onChange function for [Lock.Updater] that saves the lock.
func Save(l *Lock) error { return l.Save() }

// shellJoin quotes args for a POSIX shell, only where needed, so that the
// command in a message can be pasted as it is.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = shellQuote(a)
	}
	return strings.Join(out, " ")
}

func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-./:=@%+,", r)) {
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}
