package decompile

import (
	"fmt"
	"strconv"
	"time"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	"github.com/slipway-build/slipway/internal/frontend"
)

// What a build gets from outside its Dockerfile and still leaves in its
// definition: the time SOURCE_DATE_EPOCH sets on the files and history it
// makes, which a global ARG of the decompiled Dockerfile sets again, and
// the proxy settings every RUN gets from the HTTP_PROXY family of build
// args, which no Dockerfile can hold.

// epoch finds SOURCE_DATE_EPOCH: the time of the directories WORKDIR made,
// else of the image history's entries.
func (d *decompiler) epoch() (*time.Time, error) {
	var found *time.Time
	see := func(t time.Time) error {
		if found != nil && !found.Equal(t) {
			return fmt.Errorf("file times %s and %s: a build has one SOURCE_DATE_EPOCH", found.UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339))
		}
		found = &t
		return nil
	}
	for _, dg := range d.g.order {
		f := d.g.ops[dg].GetFile()
		if f == nil {
			continue
		}
		for _, a := range f.Actions {
			if mk := a.GetMkdir(); mk != nil && mk.Timestamp != -1 {
				if err := see(time.Unix(0, mk.Timestamp).UTC()); err != nil {
					return nil, opError(dg, "%v", err)
				}
			}
		}
	}
	if found == nil && d.img != nil {
		for _, h := range d.img.History {
			if h.Created != nil && h.Comment == frontend.HistoryComment {
				if err := see(h.Created.UTC()); err != nil {
					return nil, &Error{Msg: "image history: " + err.Error()}
				}
			}
		}
	}
	if found != nil && found.Nanosecond() != 0 {
		return nil, &Error{Msg: fmt.Sprintf("file time %s is not a whole second, which SOURCE_DATE_EPOCH cannot say", found.Format(time.RFC3339Nano))}
	}
	return found, nil
}

// proxyEnv is the proxy setting every RUN shares, or nil.
func (d *decompiler) proxyEnv() (*pb.ProxyEnv, error) {
	var found *pb.ProxyEnv
	first := true
	for _, dg := range d.g.order {
		e := d.g.ops[dg].GetExec()
		if e == nil || e.Meta == nil {
			continue
		}
		p := e.Meta.ProxyEnv
		if first {
			found, first = p, false
			continue
		}
		if (p == nil) != (found == nil) || (p != nil && !p.EqualVT(found)) {
			return nil, opError(dg, "exec op has other proxy settings than the others; build args give every RUN the same")
		}
	}
	return found, nil
}

// proxyArgs are the build args that give proxy settings.
func proxyArgs(p *pb.ProxyEnv) map[string]string {
	if p == nil {
		return nil
	}
	args := map[string]string{}
	for k, v := range map[string]string{"HTTP_PROXY": p.HttpProxy, "HTTPS_PROXY": p.HttpsProxy, "FTP_PROXY": p.FtpProxy, "NO_PROXY": p.NoProxy, "ALL_PROXY": p.AllProxy} {
		if v != "" {
			args[k] = v
		}
	}
	return args
}

// BuildArgs are the build args a definition was compiled with that its
// Dockerfile cannot hold (the proxy settings), and that building the
// decompiled Dockerfile needs to give the same definition.
func BuildArgs(def *llb.Definition) (map[string]string, error) {
	g, err := load(def)
	if err != nil {
		return nil, &Error{Msg: err.Error()}
	}
	p, err := (&decompiler{g: g}).proxyEnv()
	if err != nil {
		return nil, err
	}
	return proxyArgs(p), nil
}

func epochArg(t time.Time) string {
	return "SOURCE_DATE_EPOCH=" + strconv.FormatInt(t.Unix(), 10)
}
