package deploytest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// docCommand is one shell command of a fenced bash/sh block.
type docCommand struct {
	line int // 1-based line of its first line
	text string
}

// shellCommands extracts the commands of every ```bash, ```sh or ```shell
// block: continuation lines joined, comment lines and blank lines dropped,
// a leading "$ " prompt removed.
func shellCommands(md string) []docCommand {
	var out []docCommand
	in, fence := false, ""
	var cur strings.Builder
	start := 0
	for i, raw := range strings.Split(md, "\n") {
		trim := strings.TrimSpace(raw)
		if strings.HasPrefix(trim, "```") {
			if fence == "" {
				fence = "open"
				lang := strings.TrimSpace(strings.TrimPrefix(trim, "```"))
				in = lang == "bash" || lang == "sh" || lang == "shell"
			} else {
				fence, in = "", false
			}
			continue
		}
		if !in {
			continue
		}
		if cur.Len() == 0 {
			if trim == "" || strings.HasPrefix(trim, "#") {
				continue
			}
			start = i + 1
			trim = strings.TrimPrefix(trim, "$ ")
		}
		if strings.HasSuffix(trim, "\\") {
			cur.WriteString(strings.TrimSpace(strings.TrimSuffix(trim, "\\")))
			cur.WriteString(" ")
			continue
		}
		cur.WriteString(trim)
		out = append(out, docCommand{line: start, text: cur.String()})
		cur.Reset()
	}
	return out
}

var (
	curlWord = regexp.MustCompile(`(^|[|;&(]\s*|\$\(\s*)curl\s`)
	// Commands that need a container runtime, an init system or root.
	needsHost = map[string]string{
		"docker":         "needs Docker",
		"docker-compose": "needs Docker Compose",
		"watch":          "runs forever (watch)",
		"systemctl":      "needs systemd",
		"journalctl":     "needs systemd",
		"dmesg":          "needs the kernel log (root)",
		"nginx":          "needs nginx",
		"sudo":           "needs root",
		"install":        "installs into the system",
	}
)

// classify says whether a documented command is run, and why not.
func classify(text string, haveCLI bool) (run bool, reason string) {
	first := strings.Fields(text)[0]
	if r, ok := needsHost[first]; ok {
		return false, r
	}
	switch {
	case first == "minidbgo" && slices.Contains([]string{"repair", "check", "restore"}, strings.Fields(text + " x")[1]):
		// Offline commands: they take the data directory's lock, which
		// the server under test holds, and restore writes the directory
		// the document names, a system path (cli/internal/shell tests
		// them).
		return false, "needs the server stopped (takes or writes the data directory)"
	case first == "minidbgo":
		if !haveCLI {
			return false, "the minidbgo shell (module cli) is not built yet"
		}
		return true, ""
	case curlWord.MatchString(text):
		if strings.Contains(text, "https://") {
			return false, "needs the TLS proxy and its certificate"
		}
		return true, ""
	case first == "ls" && strings.Contains(text, "data/MiniDBGo"):
		return true, "" // the data directory of the server under test
	}
	return false, "does not talk to the server (" + first + ")"
}

// TestDocCommands runs every command of README.md and docs/operations.md
// that talks to the server, in the document's order, against a fresh
// minidbgo-server (built as the Dockerfile builds it) listening on
// 127.0.0.1:0, with localhost:6866 (and old-server:6866, and the
// documented cluster's first node, localhost:6867) rewritten to it.
// curl runs with --fail-with-body, so an HTTP error fails the command; a
// pipeline fails if any stage fails; a jq filter printing null fails.
func TestDocCommands(t *testing.T) {
	realCurl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed")
	}
	_, jqErr := exec.LookPath("jq")
	dir := binaries(t)
	_, cliErr := os.Stat(filepath.Join(dir, "minidbgo"))
	haveCLI := cliErr == nil

	wrap := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(wrap, "curl"),
		[]byte(curlWrapper(realCurl)), 0o755))
	path := wrap + string(os.PathListSeparator) + dir + string(os.PathListSeparator) + os.Getenv("PATH")

	root := repoRoot(t)
	for _, doc := range []string{"README.md", "docs/operations.md"} {
		t.Run(strings.ReplaceAll(doc, "/", "_"), func(t *testing.T) {
			cmds := shellCommands(readFile(t, root, doc))
			require.NotEmpty(t, cmds)
			work := t.TempDir()
			// DB_PATH stays the default (data/MiniDBGo, relative to the
			// working directory) so that the documented ls commands see
			// the server's files.
			s := startServer(t, filepath.Join(dir, "minidbgo-server"), work, "ACCESS_LOG=false")
			base := "http://" + s.addr
			// localhost:6867 is the first node of the documented
			// one-machine cluster; the server under test (a single node)
			// answers its status requests too.
			rewrite := strings.NewReplacer(
				"http://localhost:6866", base, "http://127.0.0.1:6866", base,
				"http://old-server:6866", base, "localhost:6866", s.addr,
				"http://localhost:6867", base)
			ran := 0
			for _, c := range cmds {
				run, reason := classify(c.text, haveCLI)
				if run && jqErr != nil && strings.Contains(c.text, "| jq") {
					run, reason = false, "jq is not installed"
				}
				if !run {
					t.Logf("skipped %s:%d %q: %s", doc, c.line, c.text, reason)
					continue
				}
				ran++
				text := rewrite.Replace(c.text)
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				cmd := exec.CommandContext(ctx, "bash", "-o", "pipefail", "-c", text)
				cmd.Dir = work
				cmd.Env = append(os.Environ(), "PATH="+path, "HOME="+work)
				out, err := cmd.CombinedOutput()
				cancel()
				require.NoError(t, err, "%s:%d: %s\n%s\nserver log:\n%s", doc, c.line, c.text, out, tail(s.stderr.String(), 2000))
				if strings.Contains(c.text, "| jq") {
					require.NotEqual(t, "null", strings.TrimSpace(string(out)), "%s:%d: %s: the field is missing", doc, c.line, c.text)
				}
				t.Logf("ran %s:%d %q", doc, c.line, c.text)
			}
			require.Positive(t, ran, "%s: no command talks to the server", doc)
			s.stop(t)
		})
	}
}

// curlWrapper is a curl that fails on HTTP errors: it adds
// --fail-with-body unless the command already asks for --fail (-f).
func curlWrapper(real string) string {
	return `#!/bin/sh
for a in "$@"; do
  case "$a" in
    --fail|--fail-with-body|-[!-]*f*) exec ` + real + ` --max-time 30 "$@" ;;
  esac
done
exec ` + real + ` --fail-with-body --max-time 30 "$@"
`
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func TestShellCommandsExtraction(t *testing.T) {
	md := "text\n```bash\n# comment\ncurl a \\\n  -X POST b\n\n$ ls x\n```\n```json\n{\"a\":1}\n```\n```sh\ndocker ps\n```\n"
	got := shellCommands(md)
	require.Equal(t, []docCommand{{4, "curl a -X POST b"}, {7, "ls x"}, {13, "docker ps"}}, got)
	run, _ := classify("curl http://localhost:6866/api/stats | jq '.go_num_gc'", false)
	require.True(t, run)
	run, reason := classify("docker stats minidbgo", false)
	require.False(t, run)
	require.Equal(t, "needs Docker", reason)
	run, _ = classify("minidbgo --url http://localhost:6866 -c stats", false)
	require.False(t, run)
}
