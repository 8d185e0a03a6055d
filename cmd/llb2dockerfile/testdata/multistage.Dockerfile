# Decompiled from LLB by llb2dockerfile.

FROM golang:1.22@sha256:518c06b2786accd5eef81d8e9ea2e687aff2c65aa5ec41e3c0fde638a74ba0d2 AS stage-0
WORKDIR /src
COPY go.mod go.sum /src/
RUN --mount=type=cache,target=/root/.cache/go-build go mod download
COPY . /src/
RUN CGO_ENABLED=0 go build -o /out/app ./cmd/app

FROM busybox:latest@sha256:ed24aed57c226470bb7da78aed9a0c6c489781be301e194465e1f346ff95e23c
COPY --from=stage-0 /out/app /usr/local/bin/app
USER 1000:1000
EXPOSE 8080/tcp
ENTRYPOINT ["/usr/local/bin/app"]
