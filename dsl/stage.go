package dsl

import (
	"errors"
	"fmt"
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
	depth  int // number of nodes from the root, this one included
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

func (s Stage) then(ins instruction) Stage {
	n := &node{parent: s.n, ins: ins, depth: 1}
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
	return fmt.Errorf("instruction %d (%s): %s: %w", pos, keyword, fmt.Sprintf(format, args...), ErrInvalid)
}
