package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestClusterSettings: NODE_ID and RAFT_ADDR turn cluster mode on; JOIN
// is split on commas, blanks dropped; ADVERTISE_URL defaults to the URL of
// the address listened on (https with TLS), a trailing slash trimmed;
// flags override the environment.
func TestClusterSettings(t *testing.T) {
	c, err := Parse("minidbgo-server", nil, envOf(nil))
	require.NoError(t, err)
	require.False(t, c.Clustered())
	require.Nil(t, c.JoinURLs())
	require.Equal(t, "http://127.0.0.1:6866", c.Advertise("127.0.0.1:6866"))

	env := map[string]string{
		"NODE_ID": "n1", "RAFT_ADDR": "127.0.0.1:7001", "BOOTSTRAP_EXPECT": "3",
		"JOIN": " http://10.0.0.1:6866, ,http://10.0.0.2:6866/,https://db3.example:6866 ,",
	}
	c, err = Parse("minidbgo-server", nil, envOf(env))
	require.NoError(t, err)
	require.True(t, c.Clustered())
	require.Equal(t, 3, c.BootstrapExpect)
	require.Equal(t, []string{"http://10.0.0.1:6866", "http://10.0.0.2:6866/", "https://db3.example:6866"}, c.JoinURLs())
	require.Equal(t, "http://127.0.0.1:40001", c.Advertise("127.0.0.1:40001"), "default: the address listened on")

	env["TLS_CERT"], env["TLS_KEY"] = "c.pem", "k.pem"
	c, err = Parse("minidbgo-server", nil, envOf(env))
	require.NoError(t, err)
	require.Equal(t, "https://127.0.0.1:6866", c.Advertise("127.0.0.1:6866"))
	delete(env, "TLS_CERT")
	delete(env, "TLS_KEY")

	env["ADVERTISE_URL"] = "http://db1.example:6866/"
	c, err = Parse("minidbgo-server", nil, envOf(env))
	require.NoError(t, err)
	require.Equal(t, "http://db1.example:6866", c.Advertise("127.0.0.1:6866"))

	c, err = Parse("minidbgo-server", []string{"-join", "http://a:1", "-advertise-url", "http://b:2", "-bootstrap-expect", "1",
		"-node-id", "n2", "-raft-addr", "127.0.0.1:7002"}, envOf(env))
	require.NoError(t, err)
	require.Equal(t, []string{"http://a:1"}, c.JoinURLs())
	require.Equal(t, "http://b:2", c.Advertise("127.0.0.1:6866"))
	require.Equal(t, 1, c.BootstrapExpect)
	require.Equal(t, "n2", c.NodeID)
	require.Equal(t, "127.0.0.1:7002", c.RaftAddr)

	// Listening on every interface with an ADVERTISE_URL is fine.
	_, err = Parse("minidbgo-server", nil, envOf(map[string]string{"NODE_ID": "n1", "RAFT_ADDR": "10.0.0.1:7001",
		"LISTEN": "0.0.0.0", "ADVERTISE_URL": "http://10.0.0.1:6866"}))
	require.NoError(t, err)
	// JOIN and ADVERTISE_URL are not looked at on a single node.
	_, err = Parse("minidbgo-server", nil, envOf(map[string]string{"JOIN": "nonsense", "ADVERTISE_URL": "x"}))
	require.NoError(t, err)
}

// TestClusterSettingsErrors: a bad cluster setting is refused at start
// with an error that names the variable and the value.
func TestClusterSettingsErrors(t *testing.T) {
	cluster := func(kv ...string) map[string]string {
		m := map[string]string{"NODE_ID": "n1", "RAFT_ADDR": "127.0.0.1:7001"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, c := range []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{"NODE_ID": "n1"}, []string{"NODE_ID", "RAFT_ADDR"}},
		{map[string]string{"RAFT_ADDR": "127.0.0.1:7001"}, []string{"NODE_ID", "RAFT_ADDR"}},
		{cluster("BOOTSTRAP_EXPECT", "-1"), []string{"BOOTSTRAP_EXPECT", "-1"}},
		{cluster("BOOTSTRAP_EXPECT", "three"), []string{"BOOTSTRAP_EXPECT", `"three"`}},
		{cluster("ADVERTISE_URL", "db1:6866"), []string{"ADVERTISE_URL", `"db1:6866"`}},
		{cluster("ADVERTISE_URL", "ftp://db1:6866"), []string{"ADVERTISE_URL", `"ftp://db1:6866"`}},
		{cluster("ADVERTISE_URL", "http://"), []string{"ADVERTISE_URL", `"http://"`}},
		{cluster("ADVERTISE_URL", "http://db1:6866/api"), []string{"ADVERTISE_URL", `"http://db1:6866/api"`}},
		{cluster("ADVERTISE_URL", "http://db1:6866?x=1"), []string{"ADVERTISE_URL", `"http://db1:6866?x=1"`}},
		{cluster("JOIN", "http://10.0.0.1:6866,10.0.0.2:6866"), []string{"JOIN", `"10.0.0.2:6866"`}},
		{cluster("JOIN", "http://10.0.0.1:6866/x"), []string{"JOIN", `"http://10.0.0.1:6866/x"`}},
		{cluster("JOIN", "http://10.0.0.1:6866, http//10.0.0.2:6866"), []string{"JOIN", `"http//10.0.0.2:6866"`}},
		// The default ADVERTISE_URL would name 0.0.0.0, which the other
		// nodes cannot reach.
		{cluster("LISTEN", "0.0.0.0"), []string{"ADVERTISE_URL", "LISTEN", `"0.0.0.0"`}},
		{cluster("LISTEN", "[::]:6866"), []string{"ADVERTISE_URL", "LISTEN", `"[::]:6866"`}},
	} {
		_, err := Parse("minidbgo-server", nil, envOf(c.env))
		require.Error(t, err, "%v", c.env)
		for _, w := range c.want {
			require.Contains(t, err.Error(), w, "%v", c.env)
		}
	}
}
