package dsl

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/system"
)

// MountOption sets a field of a RUN mount. A [Stage] is one too: it is the
// source of a bind or cache mount, as from=stage is.
type MountOption interface {
	setMount(*mountSpec)
}

type mountOptionFunc func(*mountSpec)

func (f mountOptionFunc) setMount(m *mountSpec) { f(m) }

func (s Stage) setMount(m *mountSpec) { m.from = &s }

// mountSpec is one --mount, with the frontend's field names.
type mountSpec struct {
	// flag, when set, is the whole mount in --mount syntax (MountFlag).
	flag string
	// expanded marks fields already expanded (from a flag).
	expanded bool
	typ      string
	from     *Stage
	source   string
	target   string
	readOnly *bool
	id       string
	sharing  SharingMode
	required bool
	size     int64
	mode     *uint64
	uid      *uint64
	gid      *uint64
	env      *string
}

func (m *mountSpec) setRun(o *runOpts) { o.mounts = append(o.mounts, m) }

func newMount(typ, target string, opts []MountOption) *mountSpec {
	m := &mountSpec{typ: typ, target: target}
	for _, o := range opts {
		if o != nil {
			o.setMount(m)
		}
	}
	return m
}

// BindMount mounts a path of the build context (or, with a Stage among the
// options, of that stage) at target for the RUN step, read-only unless
// [ReadWrite], as --mount=type=bind does. [Source] picks the path; the
// default is the whole context. A relative target, or "", is in the
// working directory, as in a Dockerfile.
func BindMount(target string, opts ...MountOption) RunOption { return newMount("bind", target, opts) }

// CacheMount mounts a persistent cache directory at target, as
// --mount=type=cache does; its id defaults to the target path.
func CacheMount(target string, opts ...MountOption) RunOption { return newMount("cache", target, opts) }

// TmpfsMount mounts an empty tmpfs at target, as --mount=type=tmpfs does.
func TmpfsMount(target string, opts ...MountOption) RunOption { return newMount("tmpfs", target, opts) }

// SecretMount makes the build secret id available to the RUN step, as
// --mount=type=secret,id=… does: as a file in /run/secrets/ (or at
// [Target]), or as an environment variable with [AsEnv]. Its value never
// enters the LLB or the image.
func SecretMount(id string, opts ...MountOption) RunOption {
	m := newMount("secret", "", opts)
	m.id = id
	return m
}

// SSHMount forwards the client's SSH agent (or the one named by [ID]) to the
// RUN step, as --mount=type=ssh does.
func SSHMount(opts ...MountOption) RunOption { return newMount("ssh", "", opts) }

// MountFlag is a mount written as a Dockerfile's --mount flag value, such as
// "type=$CACHE_TYPE,target=/cache": every field, the type included, is a
// Dockerfile word expanded at compile time. The typed constructors
// (CacheMount, BindMount, …) are the usual way; this one is for a mount whose
// type or flags come from build arguments. A Stage cannot be named here:
// from= names an image.
func MountFlag(spec string) RunOption { return &mountSpec{flag: spec} }

// Source is the path in the mount's source: source= of --mount.
func Source(p string) MountOption { return mountOptionFunc(func(m *mountSpec) { m.source = p }) }

// Target is where a secret or SSH socket is mounted: target= of --mount.
func Target(p string) MountOption { return mountOptionFunc(func(m *mountSpec) { m.target = p }) }

// ReadOnly mounts read-only (true), as ro or readonly=true of --mount do,
// or read-write (false), as rw or readonly=false do; writes to a bind
// mount are then discarded after the step. Without it, bind, secret and
// SSH mounts are read-only and cache and tmpfs mounts read-write.
func ReadOnly(readOnly bool) MountOption {
	return mountOptionFunc(func(m *mountSpec) { m.readOnly = &readOnly })
}

// ID names a cache, secret or SSH agent: id= of --mount.
func ID(id string) MountOption { return mountOptionFunc(func(m *mountSpec) { m.id = id }) }

// SharingMode is how concurrent builds share a cache mount: sharing= of
// --mount.
type SharingMode string

// Sharing modes of a cache mount.
const (
	// SharingShared lets concurrent builds use the cache at once (the
	// default).
	SharingShared SharingMode = "shared"
	// SharingPrivate gives each concurrent build a cache of its own.
	SharingPrivate SharingMode = "private"
	// SharingLocked makes concurrent builds wait for each other.
	SharingLocked SharingMode = "locked"
)

// Sharing sets how concurrent builds share a cache mount: SharingShared (the
// default), SharingPrivate or SharingLocked.
func Sharing(mode SharingMode) MountOption {
	return mountOptionFunc(func(m *mountSpec) { m.sharing = mode })
}

// RequiredOption is what [Required] returns: an option of a mount and of a
// device.
type RequiredOption struct{}

// Required fails the step when what it needs is missing: the secret or SSH
// agent of a mount, as required of --mount does, or the CDI device of
// [Device], as --device=name,required does.
func Required() RequiredOption { return RequiredOption{} }

func (RequiredOption) setMount(m *mountSpec) { m.required = true }

func (RequiredOption) setDevice(d *device) { d.required = true }

// Size limits a tmpfs mount, in bytes.
func Size(bytes int64) MountOption { return mountOptionFunc(func(m *mountSpec) { m.size = bytes }) }

// Mode sets the file mode of a cache directory, secret file or SSH socket.
func Mode(mode os.FileMode) MountOption {
	return mountOptionFunc(func(m *mountSpec) { v := uint64(mode); m.mode = &v })
}

// UID sets the owner of a cache directory, secret file or SSH socket.
func UID(uid uint32) MountOption {
	return mountOptionFunc(func(m *mountSpec) { v := uint64(uid); m.uid = &v })
}

// GID sets the group of a cache directory, secret file or SSH socket.
func GID(gid uint32) MountOption {
	return mountOptionFunc(func(m *mountSpec) { v := uint64(gid); m.gid = &v })
}

// AsEnv exposes a secret as the environment variable name instead of a
// file: env= of --mount=type=secret.
func AsEnv(name string) MountOption { return mountOptionFunc(func(m *mountSpec) { m.env = &name }) }

func (c *compiler) mount(d *stageState, spec *mountSpec) (llb.RunOption, error) {
	m := *spec
	if err := m.expand(d); err != nil {
		return nil, err
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	readOnly := m.typ != "cache" && m.typ != "tmpfs"
	if m.readOnly != nil {
		readOnly = *m.readOnly
	}
	switch m.typ {
	case "secret":
		if m.from != nil {
			return nil, fmt.Errorf("a secret mount has no source stage: %w", ErrInvalid)
		}
		return c.secret(d, &m)
	case "ssh":
		return c.ssh(&m)
	case "bind", "cache", "tmpfs":
	default:
		return nil, fmt.Errorf("unknown mount type %q: %w", m.typ, ErrInvalid)
	}

	st, named, err := c.mountSource(&m)
	if err != nil {
		return nil, err
	}
	var mountOpts []llb.MountOption
	if m.typ == "tmpfs" {
		st = llb.Scratch()
		mountOpts = append(mountOpts, llb.Tmpfs(llb.TmpfsSize(m.size)))
	}
	if readOnly {
		mountOpts = append(mountOpts, llb.Readonly)
	} else if m.typ == "bind" && c.supports(pb.CapExecMountBindReadWriteNoOutput) {
		mountOpts = append(mountOpts, llb.ForceNoOutput)
	}
	if m.typ == "cache" {
		cache, err := m.cacheDir()
		if err != nil {
			return nil, err
		}
		mountOpts = append(mountOpts, cache)
	}
	target, err := c.mountTarget(d, &m)
	if err != nil {
		return nil, err
	}
	if src := path.Join("/", m.source); src != "/" {
		mountOpts = append(mountOpts, llb.SourcePath(src))
	} else if uid, gid, mode, ok := m.owner(0o755); ok {
		st = st.File(llb.Mkdir("/cache", os.FileMode(mode), llb.WithUIDGID(uid, gid)), llb.WithCustomName("[internal] setting cache mount permissions"))
		mountOpts = append(mountOpts, llb.SourcePath("/cache"))
	}
	// A bind or tmpfs mount without a stage reads the context, as far as
	// the frontend is concerned: it counts toward the paths sent.
	if m.from == nil && m.typ != "cache" {
		c.contextPaths[path.Join("/", filepath.ToSlash(m.source))] = struct{}{}
	}
	if named != nil {
		named[path.Join("/", filepath.ToSlash(m.source))] = struct{}{}
	}
	return llb.AddMount(target, st, mountOpts...), nil
}

// expand expands the fields that are Dockerfile words, as in --mount,
// unless they were expanded already.
func (m *mountSpec) expand(d *stageState) error {
	if m.expanded {
		return nil
	}
	for _, f := range []*string{&m.source, &m.target, &m.id} {
		v, err := d.expand(*f)
		if err != nil {
			return fmt.Errorf("%q: %w", *f, err)
		}
		*f = v
	}
	return nil
}

// mountTarget is where the mount goes. Without a target, the mount is at
// the working directory, as the frontend has it: the relative path "" is
// the directory itself.
func (c *compiler) mountTarget(d *stageState, m *mountSpec) (string, error) {
	target := m.target
	if !system.IsAbsolutePath(filepath.Clean(m.target)) {
		dir, err := d.state.GetDir(c.ctx)
		if err != nil {
			return "", err
		}
		target = filepath.Join("/", dir, m.target)
	}
	if target == "/" {
		return "", fmt.Errorf("target %q: cannot mount over /: %w", m.target, ErrInvalid)
	}
	return target, nil
}

// check rejects the options a mount's type does not take.
func (m *mountSpec) check() error {
	fileInfo := m.typ == "secret" || m.typ == "ssh" || m.typ == "cache"
	if !fileInfo && (m.mode != nil || m.uid != nil || m.gid != nil) {
		return fmt.Errorf("mode, uid and gid are not allowed for %s mounts: %w", m.typ, ErrInvalid)
	}
	if m.sharing != "" && m.typ != "cache" {
		return fmt.Errorf("sharing is only for cache mounts: %w", ErrInvalid)
	}
	if m.size != 0 && m.typ != "tmpfs" {
		return fmt.Errorf("size is only for tmpfs mounts: %w", ErrInvalid)
	}
	if m.required && m.typ != "secret" && m.typ != "ssh" {
		return fmt.Errorf("required is only for secret and ssh mounts: %w", ErrInvalid)
	}
	return nil
}

// mountSource is what a bind, cache or tmpfs mount shows: the stage of
// from, the context for a bind, else scratch; named are the paths read of
// a named context, if the stage is one.
func (c *compiler) mountSource(m *mountSpec) (st llb.State, named map[string]struct{}, err error) {
	switch {
	case m.from != nil:
		src, err := c.stage(*m.from)
		if err != nil {
			return llb.State{}, nil, err
		}
		if src.contextName != "" {
			named = c.named[src.contextName].paths
		}
		return src.state, named, nil
	case m.typ == "bind":
		return c.contextState(), nil, nil
	default:
		return llb.Scratch(), nil, nil
	}
}

// cacheDir is a cache mount's persistent directory, its ID (the target
// when not given) and sharing mode.
func (m *mountSpec) cacheDir() (llb.MountOption, error) {
	sharing := llb.CacheMountShared
	switch m.sharing {
	case "", SharingShared:
	case SharingPrivate:
		sharing = llb.CacheMountPrivate
	case SharingLocked:
		sharing = llb.CacheMountLocked
	default:
		return nil, fmt.Errorf("sharing %q: want shared, private or locked: %w", m.sharing, ErrInvalid)
	}
	id := m.id
	if id == "" {
		id = path.Clean(m.target)
	}
	return llb.AsPersistentCacheDir("/"+id, sharing), nil
}

func (c *compiler) secret(d *stageState, m *mountSpec) (llb.RunOption, error) {
	id := m.id
	if m.source != "" {
		id = m.source
	}
	if id == "" {
		if m.target == "" {
			return nil, fmt.Errorf("a secret needs an id or a target: %w", ErrInvalid)
		}
		id = path.Base(m.target)
	}
	var target *string
	if m.target != "" {
		t := m.target
		target = &t
	}
	if m.env == nil {
		dest := m.target
		if dest == "" {
			dest = "/run/secrets/" + path.Base(id)
		}
		target = &dest
	} else if strings.TrimSpace(*m.env) == "" {
		return nil, fmt.Errorf("empty environment variable name for secret %s: %w", id, ErrInvalid)
	}
	opts := []llb.SecretOption{llb.SecretID(id)}
	if !m.required {
		opts = append(opts, llb.SecretOptional)
	}
	if m.env != nil {
		opts = append(opts, llb.SecretAsEnvName(*m.env))
	}
	if uid, gid, mode, ok := m.owner(0o400); ok {
		opts = append(opts, llb.SecretFileOpt(uid, gid, mode))
	}
	return llb.AddSecretWithDest(id, target, opts...), nil
}

func (c *compiler) ssh(m *mountSpec) (llb.RunOption, error) {
	if m.source != "" {
		return nil, fmt.Errorf("an ssh mount has no source: %w", ErrInvalid)
	}
	if m.from != nil {
		return nil, fmt.Errorf("an ssh mount has no source stage: %w", ErrInvalid)
	}
	opts := []llb.SSHOption{llb.SSHID(m.id)}
	if m.target != "" {
		opts = append(opts, llb.SSHSocketTarget(m.target))
	}
	if !m.required {
		opts = append(opts, llb.SSHOptional)
	}
	if uid, gid, mode, ok := m.owner(0o600); ok {
		opts = append(opts, llb.SSHSocketOpt(m.target, uid, gid, mode))
	}
	return llb.AddSSHSocket(opts...), nil
}

// owner is the uid, gid and mode a mount's file or directory gets, with
// defMode when only the owner is set; ok is false when none is set.
func (m *mountSpec) owner(defMode int) (uid, gid, mode int, ok bool) {
	if m.uid == nil && m.gid == nil && m.mode == nil {
		return 0, 0, 0, false
	}
	mode = defMode
	if m.uid != nil {
		uid = int(*m.uid)
	}
	if m.gid != nil {
		gid = int(*m.gid)
	}
	if m.mode != nil {
		mode = int(*m.mode)
	}
	return uid, gid, mode, true
}

// parseMountFlag parses a --mount value with BuildKit's own parser,
// expanding its fields against the stage's environment as the frontend does.
func (c *compiler) parseMountFlag(d *stageState, flag string) (*mountSpec, error) {
	if strings.TrimSpace(flag) == "" || strings.ContainsAny(flag, "\n\r") {
		return nil, fmt.Errorf("not a --mount value: %w", ErrInvalid)
	}
	node, err := mountFlagNode(flag)
	if err != nil {
		return nil, err
	}
	cmd, err := instructions.ParseCommand(node)
	if err != nil {
		return nil, err
	}
	run, ok := cmd.(*instructions.RunCommand)
	if !ok {
		return nil, fmt.Errorf("not a --mount value: %w", ErrInvalid)
	}
	if err := run.Expand(d.expand); err != nil {
		return nil, err
	}
	mounts := instructions.GetMounts(run)
	if len(mounts) != 1 {
		return nil, fmt.Errorf("want one mount, got %d: %w", len(mounts), ErrInvalid)
	}
	spec := mountFromDockerfile(mounts[0])
	spec.expanded = true
	if mounts[0].From != "" {
		from, err := c.stageNamed(mounts[0].From)
		if err != nil {
			return nil, err
		}
		spec.from = &from
	}
	return spec, nil
}

// mountFlagNode is the parser's node for the line "RUN --mount=flag true".
func mountFlagNode(flag string) (*parser.Node, error) {
	line := "RUN --mount=" + flag + " true"
	if plainFlag(flag) {
		// What parser.Parse makes of the line, without its cost (it
		// compiles a regexp per call): extractBuilderFlags takes the
		// flag as one word, the rest is RUN's shell form, parseMaybeJSON
		// of "true", and the node is on line 1.
		return &parser.Node{
			Value: "RUN", Original: line, Flags: []string{"--mount=" + flag},
			Next: &parser.Node{Value: "true"}, StartLine: 1, EndLine: 1,
		}, nil
	}
	res, err := parser.Parse(strings.NewReader(line + "\n"))
	if err != nil {
		return nil, err
	}
	if len(res.AST.Children) != 1 {
		return nil, fmt.Errorf("not a --mount value: %w", ErrInvalid)
	}
	return res.AST.Children[0], nil
}

// plainFlag reports flag text the Dockerfile parser reads as written: all
// printable ASCII without a space (which ends a word), a quote or the
// escape character (which extractBuilderFlags interprets), or a '<' (a
// possible heredoc). A line of such a flag is no comment, directive or
// continuation either.
func plainFlag(flag string) bool {
	if flag == "" {
		return false
	}
	for i := 0; i < len(flag); i++ {
		switch ch := flag[i]; {
		case ch <= ' ' || ch >= 0x7f:
			return false
		case ch == '"' || ch == '\'' || ch == '\\' || ch == '<':
			return false
		}
	}
	return true
}

// mountFromDockerfile is the DSL form of a parsed --mount (without from=).
func mountFromDockerfile(m *instructions.Mount) *mountSpec {
	ro := m.ReadOnly
	return &mountSpec{typ: string(m.Type), source: m.Source, target: m.Target, id: m.CacheID,
		sharing: SharingMode(m.CacheSharing), required: m.Required, size: m.SizeLimit,
		mode: m.Mode, uid: m.UID, gid: m.GID, env: m.Env, readOnly: &ro}
}
