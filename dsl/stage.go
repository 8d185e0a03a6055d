package dsl

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Stage is one stage of a build: a base image and the instructions applied to
// it, in order. The zero Stage is not valid; start one with [From].
//
// Stage is an immutable value. Every method returns a new Stage that shares
// the history of its receiver, so branching is cheap:
//
//	base := dsl.From("debian:bookworm-slim").Env("LANG", "C.UTF-8")
//	a := base.Run("make a")
//	b := base.Run("make b") // base is unchanged by the line above
type Stage struct {
	n *node
}

// node is one instruction of a stage, linked to the instruction before it.
// Nodes are never mutated once made.
type node struct {
	parent *node
	ins    instruction
	depth  int  // number of nodes from the root, this one included
	at     site // where the builder call was made
}

// StageOption is a build step that can be stored and applied later with
// [Stage.With]. Every chain method has a free-function twin returning one,
// but two: [Stage.As], since a name belongs to one stage (a stored As
// applied to two stages would give both the same name), and [Stage.With]
// itself, which applies StageOptions.
type StageOption func(Stage) Stage

// instruction is one recorded builder call.
type instruction interface {
	// keyword is the Dockerfile instruction this call stands for.
	keyword() string
}

// then adds an instruction made by the builder call that called then's
// caller.
func (s Stage) then(ins instruction) Stage { return s.thenAt(here(), ins) }

// thenAt adds an instruction made at a site: a free function records its
// site when it is called, not when its StageOption is applied.
func (s Stage) thenAt(at site, ins instruction) Stage {
	n := &node{parent: s.n, ins: ins, depth: 1, at: at}
	if s.n != nil {
		n.depth = s.n.depth + 1
	}
	return Stage{n: n}
}

// instructions returns the stage's instructions from its base to its tip.
func (s Stage) instructions() []instruction {
	if s.n == nil {
		return nil
	}
	out := make([]instruction, s.n.depth)
	for n := s.n; n != nil; n = n.parent {
		out[n.depth-1] = n.ins
	}
	return out
}

// siteOf is the site of the stage's instruction at pos (1 for its FROM).
func (s Stage) siteOf(pos int) site {
	for n := s.n; n != nil; n = n.parent {
		if n.depth == pos {
			return n.at
		}
	}
	return site{}
}

// With applies build steps in order and returns the resulting stage.
func (s Stage) With(opts ...StageOption) Stage {
	for _, o := range opts {
		if o != nil {
			s = o(s)
		}
	}
	return s
}

// ErrInvalid is wrapped by every error that reports a bad builder argument.
var ErrInvalid = errors.New("invalid argument")

// argError names the instruction, its position and the argument at fault.
func argError(pos int, keyword, format string, args ...any) error {
	return stepErr(pos, keyword, fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrInvalid))
}

// stepErr is an error of the instruction at pos of a stage (1 for its
// FROM). Compile places it at the Go line of the builder call.
func stepErr(pos int, keyword string, err error) error {
	return &stepError{pos: pos, keyword: keyword, err: err}
}

// stepError is a compile error of one instruction. Once placed, it reads
// as Go's own errors do, file:line first:
//
//	examples/app/main.go:15: COPY: --chmod "u+q": …
//
// and an error of a stage the build reached through another stage names
// the stage and the calls that reached it:
//
//	main.go:9: RUN: empty command (stage builder, reached from COPY at main.go:20)
type stepError struct {
	pos     int
	keyword string
	err     error
	placed  bool
	at      *location // nil when the call's site is unknown
	stage   string
	via     []string // "COPY at main.go:20", innermost first
}

func (e *stepError) Error() string {
	var b strings.Builder
	if e.at != nil {
		b.WriteString(e.at.String())
		b.WriteString(": ")
		b.WriteString(e.keyword)
	} else {
		b.WriteString("instruction ")
		b.WriteString(strconv.Itoa(e.pos))
		b.WriteString(" (")
		b.WriteString(e.keyword)
		b.WriteString(")")
	}
	b.WriteString(": ")
	b.WriteString(e.err.Error())
	if len(e.via) > 0 {
		b.WriteString(" (stage ")
		b.WriteString(e.stage)
		b.WriteString(", reached from ")
		b.WriteString(strings.Join(e.via, ", from "))
		b.WriteString(")")
	}
	return b.String()
}

func (e *stepError) Unwrap() error { return e.err }

// place gives an error of stage s, named name, the location of its
// instruction; an error already placed (one of a stage s depends on) is
// returned as it is. A plain error is an error of the stage's FROM.
func place(s Stage, name string, err error) error {
	var se *stepError
	if !errors.As(err, &se) {
		se = &stepError{pos: 1, keyword: "FROM", err: err}
		err = se
	}
	if se.placed {
		return err
	}
	se.placed = true
	se.stage = name
	if r := resolve(s.siteOf(se.pos)); r != nil {
		se.at = &r.loc
	}
	return err
}

// reachedFrom adds to a placed error of another stage the call of stage s,
// at pos, that reached it.
func reachedFrom(s Stage, pos int, keyword string, err error) error {
	var se *stepError
	if !errors.As(err, &se) {
		return err
	}
	where := "instruction " + strconv.Itoa(pos)
	if r := resolve(s.siteOf(pos)); r != nil {
		where = r.loc.String()
	}
	se.via = append(se.via, keyword+" at "+where)
	return err
}
