package driver

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/plugins/content/local"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

const ociLayoutScheme = "oci-layout://"

// ociLayout is a named context that is an image in an OCI layout
// directory, given as docker buildx build --build-context takes one:
// oci-layout://PATH[:TAG][@DIGEST]. Without a digest, the image is the one
// the layout's index.json tags TAG (default latest).
type ociLayout struct {
	dir    string
	tag    string
	digest digest.Digest
}

// parseOCILayout reads an oci-layout://PATH[:TAG][@DIGEST] context and
// checks that PATH is an OCI layout holding the image.
func parseOCILayout(v string) (*ociLayout, error) {
	rest := strings.TrimPrefix(v, ociLayoutScheme)
	rest, dgst, hasDigest := strings.Cut(rest, "@")
	l := &ociLayout{dir: rest, tag: "latest"}
	// A tag follows the last path element, as in buildx.
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		l.dir, l.tag = rest[:i], rest[i+1:]
	}
	if l.dir == "" || l.tag == "" {
		return nil, fmt.Errorf("%s: want oci-layout://PATH[:TAG][@DIGEST]", v)
	}
	idx, err := readOCIIndex(l.dir)
	if err != nil {
		return nil, err
	}
	if hasDigest {
		d, err := digest.Parse(dgst)
		if err != nil {
			return nil, fmt.Errorf("%s: digest: %w", v, err)
		}
		l.digest = d
		return l, nil
	}
	var tags []string
	for _, m := range idx.Manifests {
		name := m.Annotations[ocispecs.AnnotationRefName]
		if name == l.tag {
			l.digest = m.Digest
			return l, nil
		}
		if name != "" {
			tags = append(tags, name)
		}
	}
	return nil, fmt.Errorf("%s: the OCI layout tags no image %q (it tags %q); give one by its digest, oci-layout://PATH@sha256:...", v, l.tag, tags)
}

// readOCIIndex reads the index.json of an OCI layout directory.
func readOCIIndex(dir string) (*ocispecs.Index, error) {
	dt, err := os.ReadFile(filepath.Join(dir, ocispecs.ImageIndexFile))
	if err != nil {
		return nil, fmt.Errorf("%s is not an OCI layout: %w", dir, err)
	}
	var idx ocispecs.Index
	if err := json.Unmarshal(dt, &idx); err != nil {
		return nil, fmt.Errorf("%s is not an OCI layout: %s: %w", dir, ocispecs.ImageIndexFile, err)
	}
	return &idx, nil
}

// storeID names the layout's content store in the session: the same for
// the same directory, so a build's definition does not change from one run
// to the next (buildx names it at random). It is a valid image name, as
// the frontend's oci-layout://STORE@DIGEST needs.
func (l *ociLayout) storeID() (string, error) {
	abs, err := filepath.Abs(l.dir)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(abs))
	return "oci-layout-" + hex.EncodeToString(sum[:8]), nil
}

// spec is the named context as the DSL and the frontend take it.
func (l *ociLayout) spec() (string, error) {
	id, err := l.storeID()
	if err != nil {
		return "", err
	}
	return ociLayoutScheme + id + ":" + l.tag + "@" + l.digest.String(), nil
}

// store opens the layout as a content store, for the session.
func (l *ociLayout) store() (string, content.Store, error) {
	id, err := l.storeID()
	if err != nil {
		return "", nil, err
	}
	s, err := local.NewStore(l.dir)
	if err != nil {
		return "", nil, err
	}
	return id, s, nil
}
