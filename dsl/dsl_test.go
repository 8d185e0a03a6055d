package dsl_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/dsltest"
)

// parseDef decodes a definition's ops, keyed by digest, and returns the op
// the definition ends in (the input of its final return op).
func parseDef(t *testing.T, def *llb.Definition) (map[digest.Digest]*pb.Op, *pb.Op) {
	t.Helper()
	ops := map[digest.Digest]*pb.Op{}
	var last *pb.Op
	for _, dt := range def.Def {
		var op pb.Op
		require.NoError(t, op.UnmarshalVT(dt))
		ops[digest.FromBytes(dt)] = &op
		last = &op
	}
	require.NotNil(t, last, "empty definition")
	require.Len(t, last.Inputs, 1, "the last op returns the result")
	return ops, ops[digest.Digest(last.Inputs[0].Digest)]
}

// line is the line it is called from.
func line() int {
	_, _, n, _ := runtime.Caller(1)
	return n
}

// input returns the op feeding input i of op.
func input(t *testing.T, ops map[digest.Digest]*pb.Op, op *pb.Op, i int) *pb.Op {
	t.Helper()
	require.Greater(t, len(op.Inputs), i)
	in, ok := ops[digest.Digest(op.Inputs[i].Digest)]
	require.True(t, ok, "input %d points nowhere", i)
	return in
}

func compile(t *testing.T, s dsl.Stage, opts ...dsl.CompileOption) *dsl.Result {
	t.Helper()
	res, err := dsl.Compile(t.Context(), s, append([]dsl.CompileOption{dsl.WithResolver(dsltest.NewResolver(baseImages()))}, opts...)...)
	require.NoError(t, err)
	return res
}

func TestRunIsShellFormExecOp(t *testing.T) {
	t.Parallel()
	res := compile(t, dsl.From("alpine").Env("GREETING", "hi").Run("echo $GREETING > /out"))
	ops, last := parseDef(t, res.Definition)
	exec := last.GetExec()
	require.NotNil(t, exec, "RUN makes an exec op")
	require.Equal(t, []string{"/bin/sh", "-c", "echo $GREETING > /out"}, exec.Meta.Args, "the command is not expanded: the shell does it")
	require.Contains(t, exec.Meta.Env, "GREETING=hi")
	require.Contains(t, exec.Meta.Env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	require.Equal(t, "/", exec.Meta.Cwd)
	require.Len(t, exec.Mounts, 1)
	require.Equal(t, "/", exec.Mounts[0].Dest)

	src := input(t, ops, last, 0).GetSource()
	require.NotNil(t, src, "the base is a source op")
	require.Regexp(t, `^docker-image://docker\.io/library/alpine:latest@sha256:[0-9a-f]{64}$`, src.Identifier)
}

func TestWorkdirMakesDirectoryAsBaseUser(t *testing.T) {
	t.Parallel()
	// example/app:1 runs as user "app" in /srv.
	res := compile(t, dsl.From("example/app:1").Workdir("data").Run("pwd"))
	ops, last := parseDef(t, res.Definition)
	require.Equal(t, "/srv/data", last.GetExec().Meta.Cwd)
	require.Equal(t, "app", last.GetExec().Meta.User)

	mk := input(t, ops, last, 0).GetFile()
	require.NotNil(t, mk, "WORKDIR makes a file op")
	require.Len(t, mk.Actions, 1)
	mkdir := mk.Actions[0].GetMkdir()
	require.NotNil(t, mkdir)
	require.Equal(t, "/srv/data", mkdir.Path)
	require.True(t, mkdir.MakeParents)
	require.Equal(t, int32(0o755), mkdir.Mode)
	require.Equal(t, "app", mkdir.Owner.User.GetByName().Name)

	require.Equal(t, "/srv/data", res.Image.Config.WorkingDir)
	require.Equal(t, "app", res.Image.Config.User)
}

func TestImageConfig(t *testing.T) {
	t.Parallel()
	res := compile(t, dsl.From("example/app:1").Env("LANG", "en_US.UTF-8").Cmd("redis-server", "--port", "6380"))
	img := res.Image
	require.Equal(t, []string{"redis-server", "--port", "6380"}, img.Config.Cmd)
	require.Equal(t, []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/home/app",
		"LANG=en_US.UTF-8",
	}, img.Config.Env, "ENV replaces an inherited variable in place")
	require.Equal(t, "linux", img.OS)
	require.Nil(t, img.Created)
	require.Len(t, img.History, 2)
	require.Equal(t, "ENV LANG=en_US.UTF-8", img.History[0].CreatedBy)
	require.True(t, img.History[0].EmptyLayer)
	require.Equal(t, `CMD ["redis-server" "--port" "6380"]`, img.History[1].CreatedBy)
}

func TestImageConfigRidesInMetadata(t *testing.T) {
	t.Parallel()
	res := compile(t, dsl.From("alpine").Run("true").Cmd("sh"))
	last := digest.FromBytes(res.Definition.Def[len(res.Definition.Def)-1])
	cfg := res.Definition.Metadata[last].Description[dsl.ImageConfigKey]
	require.NotEmpty(t, cfg)
	require.Contains(t, cfg, `"Cmd":["sh"]`)

	// Metadata changes no digest: the same build compiles to the same ops.
	again := compile(t, dsl.From("alpine").Run("true").Cmd("sh"))
	require.Equal(t, res.Definition.Def, again.Definition.Def)
}

func TestStagesAreImmutable(t *testing.T) {
	t.Parallel()
	base := dsl.From("alpine").Env("A", "1")
	a := base.Run("echo a")
	b := base.Run("echo b")
	_ = base.Env("A", "2") // discarded: must not change base
	ra, rb, rbase := compile(t, a), compile(t, b), compile(t, base)
	require.NotEqual(t, ra.Definition.Def, rb.Definition.Def)
	require.Equal(t, []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "A=1"}, rbase.Image.Config.Env)
	_, lastA := parseDef(t, ra.Definition)
	require.Equal(t, "echo a", lastA.GetExec().Meta.Args[2])
}

func TestFreeFunctionTwins(t *testing.T) {
	t.Parallel()
	setup := []dsl.StageOption{dsl.Env("A", "1"), dsl.Workdir("/app"), dsl.Run("make"), dsl.Cmd("app"),
		dsl.Args(dsl.ArgOf("B"), dsl.ArgOf("C", "2")), dsl.CopyInline("a.txt", "hi", "/a.txt")}
	chained := compile(t, dsl.From("alpine").Env("A", "1").Workdir("/app").Run("make").Cmd("app").
		Args(dsl.ArgOf("B"), dsl.ArgOf("C", "2")).CopyInline("a.txt", "hi", "/a.txt"))
	stored := compile(t, dsl.From("alpine").With(setup...))
	require.Equal(t, chained.Definition.Def, stored.Definition.Def)
	require.Equal(t, chained.Image, stored.Image)
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		stage dsl.Stage
		line  int // of the failing call; 0 for none
		want  string
	}{
		{"zero stage", dsl.Stage{}, 0, "empty stage"},
		{"empty run", dsl.From("alpine").Run("  "), line(), "RUN: empty command"},
		{"empty exec", dsl.From("alpine").RunExec(nil), line(), "RUN: empty command"},
		{"bad reference", dsl.From("Not A Ref"), line(), `FROM: image reference "Not A Ref"`},
		{"empty reference", dsl.From(""), line(), "FROM: empty image reference"},
		{"empty env key", dsl.From("alpine").Env("", "x"), line(), "ENV: empty variable name"},
		{"env key with =", dsl.From("alpine").Env("A=B", "x"), line(), `ENV: variable name "A=B"`},
		{"odd env pairs", dsl.From("alpine").Env("A", "1", "B"), line(), `ENV: key "B" has no value`},
		{"bad expansion", dsl.From("alpine").Env("A", "${B"), line(), `ENV: value of A "${B"`},
		{"empty workdir", dsl.From("alpine").Workdir(""), line(), "WORKDIR: empty path"},
		{"invalid port", dsl.From("alpine").Expose("80/icmp"), line(), `EXPOSE: invalid port "80/icmp": invalid proto: icmp`},
		{"port out of range", dsl.From("alpine").Expose("70000"), line(), `EXPOSE: invalid port "70000"`},
		{"reversed port range", dsl.From("alpine").Expose("90-80"), line(), `EXPOSE: invalid port "90-80"`},
		{"no port", dsl.From("alpine").Expose(), line(), "EXPOSE: no port given"},
		{"bad signal", dsl.From("alpine").StopSignal("SIGNOPE"), line(), `STOPSIGNAL: signal "SIGNOPE"`},
		{"empty user", dsl.From("alpine").User(""), line(), "USER: empty user"},
		{"empty volume", dsl.From("alpine").Volume("/a", ""), line(), "VOLUME: empty path"},
		{"empty shell", dsl.From("alpine").Shell(), line(), "SHELL: empty shell"},
		{"negative retries", dsl.From("alpine").HealthcheckShell("true", dsl.Retries(-1)), line(), "HEALTHCHECK: retries cannot be negative (-1)"},
		{"tiny interval", dsl.From("alpine").HealthcheckShell("true", dsl.Interval(time.Microsecond)), line(), "HEALTHCHECK: interval 1µs is less than 1ms"},
		{"empty healthcheck", dsl.From("alpine").Healthcheck(nil), line(), "HEALTHCHECK: empty command"},
		{"odd label pairs", dsl.From("alpine").Label("a", "1", "b"), line(), `LABEL: key "b" has no value`},
		{"empty onbuild", dsl.From("alpine").OnBuild(" "), line(), "ONBUILD: empty trigger"},
		{"two arg defaults", dsl.From("alpine").Arg("V", "1", "2"), line(), "ARG: ARG V has 2 defaults, want at most one"},
		{"empty arg name", dsl.From("alpine").Arg(""), line(), "ARG: empty argument name"},
		{"no args", dsl.From("alpine").Args(), line(), "ARG: no argument declared"},
		{"bad second arg", dsl.From("alpine").Args(dsl.ArgOf("A"), dsl.ArgOf("B", "1", "2")), line(), "ARG: ARG B has 2 defaults"},
		{"bad arg default", dsl.From("alpine").Arg("V", "${X"), line(), `ARG: default of V "${X"`},
		{"bad chmod", dsl.From("alpine").Copy("a", "/a", dsl.Chmod("0999")), line(), `COPY: --chmod "0999": it should be an octal string`},
		{"chmod too big", dsl.From("alpine").Copy("a", "/a", dsl.Chmod("17777")), line(), `COPY: --chmod "17777"`},
		{"empty copy source", dsl.From("alpine").Copy("", "/a"), line(), "COPY: empty source path"},
		{"no copy sources", dsl.From("alpine").CopyPaths(nil, "/a"), line(), "COPY: no source given"},
		{"chown name with link", dsl.From("alpine").Copy("a", "/a", dsl.Chown("app"), dsl.Link()), line(), "COPY: --chown=app: user and group names can't be resolved when used with --link"},
		{"copy url", dsl.From("alpine").Copy("https://example.com/x.tgz", "/x"), line(), `COPY: source "https://example.com/x.tgz": COPY cannot fetch a URL, use Add`},
		{"copy git", dsl.From("alpine").Copy("https://github.com/moby/buildkit.git#v0.34.2", "/x"), line(), "COPY cannot fetch a git repository, use Add"},
		{"checksum on copy", dsl.From("alpine").Copy("a", "/x", dsl.Checksum("sha256:00")), line(), "COPY: --checksum is only for Add"},
		{"checksum on local", dsl.From("alpine").Add("a.tgz", "/x", dsl.Checksum("sha256:00")), line(), "--checksum needs a URL or git source"},
		{"checksum two sources", dsl.From("alpine").AddPaths([]string{"https://a/x", "https://a/y"}, "/x", dsl.Checksum("sha256:00")), line(), "--checksum needs exactly one source"},
		{"bad checksum", dsl.From("alpine").Add("https://example.com/x.tgz", "/x", dsl.Checksum("md5:1")), line(), `--checksum "md5:1"`},
		{"keep-git-dir disagrees", dsl.From("alpine").Add("https://github.com/moby/buildkit.git?keep-git-dir=true", "/x", dsl.KeepGitDir(false)), line(), "--keep-git-dir disagrees"},
		{"bad stage name", dsl.From("alpine").As("Builder"), line(), `stage name "Builder": must start with a letter`},
		{"error in a source stage", dsl.From("alpine").Copy("/x", "/x", dsl.From("golang").As("builder").Run("")), line(), "RUN: empty command: invalid argument (stage builder, reached from COPY at dsl/dsl_test.go:"},
		{"error in a base stage", dsl.FromStage(dsl.From("alpine").Workdir("")).Run("true"), line(), "WORKDIR: empty path: invalid argument (stage stage-0, reached from FROM at dsl/dsl_test.go:"},
		{"error in a chosen stage", dsl.FromNamed("$B", []dsl.Stage{dsl.From("alpine").As("b").Workdir("")}, dsl.GlobalArg("B", "b")).Run("true"), line(), "WORKDIR: empty path: invalid argument (stage b, reached from FROM at dsl/dsl_test.go:"},
		{"bad trigger", dsl.FromStage(dsl.From("alpine").OnBuild("FROM x")).Run("true"), line(), "FROM: ONBUILD FROM x"},
		{"unparsable trigger", dsl.FromStage(dsl.From("alpine").OnBuild("RUN --mount=type=nope x")).Run("true"), line(), "FROM: ONBUILD RUN --mount=type=nope x"},
		{"failing trigger", dsl.FromStage(dsl.From("alpine").OnBuild("VOLUME $NOPE")).Run("true"), line(), "FROM: ONBUILD VOLUME: empty path"},
		{"zero stage as copy source", dsl.From("alpine").Copy("/x", "/x", dsl.Stage{}), line(), "COPY: refers to an empty stage"},
		{"unknown network", dsl.From("alpine").Run("x", dsl.Network("bridge")), line(), `RUN: network "bridge": want default, none or host`},
		{"unknown security", dsl.From("alpine").Run("x", dsl.Security("root")), line(), `RUN: security "root"`},
		{"mount over root", dsl.From("alpine").Run("x", dsl.CacheMount("/")), line(), `RUN: mount 1 (type=cache): target "/": cannot mount over /`},
		{"mount without target at /", dsl.From("alpine").Run("x", dsl.BindMount("")), line(), `RUN: mount 1 (type=bind): target "": cannot mount over /`},
		{"bad sharing", dsl.From("alpine").Run("x", dsl.CacheMount("/c", dsl.Sharing("public"))), line(), `mount 1 (type=cache): sharing "public"`},
		{"sharing on bind", dsl.From("alpine").Run("x", dsl.BindMount("/c", dsl.Sharing("locked"))), line(), "mount 1 (type=bind): sharing is only for cache mounts"},
		{"uid on tmpfs", dsl.From("alpine").Run("x", dsl.TmpfsMount("/t", dsl.UID(1))), line(), "mount 1 (type=tmpfs): mode, uid and gid are not allowed for tmpfs mounts"},
		{"size on cache", dsl.From("alpine").Run("x", dsl.CacheMount("/c", dsl.Size(1))), line(), "mount 1 (type=cache): size is only for tmpfs mounts"},
		{"required bind", dsl.From("alpine").Run("x", dsl.BindMount("/c", dsl.Required())), line(), "mount 1 (type=bind): required is only for secret and ssh mounts"},
		{"secret without id", dsl.From("alpine").Run("x", dsl.SecretMount("")), line(), "mount 1 (type=secret): a secret needs an id or a target"},
		{"secret from stage", dsl.From("alpine").Run("x", dsl.SecretMount("s", dsl.From("busybox"))), line(), "mount 1 (type=secret): a secret mount has no source stage"},
		{"ssh with source", dsl.From("alpine").Run("x", dsl.SSHMount(dsl.Source("/x"))), line(), "mount 1 (type=ssh): an ssh mount has no source"},
		{"bad platform", dsl.From("alpine", dsl.Platform("linux/")), line(), `FROM: --platform "linux/"`},
		{"empty platform", dsl.From("alpine", dsl.Platform("$NOPE")), line(), `FROM: --platform "$NOPE" is empty`},
		{"two global defaults", dsl.From("alpine", dsl.GlobalArg("V", "1", "2")), line(), "FROM: global ARG V has 2 defaults"},
		{"two global defaults of a FromNamed", dsl.FromNamed("$B", []dsl.Stage{dsl.From("alpine").As("b")}, dsl.GlobalArg("B", "b", "c")), line(), "FROM: global ARG B has 2 defaults"},
		{"bad global name", dsl.From("alpine", dsl.GlobalArg("A B")), line(), `FROM: global ARG name "A B"`},
		{"ref of unset global", dsl.From("$NOPE"), line(), "FROM: empty image reference"},
		{"script without name", dsl.From("alpine").RunScript("", "#!/bin/sh\ntrue\n"), line(), `RUN: script name ""`},
		{"empty script", dsl.From("alpine").RunScript("EOF", " "), line(), "RUN: empty command"},
		{"inline without name", dsl.From("alpine").CopyInline("", "x", "/x"), line(), "COPY: inline file with no name"},
		{"empty mount flag", dsl.From("alpine").Run("x", dsl.MountFlag("")), line(), `RUN: mount 1 (""): not a --mount value`},
		{"bad mount flag", dsl.From("alpine").Run("x", dsl.MountFlag("type=$NOPE,target=/x")), line(), `RUN: mount 1 ("type=$NOPE,target=/x"): unsupported mount type ""`},
		{"mount flag with newline", dsl.From("alpine").Run("x", dsl.MountFlag("type=cache,target=/x\nRUN y")), line(), "not a --mount value"},
		{"empty candidate", dsl.FromNamed("x-$TARGETOS", []dsl.Stage{{}}), line(), "FROM: candidate 1 is an empty stage"},
		{"bad named reference", dsl.FromNamed("x-${A", []dsl.Stage{dsl.From("alpine").As("x")}), line(), `FROM: reference "x-${A"`},
		{"error after good steps", dsl.From("alpine").Run("ok").Cmd("x").Run(""), line(), "RUN: empty command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dsl.Compile(t.Context(), tc.stage, dsl.WithResolver(dsltest.NewResolver(nil)))
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
			require.NotContains(t, err.Error(), "\n", "one line")
			if tc.line == 0 {
				return
			}
			at := fmt.Sprintf("dsl/dsl_test.go:%d: ", tc.line)
			require.True(t, strings.HasPrefix(err.Error(), at), "%q does not start with %q", err, at)
		})
		// The same stage, reached through a COPY made on another line:
		// the error names both places.
		t.Run(tc.name+"/reached", func(t *testing.T) {
			if tc.line == 0 {
				return
			}
			_, err := dsl.Compile(t.Context(), dsl.From("scratch").Copy("/x", "/x", tc.stage), dsl.WithResolver(dsltest.NewResolver(nil)))
			copyLine := line() - 1
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
			at := fmt.Sprintf("dsl/dsl_test.go:%d: ", tc.line)
			require.True(t, strings.HasPrefix(err.Error(), at), "%q does not start with %q", err, at)
			require.True(t, strings.HasSuffix(err.Error(), fmt.Sprintf(" COPY at dsl/dsl_test.go:%d)", copyLine)), "%q names the COPY", err)
		})
	}
}

func TestSourceDateEpochMustBeSeconds(t *testing.T) {
	t.Parallel()
	_, err := dsl.Compile(t.Context(), dsl.From("scratch"), dsl.WithBuildArgs(map[string]string{"SOURCE_DATE_EPOCH": "yesterday"}))
	require.ErrorContains(t, err, `build arg SOURCE_DATE_EPOCH="yesterday": want seconds since 1970`)
}

func TestCompileNeedsResolverForImages(t *testing.T) {
	t.Parallel()
	_, err := dsl.Compile(t.Context(), dsl.From("alpine"))
	require.ErrorContains(t, err, fmt.Sprintf(`dsl/dsl_test.go:%d: FROM: image "alpine": no image resolver`, line()-1))

	// scratch needs none.
	res, err := dsl.Compile(t.Context(), dsl.From("scratch").Cmd("/app"))
	require.NoError(t, err)
	require.Equal(t, []string{"/app"}, res.Image.Config.Cmd)
}

func TestCopyFromStageAndContext(t *testing.T) {
	t.Parallel()
	builder := dsl.From("golang").Run("go build -o /out/app")
	res := compile(t, dsl.From("alpine").Workdir("/srv").
		Copy("/out/app", "bin/", builder, dsl.Chown("10:20"), dsl.Chmod("0750")).
		Copy("conf/*.yaml", "./conf/"))
	ops, last := parseDef(t, res.Definition)

	ctxCopy := last.GetFile()
	require.NotNil(t, ctxCopy)
	cp := ctxCopy.Actions[0].GetCopy()
	require.Equal(t, "/conf/*.yaml", cp.Src)
	require.Equal(t, "/srv/conf/", cp.Dest, "a relative destination is taken from WORKDIR and keeps its slash")
	require.True(t, cp.AllowWildcard)
	local := input(t, ops, last, 1).GetSource()
	require.Equal(t, "local://context", local.Identifier)
	require.Equal(t, `["conf/*.yaml"]`, local.Attrs["local.followpaths"], "the context sends only what the build copies")
	require.Equal(t, dsl.DefaultContextID, local.Attrs["local.unique"])

	stageCopyOp := input(t, ops, last, 0).GetFile()
	require.NotNil(t, stageCopyOp)
	scp := stageCopyOp.Actions[0].GetCopy()
	require.Equal(t, "/out/app", scp.Src)
	require.Equal(t, "/srv/bin/", scp.Dest)
	require.Equal(t, int32(0o750), scp.Mode)
	require.Equal(t, uint32(10), scp.Owner.User.GetByID())
	require.Equal(t, uint32(20), scp.Owner.Group.GetByID())
	run := input(t, ops, input(t, ops, last, 0), 1).GetExec()
	require.NotNil(t, run, "the second input is the builder stage's result")
	require.Equal(t, "go build -o /out/app", run.Meta.Args[2])
}

func TestSecretMountKeepsValueOutOfLLB(t *testing.T) {
	t.Parallel()
	res := compile(t, dsl.From("alpine").Run("cat /run/secrets/token", dsl.SecretMount("token", dsl.Required()), dsl.Network(dsl.NetworkNone)))
	_, last := parseDef(t, res.Definition)
	exec := last.GetExec()
	require.Equal(t, pb.NetMode_NONE, exec.Network)
	var secret *pb.Mount
	for _, m := range exec.Mounts {
		if m.MountType == pb.MountType_SECRET {
			secret = m
		}
	}
	require.NotNil(t, secret)
	require.Equal(t, "/run/secrets/token", secret.Dest)
	require.Equal(t, "token", secret.SecretOpt.ID, "only the secret's id is in the LLB")
	require.False(t, secret.SecretOpt.Optional)
}

func TestFromLLBEscapeHatch(t *testing.T) {
	t.Parallel()
	// What a Dockerfile cannot say: a merge of two stages' results.
	a := compile(t, dsl.From("alpine").Run("make a")).State
	b := compile(t, dsl.From("alpine").Run("make b")).State
	img := dsltest.DefaultImage()
	img.Config.Env = append(img.Config.Env, "MERGED=1")
	res := compile(t, dsl.FromLLB(llb.Merge([]llb.State{a, b}), img).Workdir("/w").Cmd("x"))
	ops, last := parseDef(t, res.Definition)
	mkdir := last.GetFile()
	require.NotNil(t, mkdir, "WORKDIR on top of the merge")
	merge := input(t, ops, last, 0).GetMerge()
	require.NotNil(t, merge, "the raw state is the base")
	require.Len(t, merge.Inputs, 2)
	require.Contains(t, res.Image.Config.Env, "MERGED=1", "the given config is the base config")

	_, err := dsl.Compile(t.Context(), dsl.FromLLB(a, img, img))
	require.ErrorContains(t, err, "FROM: FromLLB takes at most one image config, got 2")
}

func TestIgnorePatternsLimitTheContext(t *testing.T) {
	t.Parallel()
	res := compile(t, dsl.From("alpine").Copy(".", "/src"), dsl.WithIgnorePatterns([]string{"*.md", "!README.md", ".git"}))
	ops, last := parseDef(t, res.Definition)
	local := input(t, ops, last, 1).GetSource()
	require.Equal(t, "local://context", local.Identifier)
	require.Equal(t, `["*.md","!README.md",".git"]`, local.Attrs["local.excludepatterns"])
	_, followed := local.Attrs["local.followpaths"]
	require.False(t, followed, "COPY . uses the whole context")
}

func TestNamedContext(t *testing.T) {
	t.Parallel()
	conf := dsl.Context("conf")
	res := compile(t, dsl.From("alpine").
		Copy("app.yaml", "/etc/app/", conf).
		Run("ls /x", dsl.BindMount("/x", conf, dsl.Source("certs"))),
		dsl.WithContextIgnorePatterns("conf", []string{"*.bak"}))
	ops, last := parseDef(t, res.Definition)
	var local *pb.SourceOp
	for _, op := range ops {
		if src := op.GetSource(); src != nil && src.Identifier == "local://conf" {
			local = src
		}
	}
	require.NotNil(t, local, "the named context is a local source of its own")
	require.Equal(t, `["app.yaml","certs"]`, local.Attrs["local.followpaths"], "only what the build reads is sent")
	require.Equal(t, `["*.bak"]`, local.Attrs["local.excludepatterns"])
	require.Equal(t, "context:conf", local.Attrs["local.sharedkeyhint"])
	require.NotNil(t, last.GetExec())

	for _, bad := range []string{"", "context", "a/b"} {
		_, err := dsl.Compile(t.Context(), dsl.From("alpine").Copy("x", "/x", dsl.Context(bad)), dsl.WithResolver(dsltest.NewResolver(nil)))
		require.ErrorContains(t, err, "context name", bad)
	}
}

func TestFromNamedFallsBackToImage(t *testing.T) {
	t.Parallel()
	other := dsl.From("busybox").As("other").Run("echo never")
	res := compile(t, dsl.FromNamed("alpine:$TARGETARCH", []dsl.Stage{other}).Run("true"),
		dsl.WithPlatform(ocispecs.Platform{OS: "linux", Architecture: "amd64"}))
	ops, last := parseDef(t, res.Definition)
	src := input(t, ops, last, 0).GetSource()
	require.NotNil(t, src)
	require.Contains(t, src.Identifier, "docker.io/library/alpine:amd64@", "no candidate has the name: the image")
	for _, op := range ops {
		if e := op.GetExec(); e != nil {
			require.NotEqual(t, "echo never", e.Meta.Args[2], "an unchosen candidate is not compiled")
		}
	}
}

func TestCompileIsDeterministic(t *testing.T) {
	t.Parallel()
	build := func() dsl.Stage {
		b := dsl.From("golang").As("b").Copy(".", "/src").Run("make")
		return dsl.From("alpine").Copy("/src/out", "/out", b).Copy("README.md", "/").Cmd("x")
	}
	a, b := compile(t, build()), compile(t, build())
	require.Equal(t, a.Definition.Def, b.Definition.Def)
	require.Equal(t, a.Image, b.Image)
}

func FuzzBuilder(f *testing.F) {
	f.Add("alpine", "echo hi", "A", "$B", "/app", "redis-server")
	f.Add("scratch", "", "", "", "", "")
	f.Add("Bad Ref", "x", "=", "${", "..", "")
	f.Fuzz(func(t *testing.T, ref, run, key, value, wd, cmd string) {
		var platform dsl.FromOption
		if len(cmd)%2 == 1 {
			platform = dsl.Platform(cmd)
		}
		s := dsl.From(ref, dsl.GlobalArg(key, value), platform).Env(key, value).Workdir(wd).Run(run).RunExec([]string{run, cmd}, dsl.CacheMount(wd, dsl.ID(key), dsl.Sharing(dsl.SharingMode(value))), dsl.BindMount(value, dsl.Source(cmd)), dsl.SecretMount(key, dsl.AsEnv(value)), dsl.Network(dsl.NetworkMode(cmd))).Cmd(cmd).CmdShell(run).
			Label(key, value).Expose(value, cmd).User(value).Volume(wd).StopSignal(cmd).Shell(cmd).
			Entrypoint(run).HealthcheckShell(run).OnBuild(cmd).Arg(key, value).Run(run).
			Copy(value, wd, dsl.Chmod(key), dsl.Chown(cmd)).Add(run, value, dsl.Checksum(key), dsl.KeepGitDir(len(key) > 2)).RunScript(key, run).
			CopyInline(key, value, wd, dsl.InlineExpanded(cmd, run)).
			Copy(wd, value, dsl.From(ref).As(key).Workdir(wd), dsl.Parents(), dsl.Exclude(cmd)).
			Copy(key, wd, dsl.FromNamed(value, []dsl.Stage{dsl.From(ref).As(key)}))
		res, err := dsl.Compile(t.Context(), s, dsl.WithResolver(dsltest.NewResolver(nil)))
		if err == nil {
			require.NotNil(t, res.Image)
		}
	})
}

func TestTargetStage(t *testing.T) {
	t.Parallel()
	deps := dsl.From("golang").As("deps").Run("go mod download")
	builder := dsl.FromStage(deps).As("builder").Run("go build -o /app")
	tester := dsl.From("golang").As("tester").Copy("/app", "/app", builder).Run("go test")
	final := dsl.From("alpine").Copy("/app", "/app", builder).Run("true", dsl.BindMount("/t", tester))

	for name, want := range map[string]dsl.Stage{"builder": builder, "deps": deps, "Tester": tester} {
		got, err := dsl.TargetStage(final, name)
		require.NoError(t, err, name)
		require.Equal(t, compile(t, want).Definition.Def, compile(t, got).Definition.Def, name)
	}
	_, err := dsl.TargetStage(final, "release")
	require.ErrorContains(t, err, `target stage "release" not found (the build's stages: builder, deps, tester)`)
	_, err = dsl.TargetStage(dsl.From("alpine"), "x")
	require.ErrorContains(t, err, "no stage of the build is named with As")
}

func TestDeviceRequired(t *testing.T) {
	t.Parallel()
	caps := pb.Caps.CapSet(pb.Caps.All())
	res := compile(t, dsl.From("alpine").Run("nvidia-smi",
		dsl.Device("vendor.com/gpu=0", dsl.Required()), dsl.Device("vendor.com/gpu=1")), dsl.WithCaps(caps))
	_, last := parseDef(t, res.Definition)
	devices := last.GetExec().GetCdiDevices()
	require.Len(t, devices, 2)
	require.Equal(t, "vendor.com/gpu=0", devices[0].Name)
	require.False(t, devices[0].Optional, "a Required device")
	require.Equal(t, "vendor.com/gpu=1", devices[1].Name)
	require.True(t, devices[1].Optional, "a device is optional unless Required")
}

// The stages a compile reached are the target's dependencies, named as the
// frontend names them, each marshaling to ops the target's definition
// holds; the target itself is not among them.
func TestCompiledStages(t *testing.T) {
	t.Parallel()
	deps := dsl.From("golang").Run("go mod download")
	builder := dsl.FromStage(deps).As("builder").Run("go build -o /app")
	final := dsl.From("alpine").Copy("/app", "/app", builder)
	res := compile(t, final)
	var names []string
	have := map[string]bool{}
	for _, dt := range res.Definition.Def {
		have[digest.FromBytes(dt).String()] = true
	}
	for _, s := range res.Stages {
		names = append(names, s.Name)
		def, err := s.State.Marshal(t.Context())
		require.NoError(t, err)
		// the last op of a definition is its output, not an op of the build
		last := def.Def[len(def.Def)-2]
		require.True(t, have[digest.FromBytes(last).String()], "stage %s: its tip op is in the target's definition", s.Name)
	}
	require.Equal(t, []string{"stage-0", "builder"}, names)
	require.Empty(t, compile(t, dsl.From("alpine")).Stages, "a single stage reaches no other")
}
