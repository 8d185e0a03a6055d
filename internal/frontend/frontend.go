// Package frontend holds the rules of BuildKit's Dockerfile frontend
// (dockerfile2llb) that more than one package of slipway follows: the DSL
// compiler, which must produce what the frontend produces, and the
// decompiler, which must read it back. Each rule lives here once, next to
// the frontend code it restates, so the two cannot drift apart.
package frontend

import (
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/apicaps"
)

// ImageConfigKey is the description key, on the metadata of a definition's
// last op, under which slipway stores the JSON image config, so that an LLB
// file alone is a complete image recipe; metadata changes no op digest.
const ImageConfigKey = "containerimage.config"

// HistoryComment is the comment of the image history entries the frontend
// writes (dockerfile2llb's historyComment).
const HistoryComment = "buildkit.dockerfile.v0"

// allCaps is built once: the set is large and never changes.
var allCaps = sync.OnceValue(func() apicaps.CapSet { return pb.Caps.CapSet(pb.Caps.All()) })

// AllCaps are the capabilities of a daemon of the BuildKit version in
// go.mod: what a build compiles for when there is no daemon to ask. The set
// is shared; callers must not change it.
func AllCaps() apicaps.CapSet { return allCaps() }

// AddEnv sets k=v in an image config's env as the frontend's addEnv does:
// in place of the first entry whose key equals k (as shell.EqualEnvKeys
// compares them: case-insensitively on Windows), else at the end. It may
// change env in place.
func AddEnv(env []string, k, v string) []string {
	for i, kv := range env {
		key, _, _ := strings.Cut(kv, "=")
		if shell.EqualEnvKeys(key, k) {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// HasEnv reports a variable in an image config's env, its key matched as
// the frontend's shell.EnvsFromSlice(env).Get matches it.
func HasEnv(env []string, key string) bool {
	key = shell.NormalizeEnvKey(key)
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if shell.NormalizeEnvKey(k) == key {
			return true
		}
	}
	return false
}

// Shell is the shell a shell-form RUN, CMD or ENTRYPOINT runs in, as the
// frontend's withShell picks it: the image's SHELL, else the default of
// the image's OS. The slice is the caller's.
func Shell(shellConfig []string, os string) []string {
	if len(shellConfig) > 0 {
		return slices.Clone(shellConfig)
	}
	if os == "windows" {
		return []string{"cmd", "/S", "/C"}
	}
	return []string{"/bin/sh", "-c"}
}

// HTTPFilename is the name ADD gives the file it fetches from src: the
// last element of the URL's path, else "__unnamed__", as the frontend's
// dispatchCopy names it.
func HTTPFilename(src string) string {
	if u, err := url.Parse(src); err == nil {
		if base := path.Base(u.Path); base != "." && base != "/" {
			return base
		}
	}
	return "__unnamed__"
}
