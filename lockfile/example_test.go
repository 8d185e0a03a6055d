package lockfile_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/buildkit/client/llb/sourceresolver"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/lockfile"
)

// registry stands in for the daemon's resolver: it answers every image with
// the same small config.
type registry struct{}

func (registry) ResolveImageConfig(_ context.Context, ref string, _ sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	return ref, digest.FromString(ref), []byte(`{"os":"linux","architecture":"amd64","config":{"Env":["PATH=/bin"]},"rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000"]}}`), nil
}

// A build compiled once with an updater fills the lock file; from then on
// the lock alone answers, offline.
func Example() {
	dir, _ := os.MkdirTemp("", "lock")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.lock.json")
	ctx := context.Background()
	build := dsl.From("alpine").Run("apk add --update redis").Cmd("redis-server")
	amd64 := dsl.WithPlatform(ocispecs.Platform{OS: "linux", Architecture: "amd64"})

	// --update-lock: resolve what is missing and save the file.
	lock := lockfile.New(path)
	if _, err := dsl.Compile(ctx, build, amd64, dsl.WithResolver(lock.Updater(registry{}, lockfile.UpdateMissing, lockfile.Save))); err != nil {
		fmt.Println(err)
		return
	}
	dt, _ := os.ReadFile(path)
	fmt.Print(string(dt))

	// --lock: answer from the file only.
	lock, err := lockfile.Load(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	offline := dsl.WithResolver(lock.Resolver([]string{"app", "--update-lock", "--lock", "app.lock.json", "llb"}))
	if _, err := dsl.Compile(ctx, build, amd64, offline); err != nil {
		fmt.Println(err)
	}
	_, err = dsl.Compile(ctx, dsl.From("busybox"), amd64, offline)
	fmt.Println(strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), ""))
	// Output:
	// {
	//   "version": 1,
	//   "images": {
	//     "docker.io/library/alpine:latest": {
	//       "linux/amd64": {
	//         "digest": "sha256:c9ef5b1f0b442255774ae31a839ff48ce1206a606a97052db8b4a13ae153fb7c",
	//         "config": {
	//           "architecture": "amd64",
	//           "config": {
	//             "Env": [
	//               "PATH=/bin"
	//             ]
	//           },
	//           "os": "linux",
	//           "rootfs": {
	//             "diff_ids": [
	//               "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	//             ],
	//             "type": "layers"
	//           }
	//         }
	//       }
	//     }
	//   }
	// }
	// lockfile/example_test.go:55: FROM: resolving busybox: image docker.io/library/busybox:latest for platform linux/amd64 is not in the lock file app.lock.json; add it with: app --update-lock --lock app.lock.json llb
}
