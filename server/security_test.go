package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/epochdb/epochdb/internal/testutil"
	"github.com/redis/go-redis/v9"
)

func TestSecurity_Auth(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.RequirePass = "s3cret" })
	rc := ts.dial(t)
	runScript(t, ts, rc, `
		GET k => -NOAUTH Authentication required.
		SET k v => -NOAUTH Authentication required.
		NOSUCHCOMMAND => -NOAUTH Authentication required.
		CONFIG SET requirepass x => -NOAUTH Authentication required.
		HELLO 3 => -NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time
		AUTH wrong => -WRONGPASS invalid username-password pair or user is disabled.
		AUTH default wrong => -WRONGPASS invalid username-password pair or user is disabled.
		AUTH other s3cret => -WRONGPASS invalid username-password pair or user is disabled.
		HELLO 2 AUTH default wrong => -WRONGPASS invalid username-password pair or user is disabled.
		GET k => -NOAUTH Authentication required.
		AUTH s3cret => +OK
		SET k v => +OK
		RESET => +RESET
		GET k => -NOAUTH Authentication required.
		AUTH default s3cret => +OK
		GET k => "v"
	`)
	// Before authenticating, commands are limited in size, as in Redis.
	rc = ts.dial(t)
	rc.send("*11\r\n")
	eq(t, "unauthenticated multibulk", fmt.Sprint(rc.expectClosed()), "[-ERR Protocol error: unauthenticated multibulk length]")
	rc = ts.dial(t)
	rc.send("*2\r\n$4\r\nAUTH\r\n$20000\r\n")
	eq(t, "unauthenticated bulk", fmt.Sprint(rc.expectClosed()), "[-ERR Protocol error: unauthenticated bulk length]")

	// go-redis authenticates with HELLO 3 AUTH.
	c := ts.client(t, func(o *redis.Options) { o.Password = "s3cret" })
	must(t, c.Set(context.Background(), "a", "b", 0).Err())
	bad := ts.client(t, func(o *redis.Options) { o.Password = "nope"; o.MaxRetries = -1 })
	if err := bad.Ping(context.Background()).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Errorf("wrong password: %v", err)
	}

	// The password can change at run time; connections already
	// authenticated stay so.
	rc = ts.dial(t)
	eq(t, "AUTH", rc.do("AUTH", "s3cret"), "+OK")
	eq(t, "CONFIG SET requirepass", rc.do("CONFIG", "SET", "requirepass", "new"), "+OK")
	eq(t, "still authenticated", rc.do("GET", "k"), `"v"`)
	rc2 := ts.dial(t)
	eq(t, "old password", rc2.do("AUTH", "s3cret"), "-WRONGPASS invalid username-password pair or user is disabled.")
	eq(t, "new password", rc2.do("AUTH", "new"), "+OK")
	eq(t, "CONFIG GET requirepass", rc2.do("CONFIG", "GET", "requirepass"), `["requirepass" "new"]`)
	// AUTH is never in the slow log.
	eq(t, "CONFIG SET slowlog", rc2.do("CONFIG", "SET", "slowlog-log-slower-than", "0"), "+OK")
	rc2.do("AUTH", "new")
	if got := rc2.do("SLOWLOG", "GET", "-1"); strings.Contains(got, `"AUTH"`) {
		t.Errorf("AUTH in the slow log: %s", got)
	}
}

func TestSecurity_CheckPassword(t *testing.T) {
	var lc liveConfig
	lc.setPassword("pw")
	for _, tc := range []struct {
		in   string
		want bool
	}{{"pw", true}, {"p", false}, {"pww", false}, {"", false}, {"PW", false}} {
		eq(t, "checkPassword("+tc.in+")", lc.checkPassword([]byte(tc.in)), tc.want)
	}
}

func TestSecurity_ProtectedMode(t *testing.T) {
	ts := startServer(t)
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	must(t, err)
	defer ln.Close()
	err = ts.srv.Serve(ln)
	if !errors.Is(err, ErrProtectedMode) {
		t.Fatalf("Serve on 0.0.0.0 without password: %v, want ErrProtectedMode", err)
	}
	for _, tc := range []struct {
		addr string
		want bool
	}{{"127.0.0.1:1", true}, {"[::1]:1", true}, {"10.1.2.3:1", false}, {"0.0.0.0:1", false}} {
		a, err := net.ResolveTCPAddr("tcp", tc.addr)
		must(t, err)
		eq(t, "isLoopback("+tc.addr+")", isLoopback(a), tc.want)
	}
	// With a password, any address is fine.
	ts2 := startServer(t, func(s *Server) { s.RequirePass = "x" })
	ln2, err := net.Listen("tcp", "0.0.0.0:0")
	must(t, err)
	done := make(chan error, 1)
	go func() { done <- ts2.srv.Serve(ln2) }()
	c := ts2.client(t, func(o *redis.Options) { o.Addr = ln2.Addr().String(); o.Password = "x" })
	must(t, c.Ping(context.Background()).Err())
	ts2.stop(t)
	if err := <-done; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key
// into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	return testutil.SelfSigned(t, dir)
}

func TestSecurity_TLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	must(t, err)
	ts := startServer(t, func(s *Server) {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	})
	c := ts.client(t, func(o *redis.Options) {
		o.TLSConfig = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	})
	ctx := context.Background()
	must(t, c.Set(ctx, "k", strings.Repeat("v", 3<<20), 0).Err())
	v, err := c.Get(ctx, "k").Result()
	must(t, err)
	eq(t, "GET over TLS", len(v), 3<<20)

	// A plain-text client gets nowhere and does not disturb the server.
	rc := ts.dial(t)
	rc.send("PING\r\n")
	_ = rc.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 64)
	n, _ := rc.nc.Read(buf)
	if strings.Contains(string(buf[:n]), "PONG") {
		t.Error("plain-text PING answered on a TLS listener")
	}
	must(t, c.Ping(ctx).Err())

	// redis-cli over TLS, when it is built with TLS support.
	if out, err := redisCLI(t, ts, "--tls", "--cacert", certFile, "GET", "k"); err != nil {
		if strings.Contains(out, "tls") || strings.Contains(out, "TLS") {
			t.Logf("redis-cli without TLS support: %s", out)
		} else {
			t.Errorf("redis-cli --tls: %v: %s", err, out)
		}
	} else if len(strings.TrimSpace(out)) != 3<<20 {
		t.Errorf("redis-cli --tls GET returned %d bytes", len(out))
	}
}

func TestSecurity_MaxClients(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.MaxClients = 3 })
	var conns []*rawConn
	for range 3 {
		rc := ts.dial(t)
		eq(t, "PING", rc.do("PING"), "+PONG")
		conns = append(conns, rc)
	}
	rc := ts.dial(t)
	eq(t, "over maxclients", fmt.Sprint(rc.expectClosed()), "[-ERR max number of clients reached]")
	_ = conns[0].nc.Close()
	// The freed slot is usable once the server noticed the close.
	testutil.Eventually(t, "the slot is freed", func() bool {
		rc := ts.dial(t)
		rc.send("PING\r\n")
		return rc.read() == "+PONG"
	})
	eq(t, "CONFIG SET maxclients", conns[1].do("CONFIG", "SET", "maxclients", "10"), "+OK")
	if info := conns[1].do("INFO", "stats"); strings.Contains(info, `rejected_connections:0\r`) {
		t.Errorf("INFO stats counts no rejected connection: %s", info)
	}
}

func TestSecurity_IdleTimeout(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.IdleTimeout = 200 * time.Millisecond })
	idle := ts.dial(t)
	eq(t, "PING", idle.do("PING"), "+PONG")
	sub := ts.dial(t)
	eq(t, "SUBSCRIBE", sub.do("SUBSCRIBE", "ch"), `["subscribe" "ch" :1]`)
	idle.expectClosed()
	// Subscribers are exempt from the timeout.
	eq(t, "PUBLISH", ts.dial(t).do("PUBLISH", "ch", "m"), ":1")
	eq(t, "message", sub.read(), `["message" "ch" "m"]`)
}

// TestSecurity_SlowSubscriber: a subscriber that does not read is
// disconnected once its queue exceeds the pub/sub output limit; publishers
// are never blocked by it.
func TestSecurity_SlowSubscriber(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.PubSubBufferLimit = 1 << 20 })
	sub := ts.dial(t)
	_ = sub.nc.(*net.TCPConn).SetReadBuffer(4096)
	eq(t, "SUBSCRIBE", sub.do("SUBSCRIBE", "ch"), `["subscribe" "ch" :1]`)
	pub := ts.dial(t)
	msg := strings.Repeat("m", 64<<10)
	dropped := false
	for range 2000 { // 128 MB, far over the socket buffers and the limit
		if pub.do("PUBLISH", "ch", msg) == ":0" {
			dropped = true
			break
		}
	}
	if !dropped {
		t.Fatal("the slow subscriber was never disconnected")
	}
	// The server has forgotten it (the kernel may still hold megabytes
	// for it, which a 4 KiB receive window drains slowly).
	testutil.Eventually(t, "the subscriber's connection ends", func() bool {
		return pub.do("CLIENT", "LIST", "TYPE", "pubsub") == `""`
	})
	eq(t, "PUBLISH", pub.do("PUBLISH", "ch", "x"), ":0")
}

// TestSecurity_CustomHandler: a Handler that is not a ServeMux still sits
// behind authentication, which the server answers itself.
func TestSecurity_CustomHandler(t *testing.T) {
	ts := startServer(t, func(s *Server) {
		s.RequirePass = "pw"
		s.Handler = HandlerFunc(func(c *Conn, cmd Command) { c.WriteString("CUSTOM " + string(cmd.Args[0])) })
	})
	runScript(t, ts, ts.dial(t), `
		ANYTHING => -NOAUTH Authentication required.
		AUTH pw => +OK
		ANYTHING => +CUSTOM ANYTHING
		GET k => +CUSTOM GET
		QUIT => +OK
	`)
}
