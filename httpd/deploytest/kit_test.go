package deploytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// ---- Dockerfile ----

type instruction struct {
	cmd   string // upper case
	args  string
	stage int // index of the FROM it belongs to
}

// parseDockerfile splits a Dockerfile into instructions, joining
// backslash continuations and dropping comments.
func parseDockerfile(text string) []instruction {
	var out []instruction
	var cur strings.Builder
	stage := -1
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		cmd = strings.ToUpper(cmd)
		if cmd == "FROM" {
			stage++
		}
		out = append(out, instruction{cmd: cmd, args: strings.TrimSpace(args), stage: stage})
	}
	for _, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(raw)
		if strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\"))
			cur.WriteString(" ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	flush()
	return out
}

// envOf parses ENV key=value pairs (quotes removed).
func envOf(args string) map[string]string {
	m := map[string]string{}
	for _, f := range strings.Fields(args) {
		k, v, ok := strings.Cut(f, "=")
		if ok {
			m[k] = strings.Trim(v, `"'`)
		}
	}
	return m
}

func TestDockerfile(t *testing.T) {
	text := readFile(t, repoRoot(t), "deploy", "Dockerfile")
	ins := parseDockerfile(text)

	var froms []instruction
	for _, in := range ins {
		if in.cmd == "FROM" {
			froms = append(froms, in)
		}
	}
	require.GreaterOrEqual(t, len(froms), 2, "multi-stage")
	require.Regexp(t, `(^|\s)golang:1\.26(\s|$)`, froms[0].args, "builder image")
	require.Regexp(t, `(?i)\sAS\s+\w+`, froms[0].args, "named build stage")
	last := len(froms) - 1
	require.Regexp(t, `^(gcr\.io/distroless/static\S*|scratch)$`, froms[last].args, "minimal runtime image")

	build := dockerBuildCommand(t)
	require.Contains(t, build, "CGO_ENABLED=0 go build -trimpath -ldflags='-s -w'")
	require.Contains(t, build, "./httpd/cmd/minidbgo-server")
	require.Contains(t, build, "./cli/cmd/minidbgo", "the shell binary, when its module exists")
	require.Contains(t, build, "GOARCH=$TARGETARCH")
	require.NotRegexp(t, `GOARCH=(amd64|arm64|386|arm)\b`, text, "no hard-coded GOARCH")
	var args []string
	for _, in := range ins {
		if in.cmd == "ARG" {
			args = append(args, in.args)
		}
	}
	require.Contains(t, args, "TARGETOS")
	require.Contains(t, args, "TARGETARCH")

	// The runtime stage.
	env := map[string]string{}
	var user, volume, expose, health, entry string
	for _, in := range ins {
		if in.stage != last {
			continue
		}
		require.NotContains(t, strings.ToLower(in.args), "curl", "no curl in the runtime image: %s %s", in.cmd, in.args)
		switch in.cmd {
		case "ENV":
			for k, v := range envOf(in.args) {
				env[k] = v
			}
		case "USER":
			user = in.args
		case "VOLUME":
			volume = in.args
		case "EXPOSE":
			expose = in.args
		case "HEALTHCHECK":
			health = in.args
		case "ENTRYPOINT":
			entry = in.args
		case "RUN":
			t.Errorf("the runtime image has no shell: RUN %s", in.args)
		}
	}
	require.NotEmpty(t, user, "USER")
	uid, _, _ := strings.Cut(user, ":")
	require.NotContains(t, []string{"root", "0"}, uid, "non-root USER")
	require.Contains(t, []string{"/data", `["/data"]`}, volume)
	require.Equal(t, "6866", expose)
	require.Equal(t, "server", env["MODE"])
	require.Equal(t, "/data", env["DB_PATH"])
	require.Equal(t, "0.0.0.0", env["LISTEN"])
	if p, ok := env["PORT"]; ok {
		require.Equal(t, "6866", p)
	}
	require.Regexp(t, `CMD\s+\["/minidbgo-server",\s*"healthcheck"\]$`, health)
	require.Equal(t, `["/minidbgo-server"]`, entry)
	// /data is copied in owned by the non-root user, so a fresh volume is
	// writable by it.
	require.Regexp(t, `COPY --from=\w+ --chown=`+regexp.QuoteMeta(user)+` /out/ /`, strings.Join(lines(ins, last), "\n"))
	require.Contains(t, build, "mkdir -p /out /out/data")
}

func lines(ins []instruction, stage int) []string {
	var out []string
	for _, in := range ins {
		if in.stage == stage {
			out = append(out, in.cmd+" "+in.args)
		}
	}
	return out
}

// ---- docker-compose ----

type composeFile struct {
	Name     string `yaml:"name"`
	Include  []any  `yaml:"include"`
	Services map[string]struct {
		Build struct {
			Context    string `yaml:"context"`
			Dockerfile string `yaml:"dockerfile"`
		} `yaml:"build"`
		ContainerName   string            `yaml:"container_name"`
		Environment     map[string]string `yaml:"environment"`
		Volumes         []string          `yaml:"volumes"`
		Ports           []string          `yaml:"ports"`
		Restart         string            `yaml:"restart"`
		StopGracePeriod string            `yaml:"stop_grace_period"`
		Deploy          struct {
			Resources struct {
				Limits struct {
					CPUs   string `yaml:"cpus"`
					Memory string `yaml:"memory"`
				} `yaml:"limits"`
				Reservations struct {
					CPUs   string `yaml:"cpus"`
					Memory string `yaml:"memory"`
				} `yaml:"reservations"`
			} `yaml:"resources"`
		} `yaml:"deploy"`
		Healthcheck struct {
			Test     []string `yaml:"test"`
			Interval string   `yaml:"interval"`
			Timeout  string   `yaml:"timeout"`
			Retries  int      `yaml:"retries"`
		} `yaml:"healthcheck"`
		Logging struct {
			Driver  string            `yaml:"driver"`
			Options map[string]string `yaml:"options"`
		} `yaml:"logging"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

func loadCompose(t *testing.T, path string) composeFile {
	t.Helper()
	var c composeFile
	require.NoError(t, yaml.Unmarshal([]byte(readFile(t, path)), &c), path)
	return c
}

var composeVar = regexp.MustCompile(`^\$\{([A-Z0-9_]+):-([^}]*)\}$`)

func TestComposeFiles(t *testing.T) {
	root := repoRoot(t)
	deployDir := filepath.Join(root, "deploy")

	// The top-level file (the guide's `docker-compose up --build -d` from
	// the repository root) includes deploy/docker-compose.yml.
	top := loadCompose(t, filepath.Join(root, "docker-compose.yml"))
	require.Equal(t, []any{"deploy/docker-compose.yml"}, top.Include)
	require.Empty(t, top.Services, "the service is defined once, in deploy/")

	c := loadCompose(t, filepath.Join(deployDir, "docker-compose.yml"))
	svc, ok := c.Services["minidbgo"]
	require.True(t, ok, "service minidbgo")
	require.Equal(t, "minidbgo", svc.ContainerName, "the guide runs docker stats/inspect minidbgo")

	// The build context (relative to deploy/) is the repository root.
	ctx := filepath.Join(deployDir, svc.Build.Context)
	require.FileExists(t, filepath.Join(ctx, "go.work"))
	require.FileExists(t, filepath.Join(ctx, svc.Build.Dockerfile))
	require.Equal(t, "deploy/Dockerfile", svc.Build.Dockerfile)

	r := svc.Deploy.Resources
	require.Equal(t, "2", r.Limits.CPUs)
	require.Equal(t, "256M", r.Limits.Memory)
	require.Equal(t, "0.5", r.Reservations.CPUs)
	require.Equal(t, "128M", r.Reservations.Memory)

	require.Equal(t, "json-file", svc.Logging.Driver)
	require.Equal(t, "10m", svc.Logging.Options["max-size"])
	require.Equal(t, "3", svc.Logging.Options["max-file"])

	require.Equal(t, []string{"CMD", "/minidbgo-server", "healthcheck"}, svc.Healthcheck.Test)
	require.Positive(t, svc.Healthcheck.Retries)
	require.Contains(t, []string{"always", "unless-stopped", "on-failure"}, svc.Restart)

	grace, err := time.ParseDuration(svc.StopGracePeriod)
	require.NoError(t, err, "stop_grace_period")
	require.Greater(t, grace, 30*time.Second, "longer than the 30 s graceful shutdown")

	// A named volume at /data.
	var named string
	for _, v := range svc.Volumes {
		src, dst, _ := strings.Cut(v, ":")
		if dst == "/data" {
			named = src
		}
	}
	require.NotEmpty(t, named, "a volume mounted at /data")
	require.Contains(t, c.Volumes, named, "a named volume")

	require.Contains(t, svc.Ports, "127.0.0.1:6866:6866")

	// Environment: every variable the server reads, with the server's
	// default where it is overridable.
	env := svc.Environment
	cfg := parseServerConfig(t)
	fixed := map[string]string{"DB_PATH": "/data", "LISTEN": "0.0.0.0", "PORT": "6866"}
	guide := map[string]string{"MODE": "server", "FLUSH_SIZE": "10000", "MAX_MEM_MB": "50", "GOMEMLIMIT": "200MiB", "GOGC": "50"}
	for _, name := range cfg.envs {
		v, ok := env[name]
		if !assertTrue(t, ok, "compose environment lacks %s", name) {
			continue
		}
		if want, ok := fixed[name]; ok {
			require.Equal(t, want, v, name)
			continue
		}
		m := composeVar.FindStringSubmatch(v)
		if !assertTrue(t, m != nil && m[1] == name, "%s: want ${%s:-default}, got %q", name, name, v) {
			continue
		}
		def := m[2]
		if want, ok := guide[name]; ok {
			require.Equal(t, want, def, "%s default", name)
		} else if want := cfg.defaults[name]; want != "" {
			require.True(t, sameValue(want, def), "%s: compose default %q, server default %q", name, def, want)
		}
	}
	for name := range env {
		require.Contains(t, cfg.envs, name, "compose sets %s, which the server does not read", name)
	}
}

func assertTrue(t *testing.T, ok bool, format string, args ...any) bool {
	t.Helper()
	if !ok {
		t.Errorf(format, args...)
	}
	return ok
}

// ---- documentation of the configuration ----

func TestEnvVarsAndFlagsDocumented(t *testing.T) {
	ops := readFile(t, repoRoot(t), "docs", "operations.md")
	cfg := parseServerConfig(t)
	// Table rows of operations.md.
	var rows []string
	for _, l := range strings.Split(ops, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "|") {
			rows = append(rows, l)
		}
	}
	table := strings.Join(rows, "\n")
	for _, name := range cfg.envs {
		require.Contains(t, table, "`"+name+"`", "docs/operations.md's configuration table lacks %s", name)
	}
	for _, f := range cfg.flags {
		require.Regexp(t, "`-"+regexp.QuoteMeta(f)+"[ `=]", table, "docs/operations.md's configuration table lacks the flag -%s", f)
	}
}

// ---- systemd ----

func TestSystemdUnit(t *testing.T) {
	unit := readFile(t, repoRoot(t), "deploy", "minidbgo.service")
	kv := map[string][]string{}
	for _, l := range strings.Split(unit, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "[") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		require.True(t, ok, l)
		kv[k] = append(kv[k], v)
	}
	one := func(k string) string {
		require.Len(t, kv[k], 1, k)
		return kv[k][0]
	}
	require.True(t, one("DynamicUser") == "yes" || one("User") != "root")
	require.Equal(t, "256M", one("MemoryMax"))
	require.Equal(t, "strict", one("ProtectSystem"))
	require.Equal(t, "minidbgo", one("StateDirectory"))
	require.Contains(t, kv["Environment"], "DB_PATH=/var/lib/minidbgo")
	require.Contains(t, kv["Environment"], "MODE=server")
	require.Equal(t, "yes", one("NoNewPrivileges"))
	require.Equal(t, "yes", one("PrivateTmp"))
	require.Equal(t, "yes", one("ProtectHome"))
	require.NotEmpty(t, one("RestrictAddressFamilies"))
	require.Equal(t, "on-failure", one("Restart"))
	stop, err := time.ParseDuration(one("TimeoutStopSec"))
	require.NoError(t, err)
	require.Greater(t, stop, 30*time.Second, "TimeoutStopSec covers the 30 s graceful shutdown")
	require.Equal(t, "SIGTERM", one("KillSignal"))
	require.Empty(t, kv["ExecReload"], "the server does not handle SIGHUP (it would exit)")

	// Every Environment= names a variable the server reads.
	cfg := parseServerConfig(t)
	for _, e := range kv["Environment"] {
		name, _, _ := strings.Cut(e, "=")
		require.Contains(t, cfg.envs, name)
	}

	// systemd's own checker, when present, with ExecStart pointing at an
	// executable that exists here.
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze not installed: skipped `systemd-analyze verify`")
		return
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "minidbgo.service")
	require.NoError(t, os.WriteFile(path, []byte(strings.ReplaceAll(unit, "/usr/local/bin/minidbgo-server", "/bin/true")), 0o644))
	out, err := exec.Command(sa, "verify", path).CombinedOutput()
	require.NoError(t, err, "systemd-analyze verify:\n%s", out)
	require.Empty(t, strings.TrimSpace(string(out)), "systemd-analyze verify warnings")
}

// ---- nginx ----

func TestNginxConf(t *testing.T) {
	conf := readFile(t, repoRoot(t), "deploy", "nginx.conf")
	require.Regexp(t, `(?m)^limit_req_zone \S+ zone=api:\S+ rate=\S+;`, conf, "the zone the guide's limit_req uses")
	require.Contains(t, conf, "limit_req zone=api burst=20 nodelay;")
	require.Contains(t, conf, "server 127.0.0.1:6866;")
	require.Contains(t, conf, "client_max_body_size 10m;")
	require.Contains(t, conf, "listen 443 ssl;")
	// /api/health: its own location, not rate limited.
	health := location(t, conf, "= /api/health")
	require.NotContains(t, health, "limit_req")
	require.Contains(t, health, "proxy_pass")
	require.Contains(t, location(t, conf, "= /api/dumpDB"), "proxy_buffering off;")
	require.Contains(t, location(t, conf, "= /api/restoreDB"), "proxy_request_buffering off;")
	// Braces balance.
	require.Equal(t, strings.Count(conf, "{"), strings.Count(conf, "}"))

	if nginx, err := exec.LookPath("nginx"); err == nil {
		dir := t.TempDir()
		wrapped := "pid " + filepath.Join(dir, "nginx.pid") + ";\nerror_log stderr;\nevents {}\nhttp {\naccess_log off;\n" +
			strings.NewReplacer("/path/to/cert.pem", filepath.Join(dir, "cert.pem"), "/path/to/key.pem", filepath.Join(dir, "key.pem")).Replace(conf) + "\n}\n"
		writeSelfSigned(t, dir)
		path := filepath.Join(dir, "nginx.conf")
		require.NoError(t, os.WriteFile(path, []byte(wrapped), 0o644))
		out, err := exec.Command(nginx, "-t", "-p", dir, "-c", path).CombinedOutput()
		require.NoError(t, err, "nginx -t:\n%s", out)
	} else {
		t.Log("nginx not installed: skipped `nginx -t`")
	}
}

// location returns the body of `location <spec> { … }`.
func location(t *testing.T, conf, spec string) string {
	t.Helper()
	i := strings.Index(conf, "location "+spec+" {")
	require.GreaterOrEqual(t, i, 0, "location %s", spec)
	rest := conf[i:]
	j := strings.Index(rest, "}")
	require.Positive(t, j)
	return rest[:j]
}
