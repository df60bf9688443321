package server

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
)

// BenchmarkServer_Pipelined measures SET, GET and INCR over the network
// with 8 connections pipelining 16 commands each. The client reads the
// replies without allocating, so that allocs/op are the server's (and the
// runtime's network paths').
func BenchmarkServer_Pipelined(b *testing.B) {
	for _, cmd := range []string{"SET", "GET", "INCR"} {
		b.Run(cmd, func(b *testing.B) {
			ts := startServer(b)
			value := strings.Repeat("x", 100)
			const conns, depth = 8, 16
			var batch strings.Builder
			for i := range depth {
				key := fmt.Sprint("key:", i)
				switch cmd {
				case "SET":
					batch.WriteString(encodeCommand("SET", key, value))
				case "GET":
					batch.WriteString(encodeCommand("GET", key))
				default:
					batch.WriteString(encodeCommand("INCR", key))
				}
			}
			req := []byte(batch.String())
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			per := b.N/(conns*depth) + 1
			for range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					nc, err := net.Dial("tcp", ts.addr)
					if err != nil {
						b.Error(err)
						return
					}
					defer nc.Close()
					br := bufio.NewReaderSize(nc, 64<<10)
					for range per {
						if _, err := nc.Write(req); err != nil {
							b.Error(err)
							return
						}
						for range depth {
							if err := skipReply(br); err != nil {
								b.Error(err)
								return
							}
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}

// skipReply reads one reply of a flat type (a simple string, error,
// integer or bulk string) without allocating.
func skipReply(br *bufio.Reader) error {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if len(line) < 3 {
		return fmt.Errorf("bad reply line %q", line)
	}
	if line[0] != '$' {
		if line[0] == '-' {
			return fmt.Errorf("error reply %q", line)
		}
		return nil
	}
	n := 0
	for _, c := range line[1 : len(line)-2] {
		if c == '-' {
			return nil // null
		}
		n = n*10 + int(c-'0')
	}
	_, err = br.Discard(n + 2)
	return err
}
