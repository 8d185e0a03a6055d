package decompile

import (
	"fmt"
	"slices"
	"strings"

	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
)

// shellOf is the shell a shell-form RUN of the stage runs in.
func shellOf(st *frontState) []string {
	if len(st.img.Config.Shell) > 0 {
		return st.img.Config.Shell
	}
	return []string{"/bin/sh", "-c"}
}

func (d *decompiler) writeRun(st *frontState, dg digest.Digest, op *pb.Op, e *pb.ExecOp) error {
	m := e.Meta
	if m == nil || len(m.Args) == 0 {
		return d.unsupported(dg, "exec op without a command")
	}
	// What a build option, not the Dockerfile, sets: with BestEffort a
	// comment each, and the RUN without it.
	for _, c := range []struct {
		bad bool
		msg string
	}{
		{m.Hostname != "", fmt.Sprintf("exec op sets hostname %q, which has no Dockerfile flag", m.Hostname)},
		{len(m.ExtraHosts) > 0, "exec op adds hosts, which has no Dockerfile flag (docker build --add-host)"},
		{len(m.Ulimit) > 0, "exec op sets ulimits, which has no Dockerfile flag (docker build --ulimit)"},
		{m.CgroupParent != "", "exec op sets a cgroup parent, which has no Dockerfile flag"},
		{len(m.ValidExitCodes) > 0, fmt.Sprintf("exec op accepts exit codes %v, which has no Dockerfile flag", m.ValidExitCodes)},
		{!m.RemoveMountStubsRecursive, "exec op keeps mount stubs, which the frontend always removes"},
	} {
		if c.bad {
			if err := d.unsupported(dg, "%s", c.msg); err != nil {
				return err
			}
		}
	}
	if op.Platform != nil && platformString(platformOf(op.Platform)) != platformString(st.platform) {
		return d.unsupported(dg, "exec op for %s in a stage for %s", platformString(platformOf(op.Platform)), platformString(st.platform))
	}
	env := m.Env
	// An ssh mount sets SSH_AUTH_SOCK to the first agent socket.
	for _, mnt := range e.Mounts {
		if mnt.MountType == pb.MountType_SSH {
			if n := len(env); n > 0 && env[n-1] == "SSH_AUTH_SOCK="+mnt.Dest {
				env = env[:n-1]
			}
			break
		}
	}
	if err := d.envFor(st, dg, env); err != nil {
		return err
	}
	if st.wd != nil && m.Cwd == st.dir {
		st.wd.used = true
	}
	if m.Cwd != st.dir && !d.respellWorkdir(st, m.Cwd) {
		if m.Cwd != "/" {
			return d.unsupported(dg, "exec op runs in %s, a directory no WORKDIR made", m.Cwd)
		}
		d.out.add("WORKDIR /")
		st.dir, st.img.Config.WorkingDir, st.wd = "/", "/", nil
	}
	if m.User != st.user {
		if err := checkText("user", m.User); err != nil || strings.ContainsAny(m.User, " \t\n\r") {
			return d.unsupported(dg, "user %q cannot be written as USER", m.User)
		}
		d.out.add("USER %s", userWord(m.User))
		st.user = m.User
	}
	var flags []string
	var pipe *pb.FileActionMkFile
	for i, mnt := range e.Mounts[1:] {
		f, p, err := d.mountFlag(st, dg, op, mnt, i+1)
		if err != nil {
			return err
		}
		if p != nil {
			pipe = p
			continue
		}
		if f != "" {
			flags = append(flags, f)
		}
	}
	for _, se := range e.Secretenv {
		f := "--mount=type=secret,id=" + se.ID + ",env=" + se.Name
		if !se.Optional {
			f += ",required"
		}
		if err := checkFlag(f); err != nil {
			return d.unsupported(dg, "%v", err)
		}
		flags = append(flags, f)
	}
	for _, dev := range e.CdiDevices {
		f := "--device=name=" + dev.Name
		if !dev.Optional {
			f += ",required=true"
		}
		if err := checkFlag(f); err != nil || strings.Contains(dev.Name, ",") || dev.Name == "" {
			return d.unsupported(dg, "device %q cannot be written as a --device flag", dev.Name)
		}
		flags = append(flags, f)
	}
	switch e.Network {
	case pb.NetMode_HOST:
		flags = append(flags, "--network=host")
	case pb.NetMode_NONE:
		flags = append(flags, "--network=none")
	}
	if e.Security == pb.SecurityMode_INSECURE {
		flags = append(flags, "--security=insecure")
	}
	prefix := "RUN "
	if len(flags) > 0 {
		prefix += strings.Join(flags, " ") + " "
	}
	shell := shellOf(st)
	args := m.Args
	inShell := len(args) == len(shell)+1 && slices.Equal(args[:len(shell)], shell)
	if n := len(args); pipe != nil && !inShell && !d.curChain && n >= 2 && args[n-1] == "/dev/pipes/"+strings.TrimPrefix(pipe.Path, "/") {
		// A heredoc script runs in the shell: a stage without history
		// shows its SHELL only there.
		for _, a := range args[:n-1] {
			if checkText("shell", a) != nil {
				return d.unsupported(dg, "shell %q cannot be written as SHELL", a)
			}
		}
		shell = slices.Clone(args[:n-1])
		d.out.add("SHELL %s", jsonList(shell))
		st.img.Config.Shell, inShell = shell, true
	}
	if pipe != nil {
		name := strings.TrimPrefix(pipe.Path, "/")
		if !inShell || args[len(shell)] != "/dev/pipes/"+name {
			return d.unsupported(dg, "a file mounted at /dev/pipes/ that the command does not run")
		}
		body, err := heredocBody(name, string(pipe.Data))
		if err != nil || pipe.Mode != 0o755 || !strings.HasPrefix(string(pipe.Data), "#!") {
			return d.unsupported(dg, "the script at /dev/pipes/%s cannot be written as a heredoc", name)
		}
		d.out.add("%s<<%s\n%s", prefix, name, body)
		return nil
	}
	if inShell {
		cmd := args[len(shell)]
		if plainLine(cmd) {
			d.out.add("%s%s", prefix, cmd)
			return nil
		}
		if !strings.HasPrefix(cmd, "#!") {
			for _, name := range []string{"EOF", "EOT", "SCRIPT", "END_OF_SCRIPT"} {
				if body, err := heredocBody(name, cmd); err == nil {
					d.out.add("%s<<'%s'\n%s", prefix, name, body)
					return nil
				}
			}
		}
	}
	for _, a := range args {
		if err := checkText("argument", a); err != nil {
			return d.unsupported(dg, "%v", err)
		}
	}
	d.out.add("%s%s", prefix, jsonList(args))
	return nil
}
