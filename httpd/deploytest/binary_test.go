package deploytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"debug/elf"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestStaticBinaryHealthcheck builds the server with the Dockerfile's
// build command, checks that it is statically linked, runs it as the
// image does (MODE=server, DB_PATH, LISTEN=0.0.0.0 for the probe's view)
// and runs its healthcheck subcommand against it, live and stopped.
func TestStaticBinaryHealthcheck(t *testing.T) {
	dir := binaries(t)
	bin := filepath.Join(dir, "minidbgo-server")

	if runtime.GOOS == "linux" {
		f, err := elf.Open(bin)
		require.NoError(t, err)
		defer f.Close()
		for _, p := range f.Progs {
			require.NotEqual(t, elf.PT_INTERP, p.Type, "statically linked: no program interpreter")
		}
		libs, err := f.ImportedLibraries()
		require.NoError(t, err)
		require.Empty(t, libs, "statically linked: no shared libraries")
		require.Nil(t, f.Section(".symtab"), "stripped (-ldflags='-s -w')")
	}

	data := t.TempDir()
	s := startServer(t, bin, data, "MODE=server", "DB_PATH="+filepath.Join(data, "data"), "ACCESS_LOG=false")
	_, port, err := net.SplitHostPort(s.addr)
	require.NoError(t, err)

	probe := func(env ...string) (int, string) {
		cmd := exec.Command(bin, "healthcheck")
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		require.NoError(t, err)
		return 0, string(out)
	}
	// As in the image: LISTEN=0.0.0.0, the probe asks 127.0.0.1.
	code, out := probe("LISTEN=0.0.0.0", "PORT="+port)
	require.Equal(t, 0, code, out)
	code, out = probe("LISTEN=127.0.0.1", "PORT="+port)
	require.Equal(t, 0, code, out)

	s.stop(t)
	code, out = probe("LISTEN=0.0.0.0", "PORT="+port)
	require.Equal(t, 1, code, "a stopped server is unhealthy: %s", out)
	require.FileExists(t, filepath.Join(data, "data", "CURRENT"))

	// With TLS_CERT and TLS_KEY the probe speaks HTTPS to the same port.
	tlsDir := t.TempDir()
	writeSelfSigned(t, tlsDir)
	tlsEnv := []string{"TLS_CERT=" + filepath.Join(tlsDir, "cert.pem"), "TLS_KEY=" + filepath.Join(tlsDir, "key.pem")}
	s = startServer(t, bin, tlsDir, append([]string{"DB_PATH=" + filepath.Join(tlsDir, "data"), "ACCESS_LOG=false"}, tlsEnv...)...)
	_, port, err = net.SplitHostPort(s.addr)
	require.NoError(t, err)
	code, out = probe(append([]string{"LISTEN=0.0.0.0", "PORT=" + port}, tlsEnv...)...)
	require.Equal(t, 0, code, out)
	s.stop(t)
}

// writeSelfSigned writes cert.pem and key.pem for localhost into dir.
func writeSelfSigned(t testing.TB, dir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kb, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
}
