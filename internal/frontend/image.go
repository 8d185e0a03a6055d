package frontend

import (
	"fmt"
	"maps"
	"slices"

	"github.com/moby/buildkit/util/system"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Empty is the config of a stage FROM scratch for platform p, as the
// frontend makes it: no layers, working dir /, and PATH set except on
// Windows.
func Empty(p ocispecs.Platform) dockerspec.DockerOCIImage {
	var img dockerspec.DockerOCIImage
	img.Architecture = p.Architecture
	img.OS = p.OS
	img.OSVersion = p.OSVersion
	img.OSFeatures = slices.Clone(p.OSFeatures)
	img.Variant = p.Variant
	img.RootFS.Type = "layers"
	img.Config.WorkingDir = "/"
	if p.OS != "windows" {
		img.Config.Env = []string{"PATH=" + system.DefaultPathEnv(p.OS)}
	}
	return img
}

// Start is what a stage sees of its base image once the frontend has set
// it up: the env to set on the state, in order, the working directory
// (slash-separated; "" when the image has none) and the user ("" when
// none).
type Start struct {
	Env  []string
	Dir  string
	User string
}

// InitFromImage sets a stage up from its base image config as the
// frontend's toDispatchState does: PATH is added to img when missing
// (except on Windows, which leaves it to the OS), and the working
// directory is normalized as a WORKDIR of it would be, against itself as
// dispatchWorkdir does (so a relative "app" becomes "/app/app"); img
// keeps the normalized one. os is the stage's platform OS. The error is
// the one the frontend fails the build with.
func InitFromImage(img *dockerspec.DockerOCIImage, os string) (Start, error) {
	if !HasEnv(img.Config.Env, "PATH") && os != "windows" {
		img.Config.Env = append(img.Config.Env, "PATH="+system.DefaultPathEnv(os))
	}
	start := Start{Env: img.Config.Env, User: img.Config.User}
	if wd := img.Config.WorkingDir; wd != "" {
		nwd, err := system.NormalizeWorkdir(wd, wd, os)
		if err != nil {
			return start, fmt.Errorf("normalizing the working directory %q of the base image: %w", wd, err)
		}
		img.Config.WorkingDir = nwd
		start.Dir = system.ToSlash(nwd, os)
	}
	return start, nil
}

// Clone is a deep copy of an image config, so that a stage changing its
// own leaves its base's alone.
func Clone(src dockerspec.DockerOCIImage) dockerspec.DockerOCIImage {
	img := src
	img.Config.Env = slices.Clone(src.Config.Env)
	img.Config.Cmd = slices.Clone(src.Config.Cmd)
	img.Config.Entrypoint = slices.Clone(src.Config.Entrypoint)
	img.Config.OnBuild = slices.Clone(src.Config.OnBuild)
	img.Config.Shell = slices.Clone(src.Config.Shell)
	img.Config.ExposedPorts = maps.Clone(src.Config.ExposedPorts)
	img.Config.Volumes = maps.Clone(src.Config.Volumes)
	img.Config.Labels = maps.Clone(src.Config.Labels)
	if src.Config.Healthcheck != nil {
		hc := *src.Config.Healthcheck
		hc.Test = slices.Clone(hc.Test)
		img.Config.Healthcheck = &hc
	}
	img.History = slices.Clone(src.History)
	img.RootFS.DiffIDs = slices.Clone(src.RootFS.DiffIDs)
	return img
}
