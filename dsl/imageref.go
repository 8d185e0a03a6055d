package dsl

import (
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/apicaps"
	digest "github.com/opencontainers/go-digest"
)

// imageRef is a normalized image reference: what reference.ParseNormalizedNamed
// returns, as plain strings.
type imageRef struct {
	domain, path, tag string
	digest            digest.Digest
}

// String is the reference in full, as reference.Named's String.
func (r imageRef) String() string {
	s := r.name()
	if r.tag != "" {
		s += ":" + r.tag
	}
	if r.digest != "" {
		s += "@" + string(r.digest)
	}
	return s
}

// name is the reference without tag or digest, as reference.Named's Name.
func (r imageRef) name() string {
	if r.domain == "" {
		return r.path
	}
	return r.domain + "/" + r.path
}

// tagNameOnly adds the tag "latest" to a reference with neither tag nor
// digest, as reference.TagNameOnly.
func (r imageRef) tagNameOnly() imageRef {
	if r.tag == "" && r.digest == "" {
		r.tag = "latest"
	}
	return r
}

// withDigest pins the reference to d, keeping its tag, as
// reference.WithDigest.
func (r imageRef) withDigest(d digest.Digest) (imageRef, error) {
	if !isSHA256(string(d)) {
		named, err := reference.WithName(r.name())
		if err != nil {
			return imageRef{}, err
		}
		if _, err := reference.WithDigest(named, d); err != nil {
			return imageRef{}, err
		}
	}
	r.digest = d
	return r, nil
}

// parseImageRef parses and normalizes an image reference exactly as
// reference.ParseNormalizedNamed does. The common forms are read by hand;
// anything else, and every error, is left to the reference package, whose
// regular expressions cost more than the rest of compiling a FROM.
func parseImageRef(s string) (imageRef, error) {
	if r, ok := parseImageRefFast(s); ok {
		return r, nil
	}
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return imageRef{}, err
	}
	r := imageRef{domain: reference.Domain(named), path: reference.Path(named)}
	if t, ok := named.(reference.Tagged); ok {
		r.tag = t.Tag()
	}
	if d, ok := named.(reference.Digested); ok {
		r.digest = d.Digest()
	}
	return r, nil
}

// parseImageRefFast reads references whose parts are plainly valid: a
// lowercase path, an optional domain of letters, digits, dots and dashes
// with an optional port, an optional tag and an optional sha256 digest.
// It reports false for anything else, valid or not.
func parseImageRefFast(s string) (imageRef, bool) {
	if len(s) == 64 && isLowerHex(s) {
		return imageRef{}, false // an image ID, which the package refuses
	}
	var r imageRef
	name, dgst, pinned := strings.Cut(s, "@")
	if pinned {
		if !isSHA256(dgst) {
			return imageRef{}, false
		}
		r.digest = digest.Digest(dgst)
	}
	first, rest, hasSlash := strings.Cut(name, "/")
	remainder := name
	r.domain = "docker.io"
	switch {
	case !hasSlash:
	case first == "localhost":
		r.domain, remainder = first, rest
	case first == "index.docker.io":
		remainder = rest
	case strings.ContainsAny(first, ".:"):
		if !isDomain(first) {
			return imageRef{}, false
		}
		r.domain, remainder = first, rest
	}
	if r.domain == "docker.io" && !strings.Contains(remainder, "/") {
		remainder = "library/" + remainder
	}
	r.path = remainder
	if i := strings.IndexByte(remainder, ':'); i >= 0 {
		r.path, r.tag = remainder[:i], remainder[i+1:]
		if !isTag(r.tag) {
			return imageRef{}, false
		}
	}
	if len(r.path) > reference.RepositoryNameTotalLengthMax || !isPath(r.path) {
		return imageRef{}, false
	}
	return r, true
}

func isSHA256(d string) bool {
	hex, ok := strings.CutPrefix(d, "sha256:")
	return ok && len(hex) == 64 && isLowerHex(hex)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func isLowerAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
}

// isPath matches the package's remote name: components of lowercase
// letters and digits, joined within a component by '.', '_', "__" or
// dashes, and by '/' between components.
func isPath(p string) bool {
	for comp := range strings.SplitSeq(p, "/") {
		if comp == "" || !isLowerAlnum(comp[0]) || !isLowerAlnum(comp[len(comp)-1]) {
			return false
		}
		for i := 1; i < len(comp); i++ {
			c := comp[i]
			if isLowerAlnum(c) {
				continue
			}
			// A separator: '.', '_', "__" or dashes, between alphanumerics.
			j := i
			switch c {
			case '.':
				j++
			case '_':
				j++
				if comp[j] == '_' {
					j++
				}
			case '-':
				for comp[j] == '-' {
					j++
				}
			default:
				return false
			}
			if !isLowerAlnum(comp[j]) {
				return false
			}
			i = j
		}
	}
	return true
}

// isTag matches the package's tag: a word character, then up to 127 word
// characters, dots and dashes.
func isTag(t string) bool {
	if t == "" || len(t) > 128 || t[0] == '.' || t[0] == '-' {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(isLowerAlnum(c) || 'A' <= c && c <= 'Z' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// isDomain matches a domain name with an optional port; IPv6 addresses
// are left to the package.
func isDomain(d string) bool {
	host, port, hasPort := strings.Cut(d, ":")
	if hasPort {
		if port == "" {
			return false
		}
		for i := 0; i < len(port); i++ {
			if port[i] < '0' || port[i] > '9' {
				return false
			}
		}
	}
	for label := range strings.SplitSeq(host, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(isLowerAlnum(c) || 'A' <= c && c <= 'Z' || c == '-') {
				return false
			}
		}
	}
	return true
}

// imageSource is llb.Image(ref.String(), opts...) with the default resolve
// mode and no resolver, for a reference already parsed: llb.Image would
// parse it again.
func imageSource(ref imageRef, opts ...llb.ImageOption) llb.State {
	var info llb.ImageInfo
	for _, opt := range opts {
		opt.SetImageOption(&info)
	}
	if info.Metadata.Caps == nil {
		info.Metadata.Caps = map[apicaps.CapID]bool{}
	}
	info.Metadata.Caps[pb.CapSourceImage] = true
	src := llb.NewSource("docker-image://"+ref.tagNameOnly().String(), map[string]string{}, info.Constraints)
	return llb.NewState(src.Output())
}
