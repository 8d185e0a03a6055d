package decompile

import (
	"fmt"
	"slices"
	"strings"

	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	"github.com/slipway-build/slipway/internal/frontend"
)

// shellOf is the shell a shell-form RUN of the stage runs in.
func shellOf(st *frontState) []string {
	return frontend.Shell(st.img.Config.Shell, st.img.OS)
}

// writeRun writes the RUN of an exec op, after the ENV, WORKDIR and USER
// it needs.
func (d *decompiler) writeRun(st *frontState, dg digest.Digest, op *pb.Op, e *pb.ExecOp) error {
	m := e.Meta
	if m == nil || len(m.Args) == 0 {
		return d.unsupported(dg, "exec op without a command")
	}
	if err := d.runOptions(dg, m); err != nil {
		return err
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
	if err := d.runDirAndUser(st, dg, m); err != nil {
		return d.refused(err)
	}
	flags, pipe, err := d.mountFlags(st, dg, op, e)
	if err != nil {
		return err
	}
	more, err := execFlags(dg, e)
	if err != nil {
		return d.refused(err)
	}
	prefix := "RUN "
	if flags = append(flags, more...); len(flags) > 0 {
		prefix += strings.Join(flags, " ") + " "
	}
	line, err := d.runLine(st, dg, prefix, m.Args, pipe)
	if err != nil {
		return d.refused(err)
	}
	d.out.add("%s", line)
	return nil
}

// runOptions refuses, each with its own message, what a build option,
// not the Dockerfile, sets: with BestEffort a comment each, and the RUN
// without it.
func (d *decompiler) runOptions(dg digest.Digest, m *pb.Meta) error {
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
	return nil
}

// runDirAndUser writes the WORKDIR and USER a RUN needs, or refuses the
// directory or user a Dockerfile cannot set.
func (d *decompiler) runDirAndUser(st *frontState, dg digest.Digest, m *pb.Meta) error {
	if st.wd != nil && m.Cwd == st.dir {
		st.wd.used = true
	}
	if m.Cwd != st.dir && !d.respellWorkdir(st, m.Cwd) {
		if m.Cwd != "/" {
			return opError(dg, "exec op runs in %s, a directory no WORKDIR made", m.Cwd)
		}
		d.out.add("WORKDIR /")
		st.dir, st.img.Config.WorkingDir, st.wd = "/", "/", nil
	}
	if m.User != st.user {
		if err := checkText("user", m.User); err != nil || strings.ContainsAny(m.User, " \t\n\r") {
			return opError(dg, "user %q cannot be written as USER", m.User)
		}
		d.out.add("USER %s", userWord(m.User))
		st.user = m.User
	}
	return nil
}

// mountFlags are the --mount flags of a RUN's mounts but the root, and
// the heredoc script it runs, if any.
func (d *decompiler) mountFlags(st *frontState, dg digest.Digest, op *pb.Op, e *pb.ExecOp) ([]string, *pb.FileActionMkFile, error) {
	var flags []string
	var pipe *pb.FileActionMkFile
	for i, mnt := range e.Mounts[1:] {
		f, p, err := d.mountFlag(st, dg, op, mnt, i+1)
		if err != nil {
			return nil, nil, err
		}
		if p != nil {
			pipe = p
			continue
		}
		if f != "" {
			flags = append(flags, f)
		}
	}
	return flags, pipe, nil
}

// execFlags are the flags of a RUN's secret env, devices, network and
// security.
func execFlags(dg digest.Digest, e *pb.ExecOp) ([]string, error) {
	var flags []string
	for _, se := range e.Secretenv {
		f := "--mount=type=secret,id=" + se.ID + ",env=" + se.Name
		if !se.Optional {
			f += ",required"
		}
		if err := checkFlag(f); err != nil {
			return nil, opError(dg, "%v", err)
		}
		flags = append(flags, f)
	}
	for _, dev := range e.CdiDevices {
		f := "--device=name=" + dev.Name
		if !dev.Optional {
			f += ",required=true"
		}
		if err := checkFlag(f); err != nil || strings.Contains(dev.Name, ",") || dev.Name == "" {
			return nil, opError(dg, "device %q cannot be written as a --device flag", dev.Name)
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
	return flags, nil
}

// runLine is the RUN of args after prefix: a line in the stage's shell, a
// heredoc, or a JSON list. A heredoc script (pipe) runs in the shell, and
// in a stage without history it writes the SHELL it shows.
func (d *decompiler) runLine(st *frontState, dg digest.Digest, prefix string, args []string, pipe *pb.FileActionMkFile) (string, error) {
	shell := shellOf(st)
	inShell := len(args) == len(shell)+1 && slices.Equal(args[:len(shell)], shell)
	if n := len(args); pipe != nil && !inShell && !d.curChain && n >= 2 && args[n-1] == "/dev/pipes/"+strings.TrimPrefix(pipe.Path, "/") {
		for _, a := range args[:n-1] {
			if checkText("shell", a) != nil {
				return "", opError(dg, "shell %q cannot be written as SHELL", a)
			}
		}
		shell = slices.Clone(args[:n-1])
		d.out.add("SHELL %s", jsonList(shell))
		st.img.Config.Shell, inShell = shell, true
	}
	if pipe != nil {
		name := strings.TrimPrefix(pipe.Path, "/")
		if !inShell || args[len(shell)] != "/dev/pipes/"+name {
			return "", opError(dg, "a file mounted at /dev/pipes/ that the command does not run")
		}
		body, err := heredocBody(name, string(pipe.Data))
		if err != nil || pipe.Mode != 0o755 || !strings.HasPrefix(string(pipe.Data), "#!") {
			return "", opError(dg, "the script at /dev/pipes/%s cannot be written as a heredoc", name)
		}
		return prefix + "<<" + name + "\n" + body, nil
	}
	if inShell {
		cmd := args[len(shell)]
		if plainLine(cmd) {
			return prefix + cmd, nil
		}
		if !strings.HasPrefix(cmd, "#!") {
			for _, name := range []string{"EOF", "EOT", "SCRIPT", "END_OF_SCRIPT"} {
				if body, err := heredocBody(name, cmd); err == nil {
					return prefix + "<<'" + name + "'\n" + body, nil
				}
			}
		}
	}
	for _, a := range args {
		if err := checkText("argument", a); err != nil {
			return "", opError(dg, "%v", err)
		}
	}
	return prefix + jsonList(args), nil
}
