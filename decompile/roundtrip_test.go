package decompile_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/moby/buildkit/client/llb"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/decompile"
	"github.com/slipway-build/slipway/dsltest"
	"github.com/slipway-build/slipway/internal/corpus"
	"github.com/slipway-build/slipway/internal/parity"
)

// knownDifferences are corpus cases whose round trip does not hold, with
// the reason. Any other case whose round trip fails fails the test, and so
// does a case on the list whose round trip holds.
var knownDifferences = map[string]string{}

// roundTrip compiles a Dockerfile with the frontend, decompiles the
// definition stripped of its metadata, compiles the result, and compares.
// It returns the decompiled Dockerfile, or why the round trip fails.
func roundTrip(t *testing.T, dt []byte) (string, error) {
	return roundTripWith(t, dt, nil)
}

// roundTripWith is roundTrip where the registry holds images too.
func roundTripWith(t *testing.T, dt []byte, images map[string]dockerspec.DockerOCIImage) (string, error) {
	// The decompiler is told the target platform, as llb2dockerfile's
	// --platform tells it: a stage FROM --platform of another one is then
	// written with it, where the image's own platform would be ambiguous.
	target := ocispecs.Platform{OS: "linux", Architecture: "amd64"}
	o := parity.Options{Resolver: dsltest.NewResolver(images), Caps: parity.AllCaps(), Platform: &target}
	want, err := parity.Dockerfile(t.Context(), dt, o)
	if err != nil {
		return "", errRejected{err}
	}
	var img dockerspec.DockerOCIImage
	require.NoError(t, json.Unmarshal(want.Image, &img))
	stripped := &llb.Definition{Def: want.Definition.Def}
	opts := decompile.Options{Resolver: o.Resolver, Image: &img, Platform: &target}
	out, err := decompile.Decompile(t.Context(), stripped, opts)
	if err != nil {
		return "", fmt.Errorf("decompiling: %w", err)
	}
	// Hints in the metadata change nothing.
	withMeta, err := decompile.Decompile(t.Context(), want.Definition, opts)
	require.NoError(t, err)
	require.Equal(t, string(out), string(withMeta), "the metadata changed the result")
	got, err := parity.Dockerfile(t.Context(), out, o)
	if err != nil {
		return string(out), fmt.Errorf("the frontend rejects the result: %w", err)
	}
	if diff := parity.Diff(want, got); diff != "" {
		return string(out), fmt.Errorf("%s", diff)
	}
	return string(out), nil
}

type errRejected struct{ error }

func TestRoundTripCorpus(t *testing.T) {
	cases, err := corpus.Cases()
	require.NoError(t, err)
	require.Greater(t, len(cases), 150, "the corpus was not found")
	passed, rejected := 0, 0
	var failures []string
	for _, c := range cases {
		out, err := roundTrip(t, c.Dockerfile)
		switch err.(type) {
		case nil:
			passed++
		case errRejected:
			rejected++
		default:
			failures = append(failures, fmt.Sprintf("%s: %v\n--- decompiled:\n%s", c.Name, err, out))
		}
	}
	corpus.CheckFailures(t, failures, knownDifferences)
	accepted := len(cases) - rejected
	t.Logf("round trip: %d/%d (%d more the frontend rejects)", passed, accepted, rejected)
}

// TestQuotingRoundTrip: values holding what the Dockerfile syntax treats
// specially come back so that the frontend reads the same values: quotes,
// dollars, backslashes, spaces, the escape character, heredoc delimiters,
// JSON and line breaks where only JSON or a heredoc can carry them.
func TestQuotingRoundTrip(t *testing.T) {
	for name, df := range map[string]string{
		"env and arg values": `FROM busybox
ENV A="double \" quote" B='single '"'"' quote' C="dollar \$HOME and \${X}" D="back\\slash" E="tab	and ünïcode"
ARG F="arg \$value with \"quotes\""
RUN echo "$A" "$B" "$C" "$D" "$E" "$F"
`,
		"label keys and values": `FROM busybox
LABEL "key with space"="value \"quoted\"" plain=va\$lue "org.example/x"="a=b c=d"
`,
		"paths": `FROM busybox
WORKDIR "/work dir/\$sub"
COPY ["a file", "b\\$c", "/dest dir/"]
COPY --chown=1:2 ["it\\'s", "./rel dir/"]
`,
		"commands": `FROM busybox
RUN ["sh", "-c", "echo one\necho two"]
RUN ["printf", "%s\\n", "[not json]", "<<EOF"]
RUN echo 'trailing backslash \\'
RUN <<EOT
echo EOF
echo done
EOT
RUN <<EOT2
#!/bin/sh
echo script
EOT2
CMD ["echo", "\"quoted\" and \\ and \u00e9"]
`,
		"heredoc body with the usual delimiters": "FROM busybox\nRUN <<X\necho start\nEOF\nEOT\nSCRIPT\nX\n" +
			"COPY <<'END' /etc/motd\nline with $dollar and \\backslash and `backquote`\nEND\n",
		"escape directive": "# escape=`\nFROM busybox\nENV P=\"C:\\path\" Q=\"a`\"b\"\nRUN echo `\n  $P\n",
		// The history keeps the double slash an empty ARG leaves; the op
		// has the clean path.
		"a destination with an empty variable": "FROM busybox\nARG V\nCOPY php.ini /etc/php/${V}/apache2/php.ini\n",
		// The config and the history have every port of the range: one word
		// a port would make a line too long for the parser.
		"a port range": "FROM busybox\nEXPOSE 8080 10000-20000 9000-9001/udp\n",
		// ENV and LABEL names that expand to nothing or to words with
		// spaces are written quoted.
		"names that expand to nothing or spaces": "FROM busybox\nARG X\nARG N=\"a b\"\nENV $X=1 $N=2\nLABEL $X=3 $N=4\nRUN env\n",
		"names with spaces in a stage":           "FROM busybox AS b\nARG N=\"a b\"\nENV $N=2\nRUN env > /e\nFROM scratch\nCOPY --from=b /e /e\n",
		// USER root before a WORKDIR makes the directory root's; a stage
		// without history has only that owner to tell the USER (found in
		// tektoncd/dashboard's Dockerfile).
		"USER root before a WORKDIR in a stage": "FROM busybox AS b\nUSER root\nWORKDIR /src\nCOPY . .\nRUN make\n" +
			"FROM scratch\nCOPY --from=b /src/out /out\n",
		// A label set again later has its first value in the history only;
		// it runs to the next known key, though it holds spaces and '='
		// (found in portainer's Dockerfile, HTML with class="a b").
		"a label set twice, first with spaces and '='": "FROM busybox\nLABEL a=\"x class=\\\"y z\\\" w\" b=\"1 2\"\nLABEL a=final\n",
		// A stage FROM another puts the other's ARGs in front of the env;
		// one set again moves behind it (found in LocalAI's and pulumi's
		// Dockerfiles): the stages must stay two.
		"an ARG of the parent stage set again": "FROM busybox AS parent\nARG A=1\nARG B=2\nFROM parent\nENV X=1\nARG A=1\nRUN env\n",
		// EXPOSE of a variable without a value is in the history with no
		// port (found in a fetched Dockerfile's EXPOSE $PORT).
		"a port that expands to nothing": "FROM busybox\nEXPOSE $PORT\nEXPOSE 80 $PORT\n",
		// USER of an ARG without a value is USER of nothing (laravel's and
		// dotnet-docker's Dockerfiles), in the image and in a stage
		// without history.
		"a USER of an empty ARG": "FROM busybox\nARG user\nUSER $user\nRUN id\nUSER nobody\nRUN id\nUSER ${user}\nRUN id\n",
		"a USER of an empty ARG in a stage": "FROM busybox AS b\nUSER nobody\nRUN id > /x\nARG u\nUSER $u\nRUN id >> /x\n" +
			"FROM scratch\nCOPY --from=b /x /x\n",
		// llb reads root, an empty user and 007 as numbers; the history keeps
		// them as written.
		"--chown spelled as root, empty or padded": "FROM busybox\nCOPY --chown=root:root a /a\nCOPY --chown=: b /b\nCOPY --chown=app:root c /c\nCOPY --chown=007 d /d\n",
	} {
		t.Run(name, func(t *testing.T) {
			out, err := roundTrip(t, []byte(df))
			require.NoError(t, err, "decompiled:\n%s", out)
		})
	}
}

// The frontend runs the steps after an absolute WORKDIR in the path as
// written, "/out/", though its mkdir makes "/out"; a stage outside the
// image has no history to spell it, so the decompiler takes it from the
// next RUN (found in BuildKit's own Dockerfile).
//
// When no RUN of the stage runs there, the first RUN of a stage FROM it
// spells it (found in authentik's Dockerfile).
func TestWorkdirAsWrittenRoundTrip(t *testing.T) {
	for name, df := range map[string]string{
		"a RUN of the stage": `FROM busybox AS filter
COPY --link tools/ /out/
WORKDIR /out/
RUN rm -f unwanted
WORKDIR sub/
RUN ls

FROM scratch
COPY --from=filter /out/ /
`,
		"a RUN of a stage FROM it": `FROM busybox AS base
WORKDIR /out/

FROM base AS deps
RUN echo deps > deps

FROM base
COPY --from=deps /out/deps /deps
`,
	} {
		t.Run(name, func(t *testing.T) {
			out, err := roundTrip(t, []byte(df))
			require.NoError(t, err, "decompiled:\n%s", out)
			require.Contains(t, out, "WORKDIR /out/\n")
		})
	}
}

// A stage's ARGs are in its steps' env but not in its config, and FROM a
// stage sets its config env again, moving those keys to the end: a stage
// outside the image has no history to tell ARG from ENV, so the decompiler
// reads it from the env of the first step of a stage FROM it (found in
// BuildKit's lint Dockerfile).
//
// In one place before a RUN, ARG and ENV keys are weighed each on its own,
// and the line becomes an ARG line and an ENV line (found in mastodon's
// Dockerfile).
func TestArgOfABaseStageRoundTrip(t *testing.T) {
	for name, tc := range map[string]struct{ base, want string }{
		"after a RUN":         {"ENV A=1\nRUN echo $A\nARG B=2\n", "\nENV A=\"1\"\nRUN echo $A\nARG B=\"2\"\n"},
		"before the same RUN": {"ARG A=1\nENV B=2\n", "\nARG A=\"1\"\nENV B=\"2\"\n"},
	} {
		t.Run(name, func(t *testing.T) {
			df := "FROM busybox AS base\n" + tc.base + "RUN echo $A $B\n\n" +
				"FROM base AS use\nRUN echo again\n\n" +
				"FROM scratch\nCOPY --from=use /etc/hostname /\n"
			out, err := roundTrip(t, []byte(df))
			require.NoError(t, err, "decompiled:\n%s", out)
			require.Contains(t, out, tc.want)
		})
	}
}

// A stage FROM a stage used nowhere else is one chain of steps, written as
// one stage; the env of its first step, with the config env set again,
// tells where the second began, and the decompiler writes it FROM the
// first (found in BuildKit's shfmt Dockerfile).
func TestStageFromAStageUsedOnceRoundTrip(t *testing.T) {
	df := `FROM busybox AS tool
WORKDIR /src
ARG FLAGS="-i 2"

FROM tool
RUN echo $FLAGS
`
	out, err := roundTrip(t, []byte(df))
	require.NoError(t, err, "decompiled:\n%s", out)
	require.Contains(t, out, " AS base-1\n")
	require.Contains(t, out, "\nFROM base-1\n")
}

// Two stages from the same image make the same WORKDIR step, so LLB shares
// it, but only the image's stage set an ENV before it: the other stage,
// whose steps lack the variable, is written from the image with the shared
// steps again (found in immich's Dockerfile).
func TestSharedStepsUnderDifferentEnvRoundTrip(t *testing.T) {
	df := `FROM busybox AS builder
WORKDIR /app
RUN echo build > out

FROM busybox
ENV NODE_ENV=production
WORKDIR /app
RUN echo final
COPY --from=builder /app/out /out
`
	out, err := roundTrip(t, []byte(df))
	require.NoError(t, err, "decompiled:\n%s", out)
}

// The same steps again, with the image's stage the one that set the
// variables before them: its history places them, so the image's stage is
// written from the image, and the shared steps go with the other stage
// (found in fluent-bit's Dockerfile).
func TestSharedStepsOfTheImageRoundTrip(t *testing.T) {
	df := `FROM busybox AS builder
COPY a /a
RUN echo build > /out

FROM busybox
ARG V=1
ENV W=2
COPY a /a
RUN echo final $V $W
COPY --from=builder /out /out
`
	out, err := roundTrip(t, []byte(df))
	require.NoError(t, err, "decompiled:\n%s", out)
}

// The image's stage is FROM a stage others use too, and its first RUN comes
// after COPY steps and an ARG: the FROM that set the config env again goes
// back before them, where the history's entries of the image's stage begin
// (found in mastodon's Dockerfile).
func TestStageBoundaryBeforeCopiesRoundTrip(t *testing.T) {
	df := `FROM busybox AS base
ARG UID=991
ENV HOME_DIR=/opt/app
WORKDIR /opt/app

FROM base AS deps
RUN echo deps > /deps

FROM base
ARG MODE=prod
COPY --link a /opt/app/a
COPY --from=deps /deps /deps
RUN echo $MODE
`
	out, err := roundTrip(t, []byte(df))
	require.NoError(t, err, "decompiled:\n%s", out)
	require.Contains(t, out, "\nFROM base-1\nARG MODE=")
}

// The frontend makes a WORKDIR's directory for the current user, so the
// mkdir's owner tells a USER that no RUN before it told (found in a Gradle
// build's Dockerfile); one spelled root:root or by number is the same user.
func TestUserOfAWorkdirRoundTrip(t *testing.T) {
	for name, df := range map[string]string{
		"by name": "FROM busybox AS build\nARG USER_NAME=builder\nUSER $USER_NAME\nWORKDIR /home/$USER_NAME/app\n\n" +
			"FROM scratch\nCOPY --from=build /home /home\n",
		"root spelled two ways": "FROM busybox\nUSER docker:root\nWORKDIR /test\nRUN ls\n",
	} {
		t.Run(name, func(t *testing.T) {
			out, err := roundTrip(t, []byte(df))
			require.NoError(t, err, "decompiled:\n%s", out)
		})
	}
}

// A heredoc script with a shebang runs in the stage's shell: in a stage
// without history, that is where its SHELL shows (found in a Dockerfile
// with SHELL ["/bin/bash", "-o", "pipefail", "-c"]).
func TestShellOfAHeredocRoundTrip(t *testing.T) {
	df := "FROM busybox AS build\nSHELL [\"/bin/sh\", \"-e\", \"-c\"]\nRUN <<EOF\n#!/bin/sh\necho hi > /out\nEOF\n\n" +
		"FROM scratch\nCOPY --from=build /out /out\n"
	out, err := roundTrip(t, []byte(df))
	require.NoError(t, err, "decompiled:\n%s", out)
	require.Contains(t, out, "SHELL [\"/bin/sh\",\"-e\",\"-c\"]\n")
}

// roundTripEach round-trips each Dockerfile of cases, by name, and checks
// that the decompiled one holds want.
func roundTripEach(t *testing.T, cases map[string]string, want string) {
	t.Helper()
	for name, df := range cases {
		t.Run(name, func(t *testing.T) {
			out, err := roundTrip(t, []byte(df))
			require.NoError(t, err, "decompiled:\n%s", out)
			require.Contains(t, out, want)
		})
	}
}

// A stage only an ONBUILD trigger names is kept by the frontend, which
// builds it when the trigger runs, by name, index, or from below (the
// shape of BuildKit's testOnBuildInheritedStageWithFrom).
func TestStageATriggerNamesRoundTrip(t *testing.T) {
	roundTripEach(t, map[string]string{
		"COPY --from": "FROM alpine AS src\nRUN echo -n 12 > /file\n\nFROM busybox AS base\nONBUILD COPY --from=src /file /out/foo\n\n" +
			"FROM base AS mid\nRUN cp /out/foo /out/bar\n\nFROM scratch\nCOPY --from=mid /out/bar /\n",
		"a mount's from, of a later stage": "FROM busybox AS base\nONBUILD RUN --mount=from=src,target=/in cat /in/file\n\n" +
			"FROM alpine AS src\nRUN echo -n 12 > /file\n\nFROM base\nRUN true\n",
		"by index": "FROM alpine\nRUN echo -n 12 > /file\n\nFROM busybox AS base\nONBUILD COPY --from=0 /file /foo\n\nFROM base\nRUN cat /foo\n",
	}, "")
}

// A mount option written as its default may still be kept in the op:
// id=default is not the empty id of an ssh mount that names none, and an
// ssh mount's default target is ssh_agent.N for the N-th ssh mount only.
func TestMountOptionsAsTheirDefaultRoundTrip(t *testing.T) {
	roundTripEach(t, map[string]string{
		"ssh id=default":              "FROM busybox\nRUN --mount=type=ssh,id=default true\n",
		"ssh id=default, required":    "FROM busybox\nRUN --mount=type=ssh,id=default,required true\n",
		"ssh id=default second":       "FROM busybox\nRUN --mount=type=ssh,id=x --mount=type=ssh,id=default true\n",
		"ssh target of another mount": "FROM busybox\nRUN --mount=type=ssh,target=/run/buildkit/ssh_agent.5 true\n",
		"ssh targets swapped": "FROM busybox\nRUN --mount=type=ssh,id=a,target=/run/buildkit/ssh_agent.1 " +
			"--mount=type=ssh,id=b,target=/run/buildkit/ssh_agent.0 true\n",
		"ssh target of the second on the first":    "FROM busybox\nRUN --mount=type=ssh,id=a --mount=type=ssh,id=b,target=/run/buildkit/ssh_agent.0 true\n",
		"cache uid, gid and mode as their default": "FROM busybox\nRUN --mount=type=cache,target=/c,uid=0 --mount=type=cache,target=/d,mode=0755 true\n",
	}, "")
}

// Each form of git address: ADD of one other than http(s) puts the address
// among the context paths the frontend reads; submodules=false and
// fetch-by-commit have only the query form; a query's ref, checksum and
// keep-git-dir are what the history shows, though ADD's flags say them too.
func TestGitAddressesRoundTrip(t *testing.T) {
	roundTripEach(t, map[string]string{
		"scp, ssh and git beside the context": "FROM busybox\nCOPY a /a\nADD git@github.com:org/repo.git#main:dir /scp\n" +
			"ADD ssh://git@github.com/org/repo.git#v1.0 /ssh\nADD git://github.com/org/repo.git#main /git\n",
		"submodules=false": "FROM busybox\nADD https://github.com/org/repo.git?keep-git-dir=true&submodules=false /dst\n",
		"fetch-by-commit": "FROM busybox\n" +
			"ADD https://github.com/org/repo.git?commit=0123456789abcdef0123456789abcdef01234567&fetch-by-commit= /dst\n",
		"ref and checksum": "FROM busybox\n" +
			"ADD https://github.com/org/repo.git?ref=main&checksum=0123456789abcdef0123456789abcdef01234567 /dst\n",
		"keep-git-dir=false": "FROM busybox\nWORKDIR /w\nADD https://github.com/o/r.git?ref=main&keep-git-dir=false /a\n",
	}, "")
}

// One ADD may read git repositories, URLs and paths together; --unpack,
// --keep-git-dir and a query's keep-git-dir or checksum, which the
// frontend carries to the git sources after it, are said of them all.
func TestAddOfSeveralKindsOfSourceRoundTrip(t *testing.T) {
	const sum = "0123456789abcdef0123456789abcdef01234567"
	roundTripEach(t, map[string]string{
		"scp and https git":              "FROM busybox\nCOPY a /a\nADD git@github.com:org/a.git https://github.com/org/b.git#main:x /dst/\n",
		"a path and git":                 "FROM busybox\nCOPY a /a\nADD a git@github.com:org/a.git /dst/\n",
		"a path not unpacked and git":    "FROM busybox\nADD --unpack=false a.tar https://github.com/org/a.git#main /dst/\n",
		"a URL and a path":               "FROM busybox\nADD https://example.com/f.tar a.tar /dst/\n",
		"a URL and a path, unpacked":     "FROM busybox\nADD --unpack=true https://example.com/f.tar a.tar /dst/\n",
		"a URL and a path, not unpacked": "FROM busybox\nADD --unpack=false https://example.com/f.tar a.tar /dst/\n",
		"two URLs":                       "FROM busybox\nADD https://example.com/a.txt https://example.com/b.txt /dst/\n",
		"git, a URL and a path":          "FROM busybox\nCOPY a /a\nADD git://github.com/org/a.git https://example.com/b.txt c /dst/\n",
		"--keep-git-dir of two":          "FROM busybox\nADD --keep-git-dir=true https://github.com/org/a.git git@github.com:org/b.git#v1 /dst/\n",
		"keep-git-dir of the first":      "FROM busybox\nADD https://github.com/org/a.git?keep-git-dir=true git@github.com:org/b.git /dst/\n",
		"keep-git-dir of the second":     "FROM busybox\nADD https://github.com/org/a.git git@github.com:org/b.git?keep-git-dir=true /dst/\n",
		"checksum of the first":          "FROM busybox\nADD https://github.com/org/a.git?checksum=" + sum + " git@github.com:org/b.git /dst/\n",
		"checksum of the second":         "FROM busybox\nADD https://github.com/org/a.git git@github.com:org/b.git?ref=v1&checksum=" + sum + " /dst/\n",
		"submodules=false and a path":    "FROM busybox\nCOPY a /a\nADD a https://github.com/org/a.git?submodules=false /dst/\n",
	}, "ADD ")
}

// ENTRYPOINT clears a CMD inherited from the stage it is FROM, not one its
// own stage set: where the image lacks the CMD the history set, the stage
// ended between them (the frontend's dispatchEntrypoint).
func TestEntrypointClearsAnInheritedCmdRoundTrip(t *testing.T) {
	roundTripEach(t, map[string]string{
		"CMD, then ENTRYPOINT in the stage, then FROM it": "FROM busybox AS base\nCMD [\"base-cmd\"]\n\n" +
			"FROM base AS mid\nCMD [\"mid-cmd\"]\nENTRYPOINT [\"mid-ep\"]\n\nFROM mid\nENTRYPOINT [\"final-ep\"]\n",
		"ENTRYPOINT, then CMD": "FROM busybox AS base\nCMD [\"base-cmd\"]\n\n" +
			"FROM base AS mid\nENTRYPOINT [\"mid-ep\"]\nCMD [\"mid-cmd\"]\n\nFROM mid\nENTRYPOINT [\"final-ep\"]\n",
		"the base image's CMD": "FROM example/app:1 AS mid\nENTRYPOINT [\"a\"]\nCMD [\"c\"]\n\nFROM mid\nENTRYPOINT [\"b\"]\n",
		"with a step after":    "FROM busybox AS base\nENV X=1\nCMD [\"c\"]\n\nFROM base\nENV Y=2\nENTRYPOINT [\"e\"]\nRUN env > /env\n",
		// The stage ends before the ARG: a FROM after it would move A
		// behind the config env, where the RUNs do not have it.
		"an ARG and a RUN between": "FROM busybox AS base\nCMD [\"c\"]\nRUN echo 1 > /one\n\n" +
			"FROM base AS mid\nARG A=1\nRUN echo $A > /two\nENTRYPOINT [\"e\"]\nRUN echo $A > /three\n\nFROM mid\nRUN echo 4 > /four\n",
	}, "")
}

// A trigger holding a heredoc is its first line, then each heredoc's body
// and terminator; written so, after ONBUILD, it reads back the same.
func TestOnbuildHeredocRoundTrip(t *testing.T) {
	roundTripEach(t, map[string]string{
		"RUN":              "FROM busybox\nONBUILD RUN <<EOF\necho hello\nEOF\n",
		"COPY":             "FROM busybox\nONBUILD COPY <<EOF /etc/motd\nhello\nEOF\n",
		"two heredocs":     "FROM busybox\nONBUILD RUN <<A <<B\necho a\nA\necho b\nB\n",
		"<<- with a tab":   "FROM busybox\nONBUILD RUN <<-EOT sh\n\techo tabbed\n\tEOT\n",
		"then a plain one": "FROM busybox\nONBUILD RUN <<EOF\necho hello\nEOF\nONBUILD RUN echo plain\nLABEL a=b\n",
	}, "ONBUILD ")
}

// A base image's trigger that holds a heredoc runs after FROM, and the
// Dockerfile written does not say it again.
func TestBaseImageHeredocTriggerRoundTrip(t *testing.T) {
	img := dsltest.DefaultImage()
	img.Config.OnBuild = []string{"RUN <<EOF\necho hi > /x\nEOF", "COPY <<EOF /y\nhello\nEOF"}
	images := map[string]dockerspec.DockerOCIImage{"docker.io/example/triggers:1": img}
	out, err := roundTripWith(t, []byte("FROM example/triggers:1\nRUN cat /x /y\n"), images)
	require.NoError(t, err, "decompiled:\n%s", out)
	require.NotContains(t, out, "<<EOF")
}

// A CMD a base image's trigger sets is the stage's own: its ENTRYPOINT
// keeps it, and the ENTRYPOINT of a stage FROM it clears it.
func TestCmdOfABaseImageTriggerRoundTrip(t *testing.T) {
	img := dsltest.DefaultImage()
	img.Config.OnBuild = []string{`CMD ["from-trigger"]`}
	images := map[string]dockerspec.DockerOCIImage{"docker.io/example/triggers:1": img}
	for name, df := range map[string]string{
		"kept":                      "FROM example/triggers:1\nENTRYPOINT [\"e\"]\n",
		"cleared in the next stage": "FROM example/triggers:1 AS mid\nENTRYPOINT [\"e\"]\n\nFROM mid\nENTRYPOINT [\"f\"]\n",
	} {
		t.Run(name, func(t *testing.T) {
			out, err := roundTripWith(t, []byte(df), images)
			require.NoError(t, err, "decompiled:\n%s", out)
		})
	}
}

// Without a history to place the ENTRYPOINT, the config alone tells that
// it cleared a CMD of the stage it is FROM: a trigger's CMD, here.
func TestEntrypointClearsAnInheritedCmdWithoutHistory(t *testing.T) {
	img := dsltest.DefaultImage()
	img.Config.OnBuild = []string{`CMD ["from-trigger"]`}
	target := ocispecs.Platform{OS: "linux", Architecture: "amd64"}
	o := parity.Options{Resolver: dsltest.NewResolver(map[string]dockerspec.DockerOCIImage{"docker.io/example/triggers:1": img}),
		Caps: parity.AllCaps(), Platform: &target}
	df := "FROM example/triggers:1 AS mid\nENTRYPOINT [\"e\"]\n\nFROM mid\nENTRYPOINT [\"f\"]\n"
	want, err := parity.Dockerfile(t.Context(), []byte(df), o)
	require.NoError(t, err)
	var wantImg dockerspec.DockerOCIImage
	require.NoError(t, json.Unmarshal(want.Image, &wantImg))
	wantImg.History = nil
	out, err := decompile.Decompile(t.Context(), &llb.Definition{Def: want.Definition.Def},
		decompile.Options{Resolver: o.Resolver, Image: &wantImg, Platform: &target})
	require.NoError(t, err)
	got, err := parity.Dockerfile(t.Context(), out, o)
	require.NoError(t, err, "decompiled:\n%s", out)
	var gotImg dockerspec.DockerOCIImage
	require.NoError(t, json.Unmarshal(got.Image, &gotImg))
	require.Equal(t, want.Definition.Def, got.Definition.Def, "decompiled:\n%s", out)
	require.Equal(t, []string{"f"}, gotImg.Config.Entrypoint, "decompiled:\n%s", out)
	require.Nil(t, gotImg.Config.Cmd, "decompiled:\n%s", out)
}
