package dsl

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/sys/signal"
)

// This file holds the instructions that only change the image config:
// LABEL, EXPOSE, USER, ENTRYPOINT, SHELL, STOPSIGNAL, HEALTHCHECK, VOLUME,
// MAINTAINER and ONBUILD.

// Label sets image labels, as LABEL key=value does; more pairs may follow.
// Keys and values are Dockerfile words ($VAR expands).
func (s Stage) Label(key, value string, more ...string) Stage { return Label(key, value, more...)(s) }

// Label is the free-function form of [Stage.Label].
func Label(key, value string, more ...string) StageOption {
	at := here()
	return func(s Stage) Stage {
		pairs, err := pairsOf(key, value, more)
		return s.thenAt(at, &labelIns{pairs: pairs, err: err})
	}
}

type labelIns struct {
	pairs []keyValue
	err   error
}

func (*labelIns) keyword() string { return "LABEL" }

func pairsOf(key, value string, more []string) ([]keyValue, error) {
	pairs := []keyValue{{key, value}}
	var err error
	if len(more)%2 != 0 {
		err = fmt.Errorf("key %q has no value (pairs must come as key, value): %w", more[len(more)-1], ErrInvalid)
	}
	for i := 0; i+1 < len(more); i += 2 {
		pairs = append(pairs, keyValue{more[i], more[i+1]})
	}
	return pairs, err
}

// Expose records ports the container listens on, as EXPOSE does: "80",
// "53/udp", "8000-8010/tcp". Each argument is a Dockerfile word and may
// expand to several ports.
func (s Stage) Expose(ports ...string) Stage { return Expose(ports...)(s) }

// Expose is the free-function form of [Stage.Expose].
func Expose(ports ...string) StageOption {
	at := here()
	return func(s Stage) Stage { return s.thenAt(at, &exposeIns{ports: append([]string(nil), ports...)}) }
}

type exposeIns struct{ ports []string }

func (*exposeIns) keyword() string { return "EXPOSE" }

// User sets the user (and optionally group) that following RUN steps and the
// container run as, as USER does: "app", "1000:1000". The user is expanded;
// one that expands to nothing ("$UID" of an ARG without a value) is no user,
// as in the frontend, but an empty user is an error.
func (s Stage) User(user string) Stage { return User(user)(s) }

// User is the free-function form of [Stage.User].
func User(user string) StageOption {
	at := here()
	return func(s Stage) Stage { return s.thenAt(at, &userIns{user: user}) }
}

type userIns struct{ user string }

func (*userIns) keyword() string { return "USER" }

// Entrypoint sets the image's entrypoint in exec form, as
// ENTRYPOINT ["redis-server"] does. As in Docker, a CMD inherited from the
// base image is dropped; a CMD set earlier in the same stage is kept.
func (s Stage) Entrypoint(args ...string) Stage { return Entrypoint(args...)(s) }

// Entrypoint is the free-function form of [Stage.Entrypoint].
func Entrypoint(args ...string) StageOption {
	at := here()
	return func(s Stage) Stage {
		return s.thenAt(at, &entrypointIns{args: append([]string(nil), args...)})
	}
}

// EntrypointShell sets the entrypoint in shell form: the command is run by
// the image's shell.
func (s Stage) EntrypointShell(command string) Stage { return EntrypointShell(command)(s) }

// EntrypointShell is the free-function form of [Stage.EntrypointShell].
func EntrypointShell(command string) StageOption {
	at := here()
	return func(s Stage) Stage {
		return s.thenAt(at, &entrypointIns{args: []string{command}, shell: true})
	}
}

type entrypointIns struct {
	args  []string
	shell bool
}

func (*entrypointIns) keyword() string { return "ENTRYPOINT" }

// Shell sets the shell that shell-form RUN, CMD and ENTRYPOINT use, as
// SHELL ["/bin/bash", "-c"] does.
func (s Stage) Shell(args ...string) Stage { return Shell(args...)(s) }

// Shell is the free-function form of [Stage.Shell].
func Shell(args ...string) StageOption {
	at := here()
	return func(s Stage) Stage { return s.thenAt(at, &shellIns{args: append([]string(nil), args...)}) }
}

type shellIns struct{ args []string }

func (*shellIns) keyword() string { return "SHELL" }

// StopSignal sets the signal that stops the container, as STOPSIGNAL does:
// "SIGTERM", "9".
func (s Stage) StopSignal(sig string) Stage { return StopSignal(sig)(s) }

// StopSignal is the free-function form of [Stage.StopSignal].
func StopSignal(sig string) StageOption {
	at := here()
	return func(s Stage) Stage { return s.thenAt(at, &stopSignalIns{signal: sig}) }
}

type stopSignalIns struct{ signal string }

func (*stopSignalIns) keyword() string { return "STOPSIGNAL" }

// Volume marks paths as volumes, as VOLUME does. Paths are Dockerfile words.
func (s Stage) Volume(paths ...string) Stage { return Volume(paths...)(s) }

// Volume is the free-function form of [Stage.Volume].
func Volume(paths ...string) StageOption {
	at := here()
	return func(s Stage) Stage { return s.thenAt(at, &volumeIns{paths: append([]string(nil), paths...)}) }
}

type volumeIns struct{ paths []string }

func (*volumeIns) keyword() string { return "VOLUME" }

// Maintainer sets the image author, as the deprecated MAINTAINER does.
func (s Stage) Maintainer(name string) Stage { return Maintainer(name)(s) }

// Maintainer is the free-function form of [Stage.Maintainer].
func Maintainer(name string) StageOption {
	at := here()
	return func(s Stage) Stage { return s.thenAt(at, &maintainerIns{name: name}) }
}

type maintainerIns struct{ name string }

func (*maintainerIns) keyword() string { return "MAINTAINER" }

// OnBuild records a trigger instruction in the image config, as ONBUILD
// does: s.OnBuild("RUN make") runs `make` in any build that starts FROM
// this image. The trigger is Dockerfile text.
func (s Stage) OnBuild(instruction string) Stage { return OnBuild(instruction)(s) }

// OnBuild is the free-function form of [Stage.OnBuild].
func OnBuild(instruction string) StageOption {
	at := here()
	return func(s Stage) Stage { return s.thenAt(at, &onBuildIns{expr: instruction}) }
}

type onBuildIns struct{ expr string }

func (*onBuildIns) keyword() string { return "ONBUILD" }

// HealthOption is a flag of HEALTHCHECK: [Interval], [Timeout],
// [StartPeriod], [StartInterval] or [Retries].
type HealthOption interface {
	setHealth(*dockerspec.HealthcheckConfig)
}

type healthOptionFunc func(*dockerspec.HealthcheckConfig)

func (f healthOptionFunc) setHealth(h *dockerspec.HealthcheckConfig) { f(h) }

// Interval is HEALTHCHECK --interval: the time between checks.
func Interval(d time.Duration) HealthOption {
	return healthOptionFunc(func(h *dockerspec.HealthcheckConfig) { h.Interval = d })
}

// Timeout is HEALTHCHECK --timeout: how long one check may run.
func Timeout(d time.Duration) HealthOption {
	return healthOptionFunc(func(h *dockerspec.HealthcheckConfig) { h.Timeout = d })
}

// StartPeriod is HEALTHCHECK --start-period: the grace period after start.
func StartPeriod(d time.Duration) HealthOption {
	return healthOptionFunc(func(h *dockerspec.HealthcheckConfig) { h.StartPeriod = d })
}

// StartInterval is HEALTHCHECK --start-interval: the time between checks
// during the start period.
func StartInterval(d time.Duration) HealthOption {
	return healthOptionFunc(func(h *dockerspec.HealthcheckConfig) { h.StartInterval = d })
}

// Retries is HEALTHCHECK --retries: failures in a row that make the
// container unhealthy.
func Retries(n int) HealthOption {
	return healthOptionFunc(func(h *dockerspec.HealthcheckConfig) { h.Retries = n })
}

// Healthcheck sets a health check in exec form, as
// HEALTHCHECK CMD ["curl", "-f", "http://localhost/"] does.
func (s Stage) Healthcheck(args []string, opts ...HealthOption) Stage {
	return Healthcheck(args, opts...)(s)
}

// Healthcheck is the free-function form of [Stage.Healthcheck].
func Healthcheck(args []string, opts ...HealthOption) StageOption {
	at := here()
	return func(s Stage) Stage {
		return s.thenAt(at, newHealth(append([]string{"CMD"}, args...), len(args) == 0, opts))
	}
}

// HealthcheckShell sets a health check run by the image's shell, as
// HEALTHCHECK --interval=5s CMD curl -f http://localhost/ does.
func (s Stage) HealthcheckShell(command string, opts ...HealthOption) Stage {
	return HealthcheckShell(command, opts...)(s)
}

// HealthcheckShell is the free-function form of [Stage.HealthcheckShell].
func HealthcheckShell(command string, opts ...HealthOption) StageOption {
	at := here()
	return func(s Stage) Stage {
		return s.thenAt(at, newHealth([]string{"CMD-SHELL", command}, strings.TrimSpace(command) == "", opts))
	}
}

// HealthcheckNone disables a health check inherited from the base image, as
// HEALTHCHECK NONE does.
func (s Stage) HealthcheckNone() Stage { return HealthcheckNone()(s) }

// HealthcheckNone is the free-function form of [Stage.HealthcheckNone].
func HealthcheckNone() StageOption {
	at := here()
	return func(s Stage) Stage {
		return s.thenAt(at, &healthIns{hc: dockerspec.HealthcheckConfig{Test: []string{"NONE"}}})
	}
}

func newHealth(test []string, empty bool, opts []HealthOption) *healthIns {
	in := &healthIns{hc: dockerspec.HealthcheckConfig{Test: test}}
	for _, o := range opts {
		if o != nil {
			o.setHealth(&in.hc)
		}
	}
	if empty {
		in.err = fmt.Errorf("empty command: %w", ErrInvalid)
	}
	for name, d := range map[string]time.Duration{
		"interval": in.hc.Interval, "timeout": in.hc.Timeout,
		"start period": in.hc.StartPeriod, "start interval": in.hc.StartInterval,
	} {
		if d != 0 && d < time.Millisecond && in.err == nil {
			in.err = fmt.Errorf("%s %s is less than 1ms (0 means the default): %w", name, d, ErrInvalid)
		}
	}
	if in.hc.Retries < 0 && in.err == nil {
		in.err = fmt.Errorf("retries cannot be negative (%d): %w", in.hc.Retries, ErrInvalid)
	}
	return in
}

type healthIns struct {
	hc  dockerspec.HealthcheckConfig
	err error
}

func (*healthIns) keyword() string { return "HEALTHCHECK" }

func (c *compiler) dispatchLabel(d *stageState, in *labelIns) error {
	if in.err != nil {
		return in.err
	}
	msg := "LABEL"
	if d.image.Config.Labels == nil {
		d.image.Config.Labels = map[string]string{}
	}
	for _, kv := range in.pairs {
		// As with ENV, only a key written empty is a mistake; one that
		// expands to nothing is the frontend's empty key.
		if kv.key == "" {
			return fmt.Errorf("empty label key: %w", ErrInvalid)
		}
		key, err := d.expand(kv.key)
		if err != nil {
			return fmt.Errorf("key %q: %w", kv.key, err)
		}
		value, err := d.expand(kv.value)
		if err != nil {
			return fmt.Errorf("value of %s %q: %w", key, kv.value, err)
		}
		d.image.Config.Labels[key] = value
		msg += " " + key + "=" + value
	}
	d.commit(msg, false)
	return nil
}

func (c *compiler) dispatchExpose(d *stageState, in *exposeIns) error {
	if len(in.ports) == 0 {
		return fmt.Errorf("no port given: %w", ErrInvalid)
	}
	// The frontend sorts the raw words before it expands them; so does this,
	// so the history line and the port order come out the same.
	raw := slices.Clone(in.ports)
	slices.Sort(raw)
	var words []string
	env := envOf(d.state)
	for _, p := range raw {
		ws, err := d.lex.ProcessWords(p, env)
		if err != nil {
			return fmt.Errorf("port %q: %w", p, err)
		}
		words = append(words, ws...)
	}
	var ports []string
	for _, w := range words {
		ps, err := parsePort(w)
		if err != nil {
			return fmt.Errorf("invalid port %q: %v: %w", w, err, ErrInvalid)
		}
		ports = append(ports, ps...)
	}
	if d.image.Config.ExposedPorts == nil {
		d.image.Config.ExposedPorts = map[string]struct{}{}
	}
	for _, p := range ports {
		d.image.Config.ExposedPorts[p] = struct{}{}
	}
	d.commit(fmt.Sprintf("EXPOSE %v", ports), false)
	return nil
}

// parsePort turns "[ip:][hostPort:]port[-end][/proto]" into "port/proto"
// entries, one per port of a range, with the same rules as the frontend.
func parsePort(raw string) ([]string, error) {
	parts := strings.Split(raw, ":")
	var ip, hostPort, containerPort string
	switch n := len(parts); n {
	case 1:
		containerPort = parts[0]
	case 2:
		hostPort, containerPort = parts[0], parts[1]
	default:
		ip, hostPort, containerPort = strings.Join(parts[:n-2], ":"), parts[n-2], parts[n-1]
	}
	port, proto, _ := strings.Cut(containerPort, "/")
	if port == "" {
		return nil, fmt.Errorf("no port specified")
	}
	switch strings.ToLower(proto) {
	case "":
		proto = "tcp"
	case "tcp", "udp", "sctp":
	default:
		return nil, fmt.Errorf("invalid proto: %s", proto)
	}
	if ip != "" && ip[0] == '[' {
		h, _, err := net.SplitHostPort(ip + ":")
		if err != nil {
			return nil, fmt.Errorf("invalid IP address %v", ip)
		}
		ip = h
	}
	if ip != "" && net.ParseIP(ip) == nil {
		return nil, fmt.Errorf("invalid IP address: %s", ip)
	}
	start, end, err := portRange(port)
	if err != nil {
		return nil, fmt.Errorf("invalid containerPort: %s", port)
	}
	if hostPort != "" {
		hs, he, err := portRange(hostPort)
		if err != nil {
			return nil, fmt.Errorf("invalid hostPort: %s", hostPort)
		}
		if end-start != he-hs && end != start {
			return nil, fmt.Errorf("invalid ranges specified for container and host Ports: %s and %s", port, hostPort)
		}
	}
	out := make([]string, 0, end-start+1)
	for p := start; p <= end; p++ {
		out = append(out, strconv.Itoa(p)+"/"+strings.ToLower(proto))
	}
	return out, nil
}

func portRange(s string) (int, int, error) {
	a, b, isRange := strings.Cut(s, "-")
	start, err := portNumber(a)
	if err != nil {
		return 0, 0, err
	}
	if !isRange || a == b {
		return start, start, nil
	}
	end, err := portNumber(b)
	if err != nil {
		return 0, 0, err
	}
	if end < start {
		return 0, 0, fmt.Errorf("invalid port range: %s", s)
	}
	return start, end, nil
}

func portNumber(s string) (int, error) {
	n, err := strconv.ParseInt(s, 10, 0)
	if err != nil {
		return 0, err
	}
	if n < 0 || n > 65535 {
		return 0, fmt.Errorf("value out of range (0-65535)")
	}
	return int(n), nil
}

func (c *compiler) dispatchUser(d *stageState, in *userIns) error {
	u, err := d.expand(in.user)
	if err != nil {
		return fmt.Errorf("user %q: %w", in.user, err)
	}
	// A user that expands to nothing is the frontend's USER of an ARG
	// without a value; only a user written as nothing is a mistake.
	if in.user == "" {
		return fmt.Errorf("empty user: %w", ErrInvalid)
	}
	d.state = d.state.User(u)
	d.image.Config.User = u
	d.commit("USER "+u, false)
	return nil
}

func (c *compiler) dispatchEntrypoint(d *stageState, in *entrypointIns) error {
	// An empty shell-form entrypoint is allowed, as ENTRYPOINT with no
	// arguments is: it clears the base image's.
	args := in.args
	if in.shell {
		args = withShell(d.image, args)
	}
	d.image.Config.Entrypoint = args
	if !d.cmdSet {
		d.image.Config.Cmd = nil
	}
	d.commit("ENTRYPOINT "+quoteList(args), false)
	return nil
}

func (c *compiler) dispatchShell(d *stageState, in *shellIns) error {
	if len(in.args) == 0 {
		return fmt.Errorf("empty shell: %w", ErrInvalid)
	}
	d.image.Config.Shell = in.args
	d.commit(fmt.Sprintf("SHELL %v", in.args), false)
	return nil
}

func (c *compiler) dispatchStopSignal(d *stageState, in *stopSignalIns) error {
	sig, err := d.expand(in.signal)
	if err != nil {
		return fmt.Errorf("signal %q: %w", in.signal, err)
	}
	if _, err := signal.ParseSignal(sig); err != nil {
		return fmt.Errorf("signal %q: %v: %w", sig, err, ErrInvalid)
	}
	d.image.Config.StopSignal = sig
	d.commit("STOPSIGNAL "+sig, false)
	return nil
}

func (c *compiler) dispatchVolume(d *stageState, in *volumeIns) error {
	if len(in.paths) == 0 {
		return fmt.Errorf("no path given: %w", ErrInvalid)
	}
	paths := make([]string, len(in.paths))
	for i, p := range in.paths {
		v, err := d.expand(p)
		if err != nil {
			return fmt.Errorf("path %q: %w", p, err)
		}
		if v == "" {
			return fmt.Errorf("empty path: %w", ErrInvalid)
		}
		paths[i] = v
	}
	if d.image.Config.Volumes == nil {
		d.image.Config.Volumes = map[string]struct{}{}
	}
	for _, p := range paths {
		d.image.Config.Volumes[p] = struct{}{}
	}
	d.commit(fmt.Sprintf("VOLUME %v", paths), false)
	return nil
}

func (c *compiler) dispatchMaintainer(d *stageState, in *maintainerIns) error {
	d.image.Author = in.name
	d.commit("MAINTAINER "+in.name, false)
	return nil
}

func (c *compiler) dispatchOnBuild(d *stageState, in *onBuildIns) error {
	if strings.TrimSpace(in.expr) == "" {
		return fmt.Errorf("empty trigger: %w", ErrInvalid)
	}
	d.image.Config.OnBuild = append(d.image.Config.OnBuild, in.expr)
	return nil
}

func (c *compiler) dispatchHealth(d *stageState, in *healthIns) error {
	if in.err != nil {
		return in.err
	}
	hc := in.hc
	hc.Test = append([]string(nil), in.hc.Test...)
	d.image.Config.Healthcheck = &hc
	d.commit(fmt.Sprintf("HEALTHCHECK %+v", hc), false)
	return nil
}

// Cmd sets the image's default command in exec form, as
// CMD ["redis-server"] does: s.Cmd("redis-server").
func (s Stage) Cmd(args ...string) Stage { return Cmd(args...)(s) }

// Cmd is the free-function form of [Stage.Cmd].
func Cmd(args ...string) StageOption {
	at := here()
	return func(s Stage) Stage {
		return s.thenAt(at, &cmdIns{args: append([]string(nil), args...)})
	}
}

// CmdShell sets the default command in shell form, as CMD redis-server
// --port 6380 does: the command is run by the image's shell.
func (s Stage) CmdShell(command string) Stage { return CmdShell(command)(s) }

// CmdShell is the free-function form of [Stage.CmdShell].
func CmdShell(command string) StageOption {
	at := here()
	return func(s Stage) Stage {
		return s.thenAt(at, &cmdIns{args: []string{command}, shell: true})
	}
}

type cmdIns struct {
	args  []string
	shell bool
}

func (*cmdIns) keyword() string { return "CMD" }

func (c *compiler) dispatchCmd(d *stageState, in *cmdIns) error {
	args := in.args
	if in.shell {
		args = withShell(d.image, args)
	}
	d.image.Config.Cmd = args
	d.image.Config.ArgsEscaped = true //nolint:staticcheck // the frontend sets it for Docker's image spec
	d.cmdSet = true
	d.commit("CMD "+quoteList(args), false)
	return nil
}
