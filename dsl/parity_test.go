package dsl_test

import (
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/dsltest"
	"github.com/slipway-build/slipway/internal/parity"
)

// parityCase is one build written both ways.
type parityCase struct {
	name       string
	dockerfile string
	build      dsl.Stage
	platform   *ocispecs.Platform
	buildArgs  map[string]string
	// network marks a case whose compile touches the network on both sides:
	// llb.Git scans an ssh remote's host keys. Benchmarks leave it out.
	network bool
}

// baseImages are the configs the fake resolver answers with, beyond its
// default one-layer image.
func baseImages() map[string]dockerspec.DockerOCIImage {
	app := dsltest.DefaultImage()
	app.Config.Env = append(app.Config.Env, "HOME=/home/app", "LANG=C.UTF-8")
	app.Config.WorkingDir = "/srv"
	app.Config.User = "app"
	app.Config.Cmd = []string{"/bin/app"}
	empty := dsltest.DefaultImage()
	empty.RootFS.DiffIDs = nil
	onbuild := dsltest.DefaultImage()
	onbuild.Config.WorkingDir = "/app"
	onbuild.Config.OnBuild = []string{
		"COPY requirements.txt /app/",
		"RUN --mount=type=cache,target=/root/.cache pip install -r requirements.txt",
		"ENV APP_ENV=production",
		"ARG BUILD_ID=dev",
		"RUN <<EOF\necho $BUILD_ID\nEOF",
		"LABEL from=onbuild",
	}
	return map[string]dockerspec.DockerOCIImage{
		"docker.io/example/onbuild:1":  onbuild,
		"docker.io/example/app:1":      app,
		"docker.io/example/nolayers:1": empty,
	}
}

var arm64 = &ocispecs.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}

func parityCases() []parityCase {
	return []parityCase{
		{
			name: "seed",
			dockerfile: `FROM alpine
RUN apk add --update redis
CMD ["redis-server"]
`,
			build: dsl.From("alpine").Run("apk add --update redis").Cmd("redis-server"),
		},
		{
			name: "seed-debian",
			dockerfile: `FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends redis-server
CMD ["redis-server"]
`,
			build: dsl.From("debian:bookworm-slim").
				Run("apt-get update && apt-get install -y --no-install-recommends redis-server").
				Cmd("redis-server"),
		},
		{
			name: "env-workdir-expansion",
			dockerfile: `FROM busybox
ENV APP=/opt/app MODE="fast and loose"
ENV PATH=$APP/bin:$PATH
WORKDIR $APP
WORKDIR sub/dir
RUN echo "$MODE" > mode.txt
CMD echo running in ${APP:-nowhere}
`,
			build: dsl.From("busybox").
				With(func(s dsl.Stage) dsl.Stage {
					return s.Env("APP", "/opt/app", "MODE", `"fast and loose"`)
				}).
				Env("PATH", "$APP/bin:$PATH").
				Workdir("$APP").
				Workdir("sub/dir").
				Run(`echo "$MODE" > mode.txt`).
				CmdShell("echo running in ${APP:-nowhere}"),
		},
		{
			name: "inherits-base-config",
			dockerfile: `FROM example/app:1
WORKDIR data
RUN touch x
ENV HOME=/tmp
`,
			build: dsl.From("example/app:1").Workdir("data").Run("touch x").Env("HOME", "/tmp"),
		},
		{
			name: "exec-forms",
			dockerfile: `FROM busybox:1.36
RUN ["/bin/echo", "hello", "$HOME"]
CMD ["/bin/sh", "-c", "echo hi"]
`,
			build: dsl.From("busybox:1.36").RunExec([]string{"/bin/echo", "hello", "$HOME"}).Cmd("/bin/sh", "-c", "echo hi"),
		},
		{
			name: "workdir-root-and-unchanged",
			dockerfile: `FROM busybox
WORKDIR /
WORKDIR /a/../b
`,
			build: dsl.From("busybox").Workdir("/").Workdir("/a/../b"),
		},
		{
			name:     "target-platform",
			platform: arm64,
			dockerfile: `FROM debian:bookworm
RUN uname -m
CMD ["bash"]
`,
			build: dsl.From("debian:bookworm").Run("uname -m").Cmd("bash"),
		},
		{
			name: "base-without-layers",
			dockerfile: `FROM example/nolayers:1
WORKDIR /w
RUN true
`,
			build: dsl.From("example/nolayers:1").Workdir("/w").Run("true"),
		},
		{
			name: "scratch",
			dockerfile: `FROM scratch
WORKDIR /app
ENV A=b
CMD ["/app/run"]
`,
			build: dsl.From("scratch").Workdir("/app").Env("A", "b").Cmd("/app/run"),
		},
		{
			name: "many-steps-numbering",
			dockerfile: `FROM busybox
RUN echo 1
RUN echo 2
RUN echo 3
RUN echo 4
RUN echo 5
RUN echo 6
RUN echo 7
RUN echo 8
RUN echo 9
RUN echo 10
`,
			build: func() dsl.Stage {
				s := dsl.From("busybox")
				for i := 1; i <= 10; i++ {
					s = s.Run(fmt.Sprintf("echo %d", i))
				}
				return s
			}(),
		},
		{
			name: "config-instructions",
			dockerfile: `FROM busybox
ENV PORT=8080 NAME=web
LABEL org.opencontainers.image.title="$NAME server" version=1.0
LABEL "multi word"="a b"
EXPOSE $PORT 53/udp 9000-9002/tcp 127.0.0.1:81:80/SCTP
USER nobody
VOLUME /data "/var/log/$NAME"
STOPSIGNAL SIGQUIT
MAINTAINER Jane Doe <jane@example.com>
ONBUILD RUN echo triggered
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --start-interval=1s --retries=4 CMD wget -q -O- http://localhost:$PORT/ || exit 1
CMD ["httpd", "-f"]
`,
			build: dsl.From("busybox").
				Env("PORT", "8080", "NAME", "web").
				Label("org.opencontainers.image.title", `"$NAME server"`, "version", "1.0").
				Label("multi word", "a b").
				Expose("$PORT", "53/udp", "9000-9002/tcp", "127.0.0.1:81:80/SCTP").
				User("nobody").
				Volume("/data", "/var/log/$NAME").
				StopSignal("SIGQUIT").
				Maintainer("Jane Doe <jane@example.com>").
				OnBuild("RUN echo triggered").
				HealthcheckShell("wget -q -O- http://localhost:$PORT/ || exit 1",
					dsl.Interval(30*time.Second), dsl.Timeout(3*time.Second), dsl.StartPeriod(5*time.Second),
					dsl.StartInterval(time.Second), dsl.Retries(4)).
				Cmd("httpd", "-f"),
		},
		{
			name: "entrypoint-resets-inherited-cmd",
			dockerfile: `FROM example/app:1
ENTRYPOINT ["/bin/app", "serve"]
`,
			build: dsl.From("example/app:1").Entrypoint("/bin/app", "serve"),
		},
		{
			name: "cmd-then-entrypoint-keeps-cmd",
			dockerfile: `FROM example/app:1
CMD ["--port", "80"]
ENTRYPOINT /bin/app
HEALTHCHECK CMD ["/bin/app", "check"]
`,
			build: dsl.From("example/app:1").Cmd("--port", "80").EntrypointShell("/bin/app").
				Healthcheck([]string{"/bin/app", "check"}),
		},
		{
			name: "shell-and-healthcheck-none",
			dockerfile: `FROM example/app:1
SHELL ["/bin/bash", "-eo", "pipefail", "-c"]
RUN echo a | tee /a
CMD echo $HOME
ENTRYPOINT exec /bin/app
HEALTHCHECK NONE
`,
			build: dsl.From("example/app:1").Shell("/bin/bash", "-eo", "pipefail", "-c").
				Run("echo a | tee /a").CmdShell("echo $HOME").EntrypointShell("exec /bin/app").HealthcheckNone(),
		},
		{
			name: "args-defaults-values-predefined",
			dockerfile: `FROM busybox
ARG VERSION=1.0
ARG GIVEN=default
ARG NODEFAULT
ARG TARGETARCH
ARG BUILDPLATFORM
ENV DERIVED=v$VERSION
RUN echo $VERSION $GIVEN $NODEFAULT $TARGETARCH $BUILDPLATFORM $DERIVED
ARG VERSION=2.0
ARG LATE=${VERSION}-late
RUN echo $VERSION $LATE
`,
			buildArgs: map[string]string{"GIVEN": "from-cli", "UNDECLARED": "x"},
			build: dsl.From("busybox").
				Arg("VERSION", "1.0").
				Arg("GIVEN", "default").
				Arg("NODEFAULT").
				Arg("TARGETARCH").
				Arg("BUILDPLATFORM").
				Env("DERIVED", "v$VERSION").
				Run("echo $VERSION $GIVEN $NODEFAULT $TARGETARCH $BUILDPLATFORM $DERIVED").
				Arg("VERSION", "2.0").
				Arg("LATE", "${VERSION}-late").
				Run("echo $VERSION $LATE"),
		},
		{
			name:     "args-with-target-platform",
			platform: arm64,
			dockerfile: `FROM debian:bookworm
ARG TARGETPLATFORM
ARG TARGETVARIANT
ARG BUILDARCH
WORKDIR /out/$TARGETPLATFORM
RUN echo $TARGETVARIANT $BUILDARCH
`,
			build: dsl.From("debian:bookworm").Arg("TARGETPLATFORM").Arg("TARGETVARIANT").Arg("BUILDARCH").
				Workdir("/out/$TARGETPLATFORM").Run("echo $TARGETVARIANT $BUILDARCH"),
		},
		{
			name: "go-service-multi-stage",
			dockerfile: `FROM golang:1.22 AS builder
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -o /out/app ./cmd/app

FROM busybox
COPY --from=builder /out/app /usr/local/bin/app
USER 1000:1000
ENTRYPOINT ["/usr/local/bin/app"]
`,
			build: func() dsl.Stage {
				builder := dsl.From("golang:1.22").As("builder").
					Workdir("/src").
					CopyPaths([]string{"go.mod", "go.sum"}, "./").
					Run("go mod download").
					Copy(".", ".").
					Run("CGO_ENABLED=0 go build -o /out/app ./cmd/app")
				return dsl.From("busybox").
					Copy("/out/app", "/usr/local/bin/app", builder).
					User("1000:1000").
					Entrypoint("/usr/local/bin/app")
			}(),
		},
		{
			name: "context-paths-and-copy-flags",
			dockerfile: `FROM busybox AS assets
COPY --chmod=0644 static/ /srv/static/
COPY --chown=1000:1000 --chmod=u=rwx,go=rx bin/tool /usr/local/bin/
COPY --exclude=*.md --exclude=tmp docs /srv/docs
COPY --parents src/./cmd/app/main.go /build/
COPY --link config.json /etc/app/
ADD vendor.tar.gz /opt/vendor/
ENV DEST=/data
COPY --chown=nobody a*.txt $DEST/
`,
			build: dsl.From("busybox").As("assets").
				Copy("static/", "/srv/static/", dsl.Chmod("0644")).
				Copy("bin/tool", "/usr/local/bin/", dsl.Chown("1000:1000"), dsl.Chmod("u=rwx,go=rx")).
				Copy("docs", "/srv/docs", dsl.Exclude("*.md", "tmp")).
				Copy("src/./cmd/app/main.go", "/build/", dsl.Parents()).
				Copy("config.json", "/etc/app/", dsl.Link()).
				Add("vendor.tar.gz", "/opt/vendor/").
				Env("DEST", "/data").
				Copy("a*.txt", "$DEST/", dsl.Chown("nobody")),
		},
		{
			name: "stage-as-base-and-shared-stage",
			dockerfile: `FROM debian:bookworm AS base
ENV APP_HOME=/app
ARG VERSION=1
LABEL stage=base
WORKDIR $APP_HOME

FROM base AS build
ARG A B=2
RUN make VERSION=$VERSION $A $B

FROM base AS test
COPY --from=build /app/bin ./bin
RUN ./bin/test

FROM base
ARG C=3 D
COPY --from=build /app/bin /usr/bin/
COPY --from=test /app/report.txt /report.txt
CMD ["app"]
`,
			build: func() dsl.Stage {
				base := dsl.From("debian:bookworm").As("base").
					Env("APP_HOME", "/app").Arg("VERSION", "1").Label("stage", "base").
					Workdir("$APP_HOME")
				build := dsl.FromStage(base).As("build").Args(dsl.ArgOf("A"), dsl.ArgOf("B", "2")).Run("make VERSION=$VERSION $A $B")
				test := dsl.FromStage(base).As("test").Copy("/app/bin", "./bin", build).Run("./bin/test")
				return dsl.FromStage(base).
					Args(dsl.ArgOf("C", "3"), dsl.ArgOf("D")).
					Copy("/app/bin", "/usr/bin/", build).
					Copy("/app/report.txt", "/report.txt", test).
					Cmd("app")
			}(),
		},
		{
			name: "from-with-predefined-arg",
			dockerfile: `FROM busybox:$TARGETARCH
RUN true
`,
			build: dsl.From("busybox:$TARGETARCH").Run("true"),
		},
		{
			name: "python-app-with-pip-cache",
			dockerfile: `FROM python:3.12-slim
WORKDIR /app
COPY requirements.txt .
RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt
COPY . .
USER 1000
CMD ["python", "-m", "app"]
`,
			build: dsl.From("python:3.12-slim").
				Workdir("/app").
				Copy("requirements.txt", ".").
				Run("pip install -r requirements.txt", dsl.CacheMount("/root/.cache/pip")).
				Copy(".", ".").
				User("1000").
				Cmd("python", "-m", "app"),
		},
		{
			name: "run-mounts-network-security",
			dockerfile: `FROM golang:1.22 AS deps
RUN go env GOMODCACHE

FROM busybox
WORKDIR /work
ENV CACHE_ID=gocache
RUN --mount=type=cache,id=$CACHE_ID,target=/root/.cache/go-build,sharing=locked,uid=1000,gid=1000,mode=0700 \
    --mount=type=bind,from=deps,source=/go/pkg/mod,target=/go/pkg/mod \
    --mount=type=bind,source=go.mod,target=go.mod,rw \
    --mount=type=tmpfs,target=/tmp,size=64m \
    --mount=type=secret,id=npmrc,target=/root/.npmrc,required=true,mode=0440 \
    --mount=type=secret,id=token,env=API_TOKEN \
    --mount=type=secret,id=aws \
    --mount=type=ssh \
    --mount=type=ssh,id=deploy,target=/run/deploy.sock,uid=1,gid=2 \
    --network=none --security=insecure \
    go build ./...
RUN --network=host --security=sandbox --mount=type=cache,target=cache,sharing=private,ro true
`,
			build: func() dsl.Stage {
				deps := dsl.From("golang:1.22").As("deps").Run("go env GOMODCACHE")
				return dsl.From("busybox").
					Workdir("/work").
					Env("CACHE_ID", "gocache").
					Run("go build ./...",
						dsl.CacheMount("/root/.cache/go-build", dsl.ID("$CACHE_ID"), dsl.Sharing(dsl.SharingLocked), dsl.UID(1000), dsl.GID(1000), dsl.Mode(0o700)),
						dsl.BindMount("/go/pkg/mod", deps, dsl.Source("/go/pkg/mod")),
						dsl.BindMount("go.mod", dsl.Source("go.mod"), dsl.ReadOnly(false)),
						dsl.TmpfsMount("/tmp", dsl.Size(64<<20)),
						dsl.SecretMount("npmrc", dsl.Target("/root/.npmrc"), dsl.Required(), dsl.Mode(0o440)),
						dsl.SecretMount("token", dsl.AsEnv("API_TOKEN")),
						dsl.SecretMount("aws"),
						dsl.SSHMount(),
						dsl.SSHMount(dsl.ID("deploy"), dsl.Target("/run/deploy.sock"), dsl.UID(1), dsl.GID(2)),
						dsl.Network(dsl.NetworkNone), dsl.Security(dsl.SecurityInsecure)).
					Run("true", dsl.Network(dsl.NetworkHost), dsl.Security(dsl.SecuritySandbox),
						dsl.CacheMount("cache", dsl.Sharing(dsl.SharingPrivate), dsl.ReadOnly(true)))
			}(),
		},
		{
			name: "copy-from-image",
			dockerfile: `FROM busybox
COPY --from=nginx:1.27 /etc/nginx/nginx.conf /etc/nginx/
COPY --from=example/app:1 /bin/app /bin/app
`,
			build: dsl.From("busybox").
				Copy("/etc/nginx/nginx.conf", "/etc/nginx/", dsl.From("nginx:1.27")).
				Copy("/bin/app", "/bin/app", dsl.From("example/app:1")),
		},
		{
			name:      "global-args-and-cross-platform",
			platform:  arm64,
			buildArgs: map[string]string{"GO_VERSION": "1.23"},
			dockerfile: `ARG GO_VERSION=1.22
ARG BASE=busybox
ARG TAG=${GO_VERSION}-bookworm
ARG UNSET

FROM --platform=$BUILDPLATFORM golang:${TAG} AS build
ARG TARGETOS TARGETARCH
ARG GO_VERSION
ARG UNSET
RUN GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /out/app . && echo $GO_VERSION $UNSET

FROM ${BASE}:latest
COPY --from=build /out/app /app
ENTRYPOINT ["/app"]
`,
			build: func() dsl.Stage {
				globals := []dsl.FromOption{
					dsl.GlobalArg("GO_VERSION", "1.22"),
					dsl.GlobalArg("BASE", "busybox"),
					dsl.GlobalArg("TAG", "${GO_VERSION}-bookworm"),
					dsl.GlobalArg("UNSET"),
				}
				build := dsl.From("golang:${TAG}", append(globals, dsl.Platform("$BUILDPLATFORM"))...).As("build").
					Args(dsl.ArgOf("TARGETOS"), dsl.ArgOf("TARGETARCH")).Arg("GO_VERSION").Arg("UNSET").
					Run("GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /out/app . && echo $GO_VERSION $UNSET")
				return dsl.From("${BASE}:latest", globals...).
					Copy("/out/app", "/app", build).
					Entrypoint("/app")
			}(),
		},
		{
			// From Dockerfiles of other projects: a mount without a target is at
			// the working directory, and ADD's --checksum is expanded, so an
			// ARG without a value means no checksum.
			name: "mount-at-workdir-and-checksum-from-arg",
			dockerfile: `FROM busybox
ARG SUM
ARG TOOL_SUM=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d
WORKDIR /src
RUN --mount=type=bind go build .
RUN --mount=type=tmpfs ls
ADD --checksum=${SUM} https://example.com/tool.tgz /opt/
ADD --checksum=$TOOL_SUM https://example.com/bin/tool /usr/local/bin/tool
`,
			build: dsl.From("busybox").
				Arg("SUM").
				Arg("TOOL_SUM", "sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d").
				Workdir("/src").
				Run("go build .", dsl.BindMount("")).
				Run("ls", dsl.TmpfsMount("")).
				Add("https://example.com/tool.tgz", "/opt/", dsl.Checksum("${SUM}")).
				Add("https://example.com/bin/tool", "/usr/local/bin/tool", dsl.Checksum("$TOOL_SUM")),
		},
		{
			name:    "add-urls-and-git",
			network: true,
			dockerfile: `FROM busybox
ADD https://example.com/releases/tool-1.0.tar.gz /opt/
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d --chmod=0755 https://example.com/bin/tool /usr/local/bin/tool
ADD --unpack=true https://example.com/a.tgz /srv/
ADD --keep-git-dir=true https://github.com/moby/buildkit.git#v0.34.2 /src/buildkit
ADD git@github.com:moby/buildkit.git?ref=v0.34.2&subdir=docs /docs
ADD --checksum=abc123 https://github.com/example/repo.git#main /repo
`,
			build: dsl.From("busybox").
				Add("https://example.com/releases/tool-1.0.tar.gz", "/opt/").
				Add("https://example.com/bin/tool", "/usr/local/bin/tool",
					dsl.Checksum("sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d"), dsl.Chmod("0755")).
				Add("https://example.com/a.tgz", "/srv/", dsl.Unpack(true)).
				Add("https://github.com/moby/buildkit.git#v0.34.2", "/src/buildkit", dsl.KeepGitDir(true)).
				Add("git@github.com:moby/buildkit.git?ref=v0.34.2&subdir=docs", "/docs").
				Add("https://github.com/example/repo.git#main", "/repo", dsl.Checksum("abc123")),
		},
		{
			name: "heredocs",
			dockerfile: "FROM busybox\n" +
				"RUN <<EOF\necho hello\necho world\nEOF\n" +
				"RUN <<'SCRIPT'\n#!/bin/sh\necho \"from a script $HOME\"\nSCRIPT\n" +
				"RUN python3 <<EOF\nprint(1)\nEOF\n" +
				"COPY <<EOF /etc/app.conf\nport=$PORT\nEOF\n" +
				"ENV PORT=80\n" +
				"COPY <<'CONF' <<-NOTE /etc/\nliteral $PORT\nCONF\n\ttabbed $PORT\n\tNOTE\n" +
				"COPY --chmod=0600 static.txt <<EOF /srv/\n${PORT}\nEOF\n",
			build: dsl.From("busybox").
				RunScript("EOF", "echo hello\necho world\n").
				RunScript("SCRIPT", "#!/bin/sh\necho \"from a script $HOME\"\n").
				Run("python3 <<EOF\nprint(1)\nEOF").
				CopyPaths(nil, "/etc/app.conf", dsl.InlineExpanded("EOF", "port=$PORT\n")).
				Env("PORT", "80").
				CopyPaths(nil, "/etc/", dsl.Inline("CONF", "literal $PORT\n"), dsl.InlineExpanded("NOTE", "tabbed $PORT\n")).
				CopyPaths([]string{"static.txt"}, "/srv/", dsl.InlineExpanded("EOF", "${PORT}\n"), dsl.Chmod("0600")),
		},
		{
			name:      "source-date-epoch",
			buildArgs: map[string]string{"SOURCE_DATE_EPOCH": "1700000000"},
			dockerfile: `FROM busybox
ARG SOURCE_DATE_EPOCH
WORKDIR /app
RUN echo $SOURCE_DATE_EPOCH > /stamp
CMD ["cat", "/stamp"]
`,
			build: dsl.From("busybox").Arg("SOURCE_DATE_EPOCH").Workdir("/app").Run("echo $SOURCE_DATE_EPOCH > /stamp").Cmd("cat", "/stamp"),
		},
		{
			// The frontend reads SOURCE_DATE_EPOCH from a global ARG too:
			// what a decompiled definition with file times says.
			name: "source-date-epoch-global-arg",
			dockerfile: `ARG SOURCE_DATE_EPOCH=1700000000
FROM busybox
WORKDIR /app
RUN echo hi
`,
			build: dsl.From("busybox", dsl.GlobalArg("SOURCE_DATE_EPOCH", "1700000000")).Workdir("/app").Run("echo hi"),
		},
		{
			// SOURCE_DATE_EPOCH=context is the main context's time; a
			// directory has none, so the build has no SOURCE_DATE_EPOCH at
			// all, not even for a stage that declares it.
			name:      "source-date-epoch-context",
			buildArgs: map[string]string{"SOURCE_DATE_EPOCH": "context"},
			dockerfile: `FROM busybox
ARG SOURCE_DATE_EPOCH
RUN echo "[$SOURCE_DATE_EPOCH]" > /stamp
`,
			build: dsl.From("busybox").Arg("SOURCE_DATE_EPOCH").Run(`echo "[$SOURCE_DATE_EPOCH]" > /stamp`),
		},
		{
			name: "source-date-epoch-context-global-arg",
			dockerfile: `ARG SOURCE_DATE_EPOCH=context
FROM busybox
ARG SOURCE_DATE_EPOCH
RUN echo "[$SOURCE_DATE_EPOCH]" > /stamp
`,
			build: dsl.From("busybox", dsl.GlobalArg("SOURCE_DATE_EPOCH", "context")).Arg("SOURCE_DATE_EPOCH").Run(`echo "[$SOURCE_DATE_EPOCH]" > /stamp`),
		},
		{
			// The frontend writes the time back in seconds.
			name:      "source-date-epoch-leading-zero",
			buildArgs: map[string]string{"SOURCE_DATE_EPOCH": "01700000000"},
			dockerfile: `ARG SOURCE_DATE_EPOCH=01700000000
FROM busybox
ARG SOURCE_DATE_EPOCH
RUN echo "[$SOURCE_DATE_EPOCH]" > /stamp
`,
			build: dsl.From("busybox", dsl.GlobalArg("SOURCE_DATE_EPOCH", "01700000000")).Arg("SOURCE_DATE_EPOCH").Run(`echo "[$SOURCE_DATE_EPOCH]" > /stamp`),
		},
		{
			name: "nginx-with-heredocs",
			dockerfile: "FROM nginx:1.27-alpine\n" +
				"ARG SERVER_NAME=example.com\n" +
				"COPY <<EOF /etc/nginx/conf.d/default.conf\n" +
				"server {\n    listen 80;\n    server_name ${SERVER_NAME};\n    location / {\n        root /usr/share/nginx/html;\n    }\n}\nEOF\n" +
				"COPY <<'HTML' /usr/share/nginx/html/index.html\n<h1>Hello from $SERVER_NAME</h1>\nHTML\n" +
				"RUN <<EOF\nset -e\nnginx -t\nrm -f /etc/nginx/conf.d/*.bak\nEOF\n" +
				"EXPOSE 80\n" +
				"HEALTHCHECK --interval=10s CMD wget -qO- http://localhost/ || exit 1\n" +
				"STOPSIGNAL SIGQUIT\n" +
				"CMD [\"nginx\", \"-g\", \"daemon off;\"]\n",
			build: dsl.From("nginx:1.27-alpine").
				Arg("SERVER_NAME", "example.com").
				CopyPaths(nil, "/etc/nginx/conf.d/default.conf", dsl.InlineExpanded("EOF",
					"server {\n    listen 80;\n    server_name ${SERVER_NAME};\n    location / {\n        root /usr/share/nginx/html;\n    }\n}\n")).
				CopyInline("HTML", "<h1>Hello from $SERVER_NAME</h1>\n", "/usr/share/nginx/html/index.html").
				RunScript("EOF", "set -e\nnginx -t\nrm -f /etc/nginx/conf.d/*.bak\n").
				Expose("80").
				HealthcheckShell("wget -qO- http://localhost/ || exit 1", dsl.Interval(10*time.Second)).
				StopSignal("SIGQUIT").
				Cmd("nginx", "-g", "daemon off;"),
		},
		{
			name: "mount-type-from-arg",
			dockerfile: `FROM busybox
ARG MNT_TYPE=cache
ENV MNT_ID=mycache
RUN --mount=type=$MNT_TYPE,id=$MNT_ID,target=/mycache2 --mount=type=bind,source=go.mod,target=/src/go.mod touch /mycache2/foo
`,
			build: dsl.From("busybox").Arg("MNT_TYPE", "cache").Env("MNT_ID", "mycache").
				Run("touch /mycache2/foo", dsl.MountFlag("type=$MNT_TYPE,id=$MNT_ID,target=/mycache2"), dsl.BindMount("/src/go.mod", dsl.Source("go.mod"))),
		},
		{
			name: "from-stage-named-by-arg",
			dockerfile: `ARG FLAVOUR=plain
FROM scratch AS base-linux
COPY foo forlinux

FROM scratch AS base-darwin
COPY bar fordarwin

FROM busybox AS base-plain
RUN echo plain

FROM base-${FLAVOUR} AS flavoured
RUN echo flavoured

FROM base-$TARGETOS
COPY --from=flavoured /etc/hostname /h
`,
			build: func() dsl.Stage {
				globals := []dsl.FromOption{dsl.GlobalArg("FLAVOUR", "plain")}
				linux := dsl.From("scratch", globals...).As("base-linux").Copy("foo", "forlinux")
				darwin := dsl.From("scratch", globals...).As("base-darwin").Copy("bar", "fordarwin")
				plain := dsl.From("busybox", globals...).As("base-plain").Run("echo plain")
				bases := []dsl.Stage{linux, darwin, plain}
				flavoured := dsl.FromNamed("base-${FLAVOUR}", bases, globals...).As("flavoured").Run("echo flavoured")
				return dsl.FromNamed("base-$TARGETOS", bases, globals...).Copy("/etc/hostname", "/h", flavoured)
			}(),
		},
		{
			name:      "proxy-args",
			buildArgs: map[string]string{"HTTP_PROXY": "http://proxy:3128", "no_proxy": "localhost", "ALL_PROXY": "socks5://p:1080", "https_proxy": "http://p:3129", "FTP_PROXY": "ftp://p"},
			dockerfile: `FROM debian:bookworm
RUN apt-get update
`,
			build: dsl.From("debian:bookworm").Run("apt-get update"),
		},
		{
			// USER of an ARG without a value is USER of nothing: the frontend
			// takes it (laravel's and dotnet-docker's Dockerfiles have one).
			name: "user-of-an-empty-arg",
			dockerfile: `FROM alpine
ARG user
USER $user
RUN id
USER nobody
RUN id
USER ${user}
RUN id
`,
			build: dsl.From("alpine").Arg("user").User("$user").Run("id").
				User("nobody").Run("id").User("${user}").Run("id"),
		},
		{
			// WORKDIR of a variable without a value is the working
			// directory, made again (palworld-server's WORKDIR ${HOMEDIR}).
			name: "workdir-of-an-empty-variable",
			dockerfile: `FROM alpine
WORKDIR ${HOMEDIR}
WORKDIR /srv
ARG sub
WORKDIR $sub
RUN pwd
`,
			build: dsl.From("alpine").Workdir("${HOMEDIR}").Workdir("/srv").Arg("sub").Workdir("$sub").Run("pwd"),
		},
		{
			// The frontend takes what an ENV or LABEL name expands to as
			// it is: nothing, or words with a space; a port that expands
			// to nothing is no port.
			name: "names-that-expand-to-nothing-or-spaces",
			dockerfile: `FROM alpine
ARG X
ARG SPACED="a b"
ENV $X=1 A=2
ENV $SPACED=3
LABEL $X=4
EXPOSE $PORT 80
`,
			build: dsl.From("alpine").Arg("X").Arg("SPACED", `"a b"`).
				Env("$X", "1", "A", "2").Env("$SPACED", "3").Label("$X", "4").Expose("$PORT", "80"),
		},
		{
			name: "onbuild-triggers-of-an-image",
			dockerfile: `FROM example/onbuild:1
RUN ls
CMD ["python", "app.py"]
`,
			build: dsl.From("example/onbuild:1").Run("ls").Cmd("python", "app.py"),
		},
		{
			name: "onbuild-triggers-of-a-stage",
			dockerfile: `FROM busybox AS base
ONBUILD COPY . /src
ONBUILD RUN make -C /src
WORKDIR /src

FROM base AS child
RUN echo child

FROM child
RUN echo grandchild
`,
			build: func() dsl.Stage {
				base := dsl.From("busybox").As("base").OnBuild("COPY . /src").OnBuild("RUN make -C /src").Workdir("/src")
				child := dsl.FromStage(base).As("child").Run("echo child")
				return dsl.FromStage(child).Run("echo grandchild")
			}(),
		},
		// A stage only a trigger names is built when the trigger runs,
		// from above or below, by name, or by index for COPY --from (a
		// mount's from=0 is an image, as outside triggers) (issue 15,
		// kind 1; the shape of BuildKit's testOnBuildInheritedStageWithFrom).
		{
			name: "onbuild-trigger-names-a-stage",
			dockerfile: `FROM alpine AS src
RUN echo -n 12 > /file

FROM busybox AS base
ONBUILD COPY --from=0 /file /out/foo
ONBUILD RUN --mount=type=bind,from=src,target=/in cp /in/file /bar

FROM base AS mid
RUN cp /out/foo /out/bar

FROM scratch
COPY --from=mid /out/bar /
`,
			build: func() dsl.Stage {
				src := dsl.From("alpine").As("src").Run("echo -n 12 > /file")
				base := dsl.From("busybox").As("base").
					OnBuild("COPY --from=0 /file /out/foo", dsl.TriggerFrom("0", src)).
					OnBuild("RUN --mount=type=bind,from=src,target=/in cp /in/file /bar", dsl.TriggerFrom("src", src))
				mid := dsl.FromStage(base).As("mid").Run("cp /out/foo /out/bar")
				return dsl.From("scratch").Copy("/out/bar", "/", mid)
			}(),
		},
		{
			name: "onbuild-trigger-names-a-later-stage",
			dockerfile: `FROM busybox AS base
ONBUILD COPY --from=src /file /foo

FROM alpine AS src
RUN echo -n 12 > /file

FROM base
RUN cat /foo
`,
			build: func() dsl.Stage {
				src := dsl.From("alpine").As("src").Run("echo -n 12 > /file")
				base := dsl.From("busybox").As("base").OnBuild("COPY --from=src /file /foo", dsl.TriggerFrom("src", src))
				return dsl.FromStage(base).Run("cat /foo")
			}(),
		},
		// ADD lists every source but an http(s) URL among the context
		// paths it reads, a git address too (issue 15, kind 3).
		{
			name:    "add-git-addresses-beside-the-context",
			network: true,
			dockerfile: `FROM busybox
COPY a /a
ADD git@github.com:org/repo.git#main:dir /scp
ADD ssh://git@github.com/org/repo.git#v1.0 /ssh
ADD git://github.com/org/repo.git#main /git
ADD https://github.com/org/repo.git?tag=v1.0&subdir=dir /https
`,
			build: dsl.From("busybox").
				Copy("a", "/a").
				Add("git@github.com:org/repo.git#main:dir", "/scp").
				Add("ssh://git@github.com/org/repo.git#v1.0", "/ssh").
				Add("git://github.com/org/repo.git#main", "/git").
				Add("https://github.com/org/repo.git?tag=v1.0&subdir=dir", "/https"),
		},
		// A query's keep-git-dir or checksum holds for the git sources
		// after it in the ADD too, as the frontend's dispatchCopy keeps
		// it (issue 15, kind 3).
		{
			name:    "add-git-query-holds-for-later-sources",
			network: true,
			dockerfile: `FROM busybox
ADD https://github.com/org/a.git?keep-git-dir=true git@github.com:org/b.git /keep/
ADD https://github.com/org/a.git?checksum=0123456789abcdef0123456789abcdef01234567 git@github.com:org/b.git /sum/
ADD a git://github.com/org/c.git#main https://example.com/d.txt /mixed/
`,
			build: dsl.From("busybox").
				AddPaths([]string{"https://github.com/org/a.git?keep-git-dir=true", "git@github.com:org/b.git"}, "/keep/").
				AddPaths([]string{"https://github.com/org/a.git?checksum=0123456789abcdef0123456789abcdef01234567", "git@github.com:org/b.git"}, "/sum/").
				AddPaths([]string{"a", "git://github.com/org/c.git#main", "https://example.com/d.txt"}, "/mixed/"),
		},
		// Mount options written as their default (issue 15, kind 2).
		{
			name: "ssh-mount-options-as-their-default",
			dockerfile: `FROM busybox
RUN --mount=type=ssh,id=default true
RUN --mount=type=ssh,id=a,target=/run/buildkit/ssh_agent.1 --mount=type=ssh,id=b,target=/run/buildkit/ssh_agent.0 true
`,
			build: dsl.From("busybox").
				Run("true", dsl.SSHMount(dsl.ID("default"))).
				Run("true", dsl.SSHMount(dsl.ID("a"), dsl.Target("/run/buildkit/ssh_agent.1")), dsl.SSHMount(dsl.ID("b"), dsl.Target("/run/buildkit/ssh_agent.0"))),
		},
		// ENTRYPOINT clears the CMD of the stage it is FROM, not its own
		// (issue 15, kind 4), and a trigger may hold a heredoc (kind 5).
		{
			name: "entrypoint-clears-an-inherited-cmd",
			dockerfile: `FROM busybox AS base
CMD ["base-cmd"]

FROM base AS mid
CMD ["mid-cmd"]
ENTRYPOINT ["mid-ep"]

FROM mid
ENTRYPOINT ["final-ep"]
ONBUILD RUN <<EOF
echo hello
EOF
`,
			build: func() dsl.Stage {
				base := dsl.From("busybox").As("base").Cmd("base-cmd")
				mid := dsl.FromStage(base).As("mid").Cmd("mid-cmd").Entrypoint("mid-ep")
				return dsl.FromStage(mid).Entrypoint("final-ep").OnBuild("RUN <<EOF\necho hello\nEOF")
			}(),
		},
	}
}

// knownDifferences lists parity cases expected to differ, with the reason.
// It is empty: every case above matches the frontend.
var knownDifferences = map[string]string{}

// noCapsCompared is the least number of cases the mode without capabilities
// compares: all but those the frontend cannot compile without them. A change
// that quietly skips more fails.
const noCapsCompared = 40

func TestParity(t *testing.T) {
	ctx := t.Context()
	cases := parityCases()
	for _, mode := range []struct {
		name string
		caps bool
	}{{"daemon caps", true}, {"no caps", false}} {
		passed, compared := 0, 0
		for _, tc := range cases {
			o := parity.Options{Resolver: dsltest.NewResolver(baseImages()), Platform: tc.platform, BuildArgs: tc.buildArgs}
			if mode.caps {
				o.Caps = parity.AllCaps()
			}
			want, err := parity.Dockerfile(ctx, []byte(tc.dockerfile), o)
			if !mode.caps && err != nil {
				// Without capabilities the frontend cannot compile some
				// builds at all (it panics on a read-write bind mount);
				// a real daemon always sends them.
				t.Logf("%s: %s: frontend: %v", mode.name, tc.name, err)
				continue
			}
			compared++
			ok := t.Run(mode.name+"/"+tc.name, func(t *testing.T) {
				require.NoError(t, err)
				got, err := parity.DSL(ctx, tc.build, o)
				require.NoError(t, err)
				if reason, known := knownDifferences[tc.name]; known {
					t.Logf("known difference: %s", reason)
					return
				}
				require.Empty(t, parity.Diff(want, got))
				require.NotEmpty(t, want.Ops, "a case must produce ops")
			})
			if ok {
				passed++
			}
		}
		t.Logf("parity (%s): %d/%d", mode.name, passed, compared)
		if !mode.caps {
			require.GreaterOrEqual(t, compared, noCapsCompared, "cases compared without capabilities")
		}
	}
}

// TestDefinitionIsLLBs checks that Compile's definition is the one llb's
// State.Marshal makes of the result's state, metadata and all, but for the
// image config Compile adds: Compile marshals by its own walk of the ops.
func TestDefinitionIsLLBs(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	// Source locations, which only FromLLB can bring, are left to llb.
	sm := llb.NewSourceMap(nil, "build.txt", "", []byte("line one"))
	located := llb.Image("docker.io/library/alpine:latest", sm.Location([]*pb.Range{{Start: &pb.Position{Line: 1}, End: &pb.Position{Line: 1}}}))
	cases := append(parityCases(), parityCase{name: "source-locations", build: dsl.FromLLB(located).Run("echo hi")})
	for _, tc := range cases {
		for _, caps := range []bool{true, false} {
			opts := []dsl.CompileOption{dsl.WithResolver(dsltest.NewResolver(baseImages())), dsl.WithBuildArgs(tc.buildArgs)}
			if tc.platform != nil {
				opts = append(opts, dsl.WithPlatform(*tc.platform))
			}
			if caps {
				opts = append(opts, dsl.WithCaps(*parity.AllCaps()))
			}
			res, err := dsl.Compile(ctx, tc.build, opts...)
			require.NoError(t, err, tc.name)
			want, err := res.State.Marshal(ctx, llb.LocalUniqueID(dsl.DefaultContextID))
			require.NoError(t, err, tc.name)
			got := *res.Definition
			got.Metadata = maps.Clone(got.Metadata)
			last := digest.FromBytes(got.Def[len(got.Def)-1])
			md := got.Metadata[last]
			require.Contains(t, md.Description, dsl.ImageConfigKey, tc.name)
			md.Description = maps.Clone(md.Description)
			delete(md.Description, dsl.ImageConfigKey)
			if len(md.Description) == 0 {
				md.Description = nil
			}
			got.Metadata[last] = md
			require.Equal(t, want, &got, "%s (caps %v)", tc.name, caps)
		}
	}
}
