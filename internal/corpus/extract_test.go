package corpus

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// The Dockerfiles of a test file are those whose text the source tells,
// by any variable name with "dockerfile" in it, or inline; one built from
// what only a run knows is left out.
func TestIntegrationDockerfiles(t *testing.T) {
	src := "package x\n\nfunc testA(t *testing.T) {\n" +
		"\tdockerfile := []byte(`FROM a`)\n" + // 4
		"\tbaseImage := integration.UnixOrWindows(\"busybox\", \"nanoserver\")\n" +
		"\tdockerfile2 := fmt.Appendf(nil, `FROM %s\nRUN echo %d`, baseImage, 7)\n" + // 6
		"\tociDockerfile := \"FROM b\\n\"\n" + // 8
		"\tdockerfileName := \"Dockerfile.web\"\n" +
		"\tdockerfile = fmt.Appendf(nil, `FROM %s`, server.URL)\n" +
		"\tdockerfileStr := `FROM c`\n" + // 11
		"\tdockerfileStr += \"\\nRUN true\"\n" + // 12
		"\tdir := integration.Tmpdir(t,\n" +
		"\t\tfstest.CreateFile(\"Dockerfile\", []byte(\"FROM d\\n\"), 0600),\n" + // 14
		"\t\tfstest.CreateFile(\"Dockerfile\", []byte(dockerfileStr), 0600),\n" +
		"\t\tfstest.CreateFile(\"foo\", []byte(\"FROM e\\n\"), 0600),\n" +
		"\t)\n}\n"
	file := filepath.Join(t.TempDir(), "dockerfile_x_test.go")
	require.NoError(t, os.WriteFile(file, []byte(src), 0o644))
	cases, err := integrationDockerfiles(file)
	require.NoError(t, err)
	got := map[string]string{}
	for _, c := range cases {
		got[c.Name] = string(c.Dockerfile)
	}
	require.Equal(t, map[string]string{
		"dockerfile_x_test.go:4":  "FROM a",
		"dockerfile_x_test.go:6":  "FROM busybox\nRUN echo 7",
		"dockerfile_x_test.go:8":  "FROM b\n",
		"dockerfile_x_test.go:11": "FROM c",
		"dockerfile_x_test.go:12": "FROM c\nRUN true",
		"dockerfile_x_test.go:14": "FROM d\n",
	}, got)
}
