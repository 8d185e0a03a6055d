package decompile

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
)

// mountFlag is the --mount flag of one exec mount, or the heredoc script a
// RUN mounts at /dev/pipes/.
func (d *decompiler) mountFlag(st *frontState, dg digest.Digest, op *pb.Op, m *pb.Mount, i int) (string, *pb.FileActionMkFile, error) {
	var kv []string
	var src ref
	if m.Input >= 0 {
		var err error
		if src, err = d.g.input(op, m.Input); err != nil {
			return "", nil, opError(dg, "mount %d: %v", i, err)
		}
	}
	var err error
	switch m.MountType {
	case pb.MountType_BIND:
		if m.Input < 0 {
			return "", nil, d.unsupported(dg, "bind mount of scratch at %s", m.Dest)
		}
		if f := mkfileOf(d.g.ops[src.op]); f != nil && m.Dest == "/dev/pipes/" && m.Readonly && m.Selector == "/" {
			return "", f, nil
		}
		kv, err = d.bindMount(dg, m, src)
	case pb.MountType_CACHE:
		kv, err = d.cacheMount(dg, m, src)
	case pb.MountType_TMPFS:
		kv = append(kv, "type=tmpfs", "target="+m.Dest)
		if m.TmpfsOpt != nil && m.TmpfsOpt.Size > 0 {
			kv = append(kv, "size="+strconv.FormatInt(m.TmpfsOpt.Size, 10))
		}
	case pb.MountType_SECRET:
		kv, err = secretMount(dg, m)
	case pb.MountType_SSH:
		kv, err = sshMount(dg, op, m)
	default:
		return "", nil, d.unsupported(dg, "mount type %v at %s", m.MountType, m.Dest)
	}
	if err != nil {
		return "", nil, d.refused(err)
	}
	f := "--mount=" + strings.Join(kv, ",")
	if err := checkFlag(f); err != nil || strings.Count(f, "=") != len(kv)+1-countBare(kv) || strings.Count(f, ",") != len(kv)-1 {
		return "", nil, d.unsupported(dg, "mount at %q cannot be written as a --mount flag", m.Dest)
	}
	return f, nil, nil
}

// bindMount is the options of --mount=type=bind of src.
func (d *decompiler) bindMount(dg digest.Digest, m *pb.Mount, src ref) ([]string, error) {
	kv := []string{"type=bind"}
	from, err := d.from(dg, src)
	if err != nil {
		return nil, opError(dg, "mount at %s: %v", m.Dest, err)
	}
	if from != "" {
		kv = append(kv, "from="+from)
	}
	if sel := m.Selector; sel != "" && sel != "/" {
		kv = append(kv, "source="+sel)
	}
	kv = append(kv, "target="+m.Dest)
	if !m.Readonly {
		kv = append(kv, "rw")
	}
	return kv, nil
}

// cacheMount is the options of --mount=type=cache, whose input, if any,
// is the directory the frontend makes for its mode and owner, or what
// from= seeds it with.
func (d *decompiler) cacheMount(dg digest.Digest, m *pb.Mount, src ref) ([]string, error) {
	if m.CacheOpt == nil {
		return nil, opError(dg, "cache mount at %s without options", m.Dest)
	}
	sel := m.Selector
	kv := []string{"type=cache", "target=" + m.Dest}
	id := strings.TrimPrefix(m.CacheOpt.ID, "/")
	if id != path.Clean(m.Dest) {
		kv = append(kv, "id="+id)
	}
	switch m.CacheOpt.Sharing {
	case pb.CacheSharingOpt_PRIVATE:
		kv = append(kv, "sharing=private")
	case pb.CacheSharingOpt_LOCKED:
		kv = append(kv, "sharing=locked")
	}
	if m.Input < 0 && sel != "" && sel != "/" {
		kv = append(kv, "source="+sel)
	}
	if m.Input >= 0 {
		if mk := cacheDirOf(d.g.ops[src.op]); mk != nil && sel == "/cache" {
			kv = append(kv, "mode="+strconv.FormatInt(int64(mk.Mode), 8))
			if u, g, ok := ownerIDs(mk.Owner); ok {
				kv = append(kv, "uid="+strconv.FormatUint(uint64(u), 10), "gid="+strconv.FormatUint(uint64(g), 10))
			}
		} else {
			from, err := d.from(dg, src)
			if err != nil {
				return nil, opError(dg, "cache mount at %s: %v", m.Dest, err)
			}
			if from == "" {
				return nil, opError(dg, "cache mount at %s seeded from the build context", m.Dest)
			}
			kv = append(kv, "from="+from)
			if sel != "" && sel != "/" {
				kv = append(kv, "source="+sel)
			}
		}
	}
	if m.Readonly {
		kv = append(kv, "ro")
	}
	return kv, nil
}

// secretMount is the options of --mount=type=secret.
func secretMount(dg digest.Digest, m *pb.Mount) ([]string, error) {
	o := m.SecretOpt
	if o == nil {
		return nil, opError(dg, "secret mount at %s without options", m.Dest)
	}
	kv := []string{"type=secret", "id=" + o.ID}
	if m.Dest != "/run/secrets/"+path.Base(o.ID) {
		kv = append(kv, "target="+m.Dest)
	}
	if !o.Optional {
		kv = append(kv, "required")
	}
	return append(kv, modeAndOwner(o.Mode, 0o400, o.Uid, o.Gid)...), nil
}

// sshMount is the options of --mount=type=ssh, one of op's mounts.
func sshMount(dg digest.Digest, op *pb.Op, m *pb.Mount) ([]string, error) {
	o := m.SSHOpt
	if o == nil {
		return nil, opError(dg, "ssh mount at %s without options", m.Dest)
	}
	kv := []string{"type=ssh"}
	// The frontend keeps the id as written: id=default is not the empty
	// id of a mount that names none (its dispatchSSH).
	if o.ID != "" {
		kv = append(kv, "id="+o.ID)
	}
	// llb puts the n-th ssh mount without a target at ssh_agent.n.
	n := 0
	for _, other := range op.GetExec().Mounts {
		if other == m {
			break
		}
		if other.MountType == pb.MountType_SSH {
			n++
		}
	}
	if m.Dest != fmt.Sprintf("/run/buildkit/ssh_agent.%d", n) {
		kv = append(kv, "target="+m.Dest)
	}
	if !o.Optional {
		kv = append(kv, "required")
	}
	return append(kv, modeAndOwner(o.Mode, 0o600, o.Uid, o.Gid)...), nil
}

// modeAndOwner are the mode, uid and gid options of a secret or ssh
// mount, all three when any is not the default: mode def, owned by root.
func modeAndOwner(mode, def, uid, gid uint32) []string {
	if mode == def && uid == 0 && gid == 0 {
		return nil
	}
	return []string{"mode=" + strconv.FormatUint(uint64(mode), 8), "uid=" + strconv.FormatUint(uint64(uid), 10), "gid=" + strconv.FormatUint(uint64(gid), 10)}
}

func countBare(kv []string) int {
	n := 0
	for _, s := range kv {
		if !strings.Contains(s, "=") {
			n++
		}
	}
	return n
}

func mkfileOf(op *pb.Op) *pb.FileActionMkFile {
	if op == nil {
		return nil
	}
	f := op.GetFile()
	if f == nil || len(f.Actions) != 1 {
		return nil
	}
	return f.Actions[0].GetMkfile()
}

func cacheDirOf(op *pb.Op) *pb.FileActionMkDir {
	if op == nil {
		return nil
	}
	f := op.GetFile()
	if f == nil || len(f.Actions) != 1 || f.Actions[0].Input != -1 {
		return nil
	}
	return f.Actions[0].GetMkdir()
}

// ownerIDs reads a numeric owner.
func ownerIDs(o *pb.ChownOpt) (uint32, uint32, bool) {
	if o == nil || o.User == nil {
		return 0, 0, false
	}
	u, ok := o.User.User.(*pb.UserOpt_ByID)
	if !ok {
		return 0, 0, false
	}
	var g uint32
	if o.Group != nil {
		gid, ok := o.Group.User.(*pb.UserOpt_ByID)
		if !ok {
			return 0, 0, false
		}
		g = gid.ByID
	}
	return u.ByID, g, true
}
