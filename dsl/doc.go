// Package dsl writes container image builds as typed Go and compiles them to
// BuildKit LLB.
//
// A build is a chain of values, one per Dockerfile instruction:
//
//	dsl.From("alpine").Run("apk add --update redis").Cmd("redis-server")
//
// Every method returns a new Stage and leaves its receiver untouched, so a
// stage can be stored, reused and branched freely. Builder calls never return
// errors: a bad argument is recorded and [Compile] reports it, naming the
// instruction and the argument.
//
// Dockerfile semantics are the specification. For anything a Dockerfile can
// say, Compile produces the same LLB as BuildKit's Dockerfile frontend
// (dockerfile2llb): the same ops, so the same cache keys, and the same image
// config. In particular, arguments that a Dockerfile expands (ENV, WORKDIR, …)
// are Dockerfile words here too: `$VAR`, `${VAR:-default}`, quotes and
// backslash escapes are processed by BuildKit's own shell lexer against the
// stage's environment. Write `\$` for a literal dollar sign. Commands (RUN,
// CMD) are not expanded: the shell in the container does that.
//
// Flags are options. One that only switches something on takes no argument
// ([Link], [Parents], [Required]); one whose false means something other
// than leaving it out, as --unpack=false does in a Dockerfile, takes a bool
// ([Unpack], [KeepGitDir], [ReadOnly]). Modes are typed constants
// ([SharingLocked], [NetworkNone], [SecurityInsecure]).
package dsl
