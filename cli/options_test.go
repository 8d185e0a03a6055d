package cli

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/driver"
)

func TestParseCache(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		flag, spec string
		want       driver.CacheEntry
		err        string
	}{
		{flag: "--export-cache", spec: "type=registry,ref=reg:5000/cache:main",
			want: driver.CacheEntry{Type: "registry", Attrs: map[string]string{"ref": "reg:5000/cache:main", "mode": "min"}}},
		{flag: "--export-cache", spec: "type=registry,ref=reg/c,mode=max,oci-mediatypes=true,image-manifest=true",
			want: driver.CacheEntry{Type: "registry", Attrs: map[string]string{"ref": "reg/c", "mode": "max", "oci-mediatypes": "true", "image-manifest": "true"}}},
		{flag: "--export-cache", spec: "type=local,Dest=/tmp/cache",
			want: driver.CacheEntry{Type: "local", Attrs: map[string]string{"dest": "/tmp/cache", "mode": "min"}}},
		{flag: "--export-cache", spec: "type=inline",
			want: driver.CacheEntry{Type: "inline", Attrs: map[string]string{"mode": "min"}}},
		{flag: "--export-cache", spec: "reg/cache:legacy",
			want: driver.CacheEntry{Type: "registry", Attrs: map[string]string{"ref": "reg/cache:legacy", "mode": "min"}}},
		{flag: "--export-cache", spec: `type=s3,"region=eu",bucket=b`,
			want: driver.CacheEntry{Type: "s3", Attrs: map[string]string{"region": "eu", "bucket": "b", "mode": "min"}}},
		{flag: "--import-cache", spec: "type=registry,ref=reg/c",
			want: driver.CacheEntry{Type: "registry", Attrs: map[string]string{"ref": "reg/c"}}},
		{flag: "--import-cache", spec: "type=local,src=/tmp/cache,tag=v1",
			want: driver.CacheEntry{Type: "local", Attrs: map[string]string{"src": "/tmp/cache", "tag": "v1"}}},
		{flag: "--import-cache", spec: "reg/cache:legacy",
			want: driver.CacheEntry{Type: "registry", Attrs: map[string]string{"ref": "reg/cache:legacy"}}},

		{flag: "--export-cache", spec: "", err: "--export-cache is empty: type=<type> is required"},
		{flag: "--import-cache", spec: " ", err: "--import-cache is empty: type=<type> is required"},
		{flag: "--export-cache", spec: "ref=x,type=", err: `--export-cache "ref=x,type=": requires type=<type>`},
		{flag: "--export-cache", spec: "ref=reg/c", err: `--export-cache "ref=reg/c": type=<type> is required`},
		{flag: "--import-cache", spec: "Type=local,src=/x", err: `--import-cache "Type=local,src=/x": type=<type> is required`},
		{flag: "--export-cache", spec: "type=registry", err: `--export-cache "type=registry": ref=REF is required for the registry cache`},
		{flag: "--import-cache", spec: "type=registry,mode=max", err: `--import-cache "type=registry,mode=max": ref=REF is required for the registry cache`},
		{flag: "--export-cache", spec: "type=local,src=/x", err: `--export-cache "type=local,src=/x": dest=DIR is required for the local cache`},
		{flag: "--import-cache", spec: "type=local,dest=/x", err: `--import-cache "type=local,dest=/x": src=DIR is required for the local cache`},
		{flag: "--export-cache", spec: "type=registry,ref", err: `--export-cache "type=registry,ref": invalid value ref`},
		{flag: "--export-cache", spec: "type=registry,ref=r,mode=all", err: `--export-cache "type=registry,ref=r,mode=all": mode=all: want min or max`},
		{flag: "--import-cache", spec: `type=registry,"ref=r`, err: `--import-cache "type=registry,\"ref=r": `},
	} {
		t.Run(tc.flag+" "+tc.spec, func(t *testing.T) {
			parse := parseCacheExport
			if tc.flag == "--import-cache" {
				parse = parseCacheImport
			}
			got, err := parse(tc.spec)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParseSecrets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(file, []byte("s3cr3t"), 0o600))
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		specs []string
		err   string
	}{
		{specs: []string{"id=token,src=" + file}},
		{specs: []string{"id=token,source=" + file, "id=api,env=API_TOKEN"}},
		{specs: []string{"type=env,id=HOME"}},
		{specs: []string{"type=file,id=t," + "src=" + file}},

		{specs: []string{""}, err: "--secret is empty: want id=ID,src=FILE or id=ID,env=VAR"},
		{specs: []string{"id=t,src=" + missing}, err: `--secret "id=t,src=` + missing + `": failed to stat ` + missing},
		{specs: []string{"src=" + file}, err: `--secret "src=` + file + `": secret missing ID`},
		{specs: []string{"id=t,from=" + file}, err: `unexpected key 'from' in 'from=`},
		{specs: []string{"id=t,type=ssh"}, err: `--secret "id=t,type=ssh": unsupported secret type "ssh"`},
		{specs: []string{"token"}, err: `--secret "token": invalid field 'token' must be a key=value pair`},
		{specs: []string{`id="t`}, err: `--secret "id=\"t": failed to parse csv secret`},
	} {
		t.Run(tc.err, func(t *testing.T) {
			a, err := parseSecrets(tc.specs)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.NotNil(t, a)
		})
	}
}

func TestParseSSH(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "agent.sock")
	l, err := net.Listen("unix", sock)
	require.NoError(t, err)
	defer l.Close()

	t.Setenv("SSH_AUTH_SOCK", sock)
	for _, specs := range [][]string{{"default"}, {"default=" + sock}, {"github=" + sock, "default"}, {"raw=" + sock + ",raw=true"}} {
		a, err := parseSSH(specs)
		require.NoError(t, err, "%q", specs)
		require.NotNil(t, a)
	}
	for _, tc := range []struct {
		specs []string
		err   string
	}{
		{[]string{""}, "--ssh is empty: want default or ID=SOCKET|KEY"},
		{[]string{"git=" + filepath.Join(dir, "missing")}, `--ssh "git=` + filepath.Join(dir, "missing") + `": `},
		{[]string{"a=" + sock + ",raw=maybe"}, `--ssh "a=` + sock + `,raw=maybe": invalid value for 'raw': maybe`},
		{[]string{"a=" + sock + "," + sock + ",raw=true"}, `raw mode must supply exactly one socket path for "a"`},
		{[]string{"default", "default=" + sock}, `--ssh: duplicate agent ID "default"`},
	} {
		_, err := parseSSH(tc.specs)
		require.ErrorContains(t, err, tc.err, "%q", tc.specs)
		require.NotContains(t, err.Error(), "{", "no Go struct in the message")
	}
	t.Setenv("SSH_AUTH_SOCK", "")
	_, err = parseSSH([]string{"default"})
	require.ErrorContains(t, err, `--ssh "default": `)
	require.ErrorContains(t, err, "SSH_AUTH_SOCK")
}

func TestParseAllow(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"network.host", "security.insecure"} {
		got, err := parseAllow(ok)
		require.NoError(t, err)
		require.Equal(t, ok, got)
	}
	for _, bad := range []string{"", "network.none", "security", "insecure"} {
		_, err := parseAllow(bad)
		require.EqualError(t, err, `--allow "`+bad+`": unknown entitlement (want network.host or security.insecure)`)
	}
}
