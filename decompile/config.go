package decompile

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/util/system"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

// configEntry writes the instruction of one history entry.
func (d *decompiler) configEntry(st *frontState, createdBy string) error {
	keyword, rest, _ := strings.Cut(createdBy, " ")
	var err error
	switch keyword {
	case "ENV", "LABEL", "ARG":
		err = d.configPairs(st, keyword, rest)
	case "CMD", "ENTRYPOINT":
		err = d.configCommand(st, keyword, rest)
	case "USER":
		if rest != "" && !plainWord(word(rest)) {
			err = fmt.Errorf("user %q", rest)
			break
		}
		d.out.add("USER %s", userWord(rest))
		st.user = rest
		st.img.Config.User = rest
	case "WORKDIR":
		if rest != "/" {
			err = fmt.Errorf("a WORKDIR without a layer is /")
			break
		}
		d.out.add("WORKDIR /")
		st.dir, st.img.Config.WorkingDir = "/", "/"
	case "EXPOSE":
		err = d.configExpose(st, rest)
	case "VOLUME":
		err = d.configVolume(st, rest)
	case "STOPSIGNAL":
		if !plainWord(word(rest)) {
			err = fmt.Errorf("signal %q", rest)
			break
		}
		d.out.add("STOPSIGNAL %s", word(rest))
		st.img.Config.StopSignal = rest
	case "SHELL":
		sh := strings.Fields(strings.TrimSuffix(strings.TrimPrefix(rest, "["), "]"))
		if d.img != nil && strings.Join(d.img.Config.Shell, " ") == strings.Join(sh, " ") {
			sh = d.img.Config.Shell
		}
		if len(sh) == 0 {
			err = fmt.Errorf("no shell")
			break
		}
		d.out.add("SHELL %s", jsonList(sh))
		st.img.Config.Shell = sh
	case "MAINTAINER":
		if !plainLine(rest) {
			err = fmt.Errorf("maintainer %q", rest)
			break
		}
		d.out.add("MAINTAINER %s", rest)
		st.img.Author = rest
	case "HEALTHCHECK":
		err = d.configHealthcheck(st, rest)
	default:
		err = fmt.Errorf("unknown instruction")
	}
	if err != nil {
		return d.unsupported("", "image history %q: %v", createdBy, err)
	}
	return nil
}

// configPairs writes the ENV, LABEL or ARG of a history entry, whose
// pairs the frontend joined with spaces.
func (d *decompiler) configPairs(st *frontState, keyword, rest string) error {
	pairs := splitPairs(rest, keyword == "ARG", d.knownPairs())
	if keyword == "LABEL" && d.img != nil {
		pairs = splitLabels(rest, d.img.Config.Labels)
	}
	var out []string
	for _, p := range pairs {
		k, v, hasValue := strings.Cut(p, "=")
		name, ok := k, validKey(k)
		if keyword != "ARG" && hasValue {
			name, ok = pairName(k)
		}
		if !ok {
			return fmt.Errorf("name %q", k)
		}
		if !hasValue {
			out = append(out, name)
			continue
		}
		q, err := value(v)
		if err != nil {
			return err
		}
		out = append(out, name+"="+q)
		switch keyword {
		case "ENV":
			st.setEnv(k, v)
			st.img.Config.Env = addConfigEnv(st.img.Config.Env, k, v)
		case "ARG":
			if k != "BUILDKIT_SBOM_SCAN_CONTEXT" && k != "BUILDKIT_SBOM_SCAN_STAGE" {
				st.setEnv(k, v)
			}
		case "LABEL":
			if st.img.Config.Labels == nil {
				st.img.Config.Labels = map[string]string{}
			}
			key, _, _ := strings.Cut(p, "=")
			st.img.Config.Labels[key] = v
		}
	}
	if len(out) == 0 {
		return fmt.Errorf("nothing to set")
	}
	d.out.add("%s %s", keyword, strings.Join(out, " "))
	return nil
}

// configCommand writes the CMD or ENTRYPOINT of a history entry.
func (d *decompiler) configCommand(st *frontState, keyword, rest string) error {
	list, err := parseQuotedList(rest)
	if err != nil {
		return err
	}
	if keyword == "ENTRYPOINT" && d.entrypointClearedCmd(st) {
		d.splitBeforeEntrypoint(st)
	}
	d.out.add("%s %s", keyword, jsonList(list))
	if keyword == "CMD" {
		st.img.Config.Cmd = list
		st.setCmd()
	} else {
		st.img.Config.Entrypoint = list
		if !st.cmdSet {
			st.img.Config.Cmd = nil
		}
	}
	return nil
}

// splitBeforeEntrypoint ends the stage before an ENTRYPOINT that clears
// a CMD of the stage: ENTRYPOINT clears a CMD inherited from the stage it
// is FROM, but not one of its own stage (the frontend's
// dispatchEntrypoint), so the CMD was set in another stage, which ended
// since. Of the places where a FROM changes no step, the last; else here,
// where FROM moves the config env's keys to the end.
func (d *decompiler) splitBeforeEntrypoint(st *frontState) {
	if n := len(st.clean); n > 0 {
		d.split(st, st.clean[n-1], st.env, st.img.Config.Env)
		return
	}
	d.split(st, len(d.out.l), reAdded(st.env, st.img.Config.Env), st.img.Config.Env)
}

// entrypointClearedCmd reports an ENTRYPOINT entry of the history that
// must have cleared the CMD set before it in the stage written so far: the
// image has no CMD, and no CMD entry follows to set one.
func (d *decompiler) entrypointClearedCmd(st *frontState) bool {
	if !st.cmdSet || len(st.img.Config.Cmd) == 0 || d.img == nil || len(d.img.Config.Cmd) > 0 || d.hist == nil {
		return false
	}
	if len(st.img.Config.OnBuild) > 0 {
		return false // FROM the stage would run its triggers
	}
	for _, h := range d.hist.entries[d.hist.pos+1:] {
		if keyword, _, _ := strings.Cut(h.CreatedBy, " "); keyword == "CMD" {
			return false
		}
	}
	return true
}

// configExpose writes the EXPOSE of a history entry.
func (d *decompiler) configExpose(st *frontState, rest string) error {
	ports := strings.Fields(strings.TrimSuffix(strings.TrimPrefix(rest, "["), "]"))
	if len(ports) == 0 {
		// EXPOSE of a variable without a value exposes nothing; so
		// does the empty word.
		d.out.add(`EXPOSE ""`)
		return nil
	}
	for _, p := range ports {
		if !plainWord(word(p)) {
			return fmt.Errorf("port %q", p)
		}
		if st.img.Config.ExposedPorts == nil {
			st.img.Config.ExposedPorts = map[string]struct{}{}
		}
		st.img.Config.ExposedPorts[p] = struct{}{}
	}
	// The frontend sorts the words as written; words that sort in the
	// history's order, with empty quotes in front, keep it.
	words := portRanges(ports)
	if !slices.IsSorted(words) {
		for i := range words {
			words[i] = strings.Repeat(`""`, len(words)-i) + words[i]
		}
	}
	d.out.add("EXPOSE %s", strings.Join(words, " "))
	return nil
}

// configVolume writes the VOLUME of a history entry.
func (d *decompiler) configVolume(st *frontState, rest string) error {
	vols := strings.Fields(strings.TrimSuffix(strings.TrimPrefix(rest, "["), "]"))
	if len(vols) == 0 {
		return fmt.Errorf("no volumes")
	}
	quoted := make([]string, len(vols))
	for i, v := range vols {
		quoted[i] = word(v)
		if st.img.Config.Volumes == nil {
			st.img.Config.Volumes = map[string]struct{}{}
		}
		st.img.Config.Volumes[v] = struct{}{}
	}
	d.out.add("VOLUME %s", jsonList(quoted))
	return nil
}

// configHealthcheck writes the HEALTHCHECK of a history entry.
func (d *decompiler) configHealthcheck(st *frontState, rest string) error {
	hc, err := parseHealthcheck(rest)
	if err != nil {
		return err
	}
	// The history joins the test's words with spaces; the config
	// has them apart, for the last HEALTHCHECK.
	if d.img != nil && d.img.Config.Healthcheck != nil && fmt.Sprintf("%+v", *d.img.Config.Healthcheck) == rest {
		hc = d.img.Config.Healthcheck
	}
	line, err := healthcheck(hc)
	if err != nil {
		return err
	}
	d.out.add("%s", line)
	c := *hc
	st.img.Config.Healthcheck = &c
	return nil
}

// healthcheck writes a HEALTHCHECK instruction.
func healthcheck(hc *dockerspec.HealthcheckConfig) (string, error) {
	if len(hc.Test) == 0 {
		return "", fmt.Errorf("a healthcheck without a test")
	}
	if hc.Test[0] == "NONE" {
		return "HEALTHCHECK NONE", nil
	}
	var flags []string
	dur := func(name string, d time.Duration) {
		if d != 0 {
			flags = append(flags, "--"+name+"="+d.String())
		}
	}
	dur("interval", hc.Interval)
	dur("timeout", hc.Timeout)
	dur("start-period", hc.StartPeriod)
	dur("start-interval", hc.StartInterval)
	if hc.Retries != 0 {
		flags = append(flags, "--retries="+strconv.Itoa(hc.Retries))
	}
	line := "HEALTHCHECK "
	if len(flags) > 0 {
		line += strings.Join(flags, " ") + " "
	}
	switch hc.Test[0] {
	case "CMD":
		for _, a := range hc.Test[1:] {
			if err := checkText("argument", a); err != nil {
				return "", err
			}
		}
		return line + "CMD " + jsonList(hc.Test[1:]), nil
	case "CMD-SHELL":
		if len(hc.Test) != 2 || !plainLine(hc.Test[1]) {
			return "", fmt.Errorf("shell healthcheck %q is not one plain line", hc.Test[1:])
		}
		return line + "CMD " + hc.Test[1], nil
	}
	return "", fmt.Errorf("healthcheck test %q", hc.Test[0])
}

// writeConfig writes, at the end of the final stage, the rest of the
// history and then whatever the config still differs in.
func (d *decompiler) writeConfig(st *frontState) error {
	if d.hist != nil {
		if err := d.hist.configUntilLayer(d, st); err != nil {
			return err
		}
	}
	if d.img == nil {
		return nil
	}
	if err := d.configSets(d.img.Config, &st.img.Config); err != nil {
		return d.refused(err)
	}
	return d.configValues(st)
}

// configSets writes the env, labels, ports and volumes want has and have
// lacks.
func (d *decompiler) configSets(want dockerspec.DockerOCIImageConfig, have *dockerspec.DockerOCIImageConfig) error {
	var env []string
	for _, kv := range want.Env {
		k, v, _ := strings.Cut(kv, "=")
		if cur, ok := envGet(have.Env, k); ok && cur == v {
			continue
		}
		q, err := value(v)
		name, ok := pairName(k)
		if err != nil || !ok {
			return opError("", "image env %s cannot be written as ENV", k)
		}
		env = append(env, name+"="+q)
		have.Env = addConfigEnv(have.Env, k, v)
	}
	if len(env) > 0 {
		d.out.add("ENV %s", strings.Join(env, " "))
	}
	var labels []string
	for _, k := range sortedKeys(want.Labels) {
		if cur, ok := have.Labels[k]; ok && cur == want.Labels[k] {
			continue
		}
		q, err := value(want.Labels[k])
		qk, ok := pairName(k)
		if err != nil || !ok {
			return opError("", "label %s cannot be written as LABEL", k)
		}
		labels = append(labels, qk+"="+q)
	}
	if len(labels) > 0 {
		d.out.add("LABEL %s", strings.Join(labels, " "))
	}
	var ports []string
	for _, p := range sortedKeys(want.ExposedPorts) {
		if _, ok := have.ExposedPorts[p]; !ok {
			ports = append(ports, p)
		}
	}
	if len(ports) > 0 {
		d.out.add("EXPOSE %s", strings.Join(portRanges(ports), " "))
	}
	var vols []string
	for _, v := range sortedKeys(want.Volumes) {
		if _, ok := have.Volumes[v]; !ok {
			vols = append(vols, word(v))
		}
	}
	if len(vols) > 0 {
		d.out.add("VOLUME %s", jsonList(vols))
	}
	return nil
}

// configValues writes the user, working dir, shell, entrypoint, command,
// healthcheck, stop signal and triggers in which the config differs from
// st's.
func (d *decompiler) configValues(st *frontState) error {
	want, have := d.img.Config, &st.img.Config
	if want.User != have.User && want.User != "" {
		d.out.add("USER %s", word(want.User))
	}
	if want.WorkingDir != have.WorkingDir {
		wd, _ := system.NormalizeWorkdir("", want.WorkingDir, d.target.OS)
		if wd != "/" {
			return d.unsupported("", "the config's working dir %s was never made by a WORKDIR", want.WorkingDir)
		}
		d.out.add("WORKDIR /")
	}
	if !slices.Equal(want.Shell, have.Shell) && len(want.Shell) > 0 {
		d.out.add("SHELL %s", jsonList(want.Shell))
	}
	if !slices.Equal(want.Entrypoint, have.Entrypoint) {
		if st.cmdSet && len(have.Cmd) > 0 && len(want.Cmd) == 0 && len(have.OnBuild) == 0 {
			d.splitBeforeEntrypoint(st)
		}
		d.out.add("ENTRYPOINT %s", jsonList(want.Entrypoint))
		if !st.cmdSet {
			have.Cmd = nil
		}
	}
	if !slices.Equal(want.Cmd, have.Cmd) && want.Cmd != nil {
		d.out.add("CMD %s", jsonList(want.Cmd))
	}
	if want.Healthcheck != nil && (have.Healthcheck == nil || fmt.Sprint(*have.Healthcheck) != fmt.Sprint(*want.Healthcheck)) {
		line, err := healthcheck(want.Healthcheck)
		if err != nil {
			return d.unsupported("", "healthcheck: %v", err)
		}
		d.out.add("%s", line)
	}
	if want.StopSignal != have.StopSignal && want.StopSignal != "" {
		d.out.add("STOPSIGNAL %s", word(want.StopSignal))
	}
	for _, ob := range want.OnBuild {
		line, ok := onbuildLine(ob)
		if !ok {
			return d.unsupported("", "ONBUILD %q cannot be written so that the parser reads it back", ob)
		}
		d.out.add("%s", line)
	}
	return nil
}

// portRanges writes each run of three or more consecutive ports of a
// protocol, one after the other in ports, as a range: EXPOSE 10000-20000
// gives the config and the history every port of the range, in order, and
// one word a port would make a line longer than the frontend's parser
// reads.
func portRanges(ports []string) []string {
	num := func(p string) (int, string, bool) {
		n, proto, _ := strings.Cut(p, "/")
		v, err := strconv.Atoi(n)
		return v, proto, err == nil && strconv.Itoa(v) == n
	}
	var out []string
	for i := 0; i < len(ports); {
		first, proto, ok := num(ports[i])
		j := i
		for ok && j+1 < len(ports) {
			n, pr, ok2 := num(ports[j+1])
			if !ok2 || pr != proto || n != first+(j+1-i) {
				break
			}
			j++
		}
		if j-i < 2 {
			out = append(out, ports[i])
			i++
			continue
		}
		r := fmt.Sprintf("%d-%d", first, first+(j-i))
		if proto != "" {
			r += "/" + proto
		}
		out = append(out, r)
		i = j + 1
	}
	return out
}

// onbuildLine is the ONBUILD instruction of a trigger, with the lines of
// its heredocs: the frontend keeps a trigger as its first line, then each
// heredoc's body and terminator (instructions' parseOnBuild), so that text
// after ONBUILD reads back as the same trigger. It is checked by reading it
// back.
func onbuildLine(expr string) (string, bool) {
	line := "ONBUILD " + expr
	if plainLine(expr) {
		return line, true
	}
	if strings.ContainsAny(expr, "\r\x00") || !strings.Contains(expr, "<<") {
		return "", false
	}
	res, err := parser.Parse(strings.NewReader(line + "\n"))
	if err != nil || len(res.AST.Children) != 1 {
		return "", false
	}
	cmd, err := instructions.ParseInstruction(res.AST.Children[0])
	if err != nil {
		return "", false
	}
	if ob, ok := cmd.(*instructions.OnbuildCommand); !ok || ob.Expression != expr {
		return "", false
	}
	return line, true
}
