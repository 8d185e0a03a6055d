package decompile

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// history walks the image config's history along the stages the final
// stage builds on: each entry with a layer is one step (RUN, COPY, ADD,
// WORKDIR), and the entries between say which config instructions came
// between the steps, and in what order.
type history struct {
	entries []ocispecs.History
	pos     int
}

// newHistory returns the history of the Dockerfile's own instructions, or
// nil when the image config has none or it does not match the steps.
func (d *decompiler) newHistory() *history {
	if d.img == nil || len(d.img.History) == 0 {
		return nil
	}
	chain := d.chainStages()
	base := 0
	if root := chain[0]; !root.root.scratch() && root.from == nil {
		if named, ok := imageRef(d.g.ops[root.root.op].GetSource().Identifier); ok {
			img, err := d.resolveBase(named.String(), *root.platform)
			if err != nil {
				return nil
			}
			base = len(img.History)
		}
	}
	if base > len(d.img.History) {
		return nil
	}
	entries := d.img.History[base:]
	layers, steps := 0, 0
	for _, h := range entries {
		if !h.EmptyLayer {
			layers++
		}
	}
	for _, s := range chain {
		steps += len(s.steps)
	}
	if layers != steps {
		return nil
	}
	return &history{entries: entries}
}

// configUntilLayer writes the config instructions up to the next entry
// with a layer.
func (h *history) configUntilLayer(d *decompiler, st *frontState) error {
	for h.pos < len(h.entries) && h.entries[h.pos].EmptyLayer {
		if err := d.configEntry(st, h.entries[h.pos].CreatedBy); err != nil {
			return err
		}
		h.pos++
		// A stage may end between two entries: a child stage's ARG set
		// again moves behind the env its FROM gave (see splitStage).
		st.markStep(len(d.out.l))
	}
	return nil
}

// peekLayer is the entry of the step about to be written.
func (h *history) peekLayer(inChain bool) (string, bool) {
	if h == nil || !inChain || h.pos >= len(h.entries) || h.entries[h.pos].EmptyLayer {
		return "", false
	}
	return h.entries[h.pos].CreatedBy, true
}

// layer passes the entry of a step.
func (h *history) layer() {
	if h.pos < len(h.entries) {
		h.pos++
	}
}

// splitPairs splits "k=v k2=v2" as the frontend joined it, where values
// may hold spaces. A pair the definition's env has (known) is taken whole,
// the longest first; otherwise a word without "=" continues the value
// before it, except for ARG, whose names may come without a value.
func splitPairs(s string, bareNames bool, known map[string]bool) []string {
	words := strings.Split(s, " ")
	// A known pair may hold spaces in its value, and in its name too
	// (ENV $N=1 of N="a b"), so a join is tried from any word that begins
	// a known pair of several words, as long as the longest of them.
	starts := map[string]int{}
	for kv := range known {
		if n := strings.Count(kv, " ") + 1; n > 1 {
			first, _, _ := strings.Cut(kv, " ")
			starts[first] = max(starts[first], n)
		}
	}
	var out []string
	for i := 0; i < len(words); i++ {
		if j := knownPairEnd(words, i, starts[words[i]], known); j > 0 {
			out = append(out, strings.Join(words[i:j], " "))
			i = j - 1
			continue
		}
		w := words[i]
		k, _, hasValue := strings.Cut(w, "=")
		if len(out) > 0 && (!hasValue && !bareNames || !validKey(k)) {
			out[len(out)-1] += " " + w
			continue
		}
		out = append(out, w)
	}
	return out
}

// knownPairEnd is the end of the longest known pair of two to n words
// from words[i], or 0.
func knownPairEnd(words []string, i, n int, known map[string]bool) int {
	for j := min(len(words), i+n); j > i+1; j-- {
		if known[strings.Join(words[i:j], " ")] {
			return j
		}
	}
	return 0
}

// knownPairs are the k=v pairs of every RUN's env and of the image config,
// which tell where a value with spaces ends in the history.
func (d *decompiler) knownPairs() map[string]bool {
	if d.known != nil {
		return d.known
	}
	d.known = map[string]bool{}
	for _, op := range d.g.ops {
		if e := op.GetExec(); e != nil && e.Meta != nil {
			for _, kv := range e.Meta.Env {
				d.known[kv] = true
			}
		}
	}
	if d.img != nil {
		for _, kv := range d.img.Config.Env {
			d.known[kv] = true
		}
	}
	return d.known
}

// splitLabels splits "k=v k2=v2" of a LABEL history entry using the
// labels the config has, whose keys and values may hold spaces.
func splitLabels(s string, labels map[string]string) []string {
	var out []string
	for s != "" {
		best := ""
		for k, v := range labels {
			if strings.HasPrefix(s, k+"="+v) && (len(s) == len(k+"="+v) || s[len(k+"="+v)] == ' ') && len(k+"="+v) > len(best) {
				best = k + "=" + v
			}
		}
		if best == "" {
			// An earlier LABEL of a key set again later: its value runs to
			// the next known key, or failing that, the next word with '='.
			if pair, ok := labelBefore(s, labels); ok {
				out = append(out, pair)
				s = strings.TrimPrefix(s[len(pair):], " ")
				continue
			}
			return append(out, splitPairs(s, false, nil)...)
		}
		out = append(out, best)
		s = strings.TrimPrefix(s[len(best):], " ")
	}
	return out
}

// labelBefore is the pair at the start of s whose key is a known label's
// and whose value, not known, runs to the next known key, or to the end.
func labelBefore(s string, labels map[string]string) (string, bool) {
	key := ""
	for k := range labels {
		if strings.HasPrefix(s, k+"=") && len(k) > len(key) {
			key = k
		}
	}
	if key == "" {
		return "", false
	}
	end := len(s)
	for k := range labels {
		if i := strings.Index(s[len(key)+1:], " "+k+"="); i >= 0 && len(key)+1+i < end {
			end = len(key) + 1 + i
		}
	}
	return s[:end], true
}

// parseQuotedList reads a list the frontend printed with %q:
// ["a" "b c"].
func parseQuotedList(s string) ([]string, error) {
	s, ok := strings.CutPrefix(s, "[")
	if !ok {
		return nil, fmt.Errorf("not a list")
	}
	s, ok = strings.CutSuffix(s, "]")
	if !ok {
		return nil, fmt.Errorf("not a list")
	}
	out := []string{}
	for s != "" {
		q, err := strconv.QuotedPrefix(s)
		if err != nil {
			return nil, err
		}
		v, err := strconv.Unquote(q)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		s = strings.TrimPrefix(s[len(q):], " ")
	}
	return out, nil
}

// parseHealthcheck reads a healthcheck as the frontend prints it with %+v:
// {Test:[CMD-SHELL curl -f x] Interval:0s Timeout:0s StartPeriod:0s
// StartInterval:0s Retries:0}.
func parseHealthcheck(s string) (*dockerspec.HealthcheckConfig, error) {
	s, ok := strings.CutPrefix(s, "{Test:[")
	if !ok {
		return nil, fmt.Errorf("not a healthcheck")
	}
	test, rest, ok := strings.Cut(s, "] Interval:")
	if !ok {
		return nil, fmt.Errorf("not a healthcheck")
	}
	hc := &dockerspec.HealthcheckConfig{}
	words := strings.Split(test, " ")
	switch words[0] {
	case "CMD-SHELL":
		hc.Test = []string{"CMD-SHELL", strings.TrimPrefix(test, "CMD-SHELL ")}
	default:
		hc.Test = words
	}
	rest = "Interval:" + strings.TrimSuffix(rest, "}")
	for _, f := range strings.Split(rest, " ") {
		k, v, _ := strings.Cut(f, ":")
		var err error
		switch k {
		case "Interval":
			hc.Interval, err = time.ParseDuration(v)
		case "Timeout":
			hc.Timeout, err = time.ParseDuration(v)
		case "StartPeriod":
			hc.StartPeriod, err = time.ParseDuration(v)
		case "StartInterval":
			hc.StartInterval, err = time.ParseDuration(v)
		case "Retries":
			hc.Retries, err = strconv.Atoi(v)
		default:
			err = fmt.Errorf("field %q", k)
		}
		if err != nil {
			return nil, fmt.Errorf("healthcheck: %w", err)
		}
	}
	return hc, nil
}
