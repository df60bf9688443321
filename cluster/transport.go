package cluster

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// streamLayer carries raft's traffic: TCP, optionally TLS, and with a
// shared secret every connection proves it knows it before raft sees a
// byte: the accepting node sends a random 32-byte challenge, the dialling
// one answers HMAC-SHA256(secret, challenge). A connection that fails (or
// takes over handshakeTimeout) is closed; raft's accept loop never waits
// for it.
type streamLayer struct {
	ln        net.Listener
	advertise net.Addr
	secret    []byte
	serverTLS *tls.Config // nil: plain TCP
	clientTLS *tls.Config

	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

const handshakeTimeout = 5 * time.Second

var errBadSecret = errors.New("cluster: a raft peer did not prove the shared secret")

func newStreamLayer(bind string, advertise net.Addr, secret []byte, serverTLS, clientTLS *tls.Config) (*streamLayer, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	if serverTLS != nil {
		ln = tls.NewListener(ln, serverTLS)
	}
	if advertise == nil {
		advertise = ln.Addr()
	}
	s := &streamLayer{ln: ln, advertise: advertise, secret: secret, serverTLS: serverTLS, clientTLS: clientTLS,
		conns: make(chan net.Conn), done: make(chan struct{})}
	go s.acceptLoop()
	return s, nil
}

func (s *streamLayer) acceptLoop() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			time.Sleep(10 * time.Millisecond) // e.g. out of descriptors: do not spin
			continue
		}
		go func() {
			if err := s.challenge(c); err != nil {
				_ = c.Close()
				return
			}
			select {
			case s.conns <- c:
			case <-s.done:
				_ = c.Close()
			}
		}()
	}
}

// challenge authenticates an accepted connection.
func (s *streamLayer) challenge(c net.Conn) error {
	if len(s.secret) == 0 {
		return nil
	}
	_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
	defer c.SetDeadline(time.Time{})
	var nonce [32]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return err
	}
	if _, err := c.Write(nonce[:]); err != nil {
		return err
	}
	var got [32]byte
	if _, err := io.ReadFull(c, got[:]); err != nil {
		return err
	}
	if !hmac.Equal(got[:], mac(s.secret, nonce[:])) {
		return errBadSecret
	}
	return nil
}

func mac(secret, nonce []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(nonce)
	return m.Sum(nil)
}

// Accept returns the next authenticated connection (raft.StreamLayer).
func (s *streamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-s.conns:
		return c, nil
	case <-s.done:
		return nil, net.ErrClosed
	}
}

// Dial connects to a peer and answers its challenge (raft.StreamLayer).
func (s *streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout}
	var c net.Conn
	var err error
	if s.clientTLS != nil {
		c, err = tls.DialWithDialer(d, "tcp", string(addr), s.clientTLS)
	} else {
		c, err = d.Dial("tcp", string(addr))
	}
	if err != nil {
		return nil, err
	}
	if len(s.secret) > 0 {
		_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
		var nonce [32]byte
		if _, err := io.ReadFull(c, nonce[:]); err != nil {
			_ = c.Close()
			return nil, err
		}
		if _, err := c.Write(mac(s.secret, nonce[:])); err != nil {
			_ = c.Close()
			return nil, err
		}
		_ = c.SetDeadline(time.Time{})
	}
	return c, nil
}

func (s *streamLayer) Close() error {
	s.once.Do(func() { close(s.done) })
	return s.ln.Close()
}

func (s *streamLayer) Addr() net.Addr { return s.advertise }
