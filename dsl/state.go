package dsl

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/slipway-build/slipway/internal/frontend"
)

// stageState is what dispatching a stage builds up, the counterpart of the
// frontend's dispatchState.
type stageState struct {
	state    llb.State
	image    dockerspec.DockerOCIImage
	platform ocispecs.Platform
	name     string
	cmdIndex int
	cmdTotal int
	cmdSet   bool
	lex      *shell.Lex
	epoch    *time.Time
	// globalArgs are the predefined and global args the stage sees.
	globalArgs *llb.EnvList
	// contextName is set for a named build context (dsl.Context).
	contextName string
	// escape is the escape character of the stage's words, if not '\\'.
	escape rune
	// inTrigger is set while ONBUILD triggers of the base are dispatched.
	inTrigger bool
	// dispatching is set while the stage's instructions are dispatched.
	dispatching bool
	// buildArgs are the ARGs declared so far, in order.
	buildArgs []buildArg
	// at places the ops of the instruction being dispatched at its
	// builder call, in the definition's source map.
	at llb.ConstraintsOpt
}

func (d *stageState) expand(word string) (string, error) {
	if plainWord(word) {
		return word, nil
	}
	out, _, err := d.lex.ProcessWord(word, envOf(d.state))
	return out, err
}

// expandWith expands a word against env, skipping the lexer for a plain
// word.
func expandWith(lex *shell.Lex, word string, env shell.EnvGetter) (string, error) {
	if plainWord(word) {
		return word, nil
	}
	out, _, err := lex.ProcessWord(word, env)
	return out, err
}

// backslashLexers recycles the lexers of the default escape character from
// one compile to the next.
var backslashLexers = sync.Pool{New: func() any { return shell.NewLex('\\') }}

// lexer is the shell lexer for an escape character, one per compile: a
// lexer is large (2 KB), and is reset by every word it processes.
func (c *compiler) lexer(escape rune) *shell.Lex {
	if escape == '\\' {
		if c.backslash == nil {
			c.backslash = backslashLexers.Get().(*shell.Lex)
		}
		return c.backslash
	}
	if c.lexers == nil {
		c.lexers = map[rune]*shell.Lex{}
	}
	lex, ok := c.lexers[escape]
	if !ok {
		lex = shell.NewLex(escape)
		c.lexers[escape] = lex
	}
	return lex
}

// plainWord reports a word the shell lexer would return unchanged: no
// variable, quote or escape character (either one) in it. Most words are,
// and skipping the lexer for them is most of what makes compiling fast.
func plainWord(w string) bool {
	return !strings.ContainsAny(w, "$'\"\\`")
}

// prefix names a step as the frontend does in the progress display:
// "[stage-0 2/3] RUN …".
func (d *stageState) prefix(s string) string {
	if d.cmdTotal == 0 {
		return s
	}
	d.cmdIndex++
	width := int(1 + math.Log10(float64(d.cmdTotal)))
	if d.inTrigger {
		s = "ONBUILD " + s
	}
	// fmt's "[%s %*d/%d] %s", without fmt.
	index := strconv.Itoa(d.cmdIndex)
	pad := ""
	if n := width - len(index); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	return "[" + d.name + " " + pad + index + "/" + strconv.Itoa(d.cmdTotal) + "] " + s
}

func (d *stageState) commit(msg string, withLayer bool) {
	d.image.History = append(d.image.History, ocispecs.History{
		CreatedBy:  msg,
		Comment:    frontend.HistoryComment,
		EmptyLayer: !withLayer,
		Created:    d.epoch,
	})
}

// envOf reads the environment a state carries; it never fails for states
// this package builds.
func envOf(st llb.State) shell.EnvGetter {
	env, err := st.Env(context.Background())
	if err != nil || env == nil {
		return &llb.EnvList{}
	}
	return env
}

// describe is the description of a step: its Dockerfile command and, as
// llb.WithCustomName sets it, its name in the progress display.
func describe(cmd, name string) llb.ConstraintsOpt {
	return llb.WithDescription(map[string]string{
		"com.docker.dockerfile.v1.command": cmd,
		"llb.customname":                   name,
	})
}

// quoteList is fmt's %q of a list of strings: ["a" "b"].
func quoteList(args []string) string {
	b := []byte{'['}
	for i, a := range args {
		if i > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendQuote(b, a)
	}
	return string(append(b, ']'))
}

func jsonArray(args []string) string {
	dt, _ := json.Marshal(args) // []string always encodes
	return string(dt)
}

// source is the source map constraint of the ops of the instruction being
// dispatched.
func (d *stageState) source() llb.ConstraintsOpt {
	if d.at == nil {
		return noSource
	}
	return d.at
}
