package teststores

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// LoadingRedis stands in front of the Redis server at upstream (host:port)
// as a server that is still loading its data: it answers the first refusals
// commands with Redis's LOADING error, then passes every connection through
// to upstream. It returns the address to connect to; it stops when the test
// ends.
func LoadingRedis(t testing.TB, upstream string, refusals int) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var left atomic.Int64
	left.Store(int64(refusals))
	var mu sync.Mutex
	var conns []net.Conn
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			track(c)
			go serveLoading(c, upstream, &left, track)
		}
	}()
	return l.Addr().String()
}

// serveLoading refuses commands on c while refusals are left, then passes
// the connection through.
func serveLoading(c net.Conn, upstream string, left *atomic.Int64, track func(net.Conn)) {
	defer c.Close()
	r := bufio.NewReader(c)
	for left.Add(-1) >= 0 {
		if err := readCommand(r); err != nil {
			return
		}
		if _, err := io.WriteString(c, "-LOADING Redis is loading the dataset in memory\r\n"); err != nil {
			return
		}
	}
	up, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	track(up)
	defer up.Close()
	go func() {
		io.Copy(c, up)
		c.Close()
	}()
	io.Copy(up, r) // what is buffered, then the rest
}

// readCommand reads one RESP command: an array of bulk strings.
func readCommand(r *bufio.Reader) error {
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "*")))
	if err != nil || !strings.HasPrefix(line, "*") {
		return fmt.Errorf("not a RESP array: %q", line)
	}
	for i := 0; i < n; i++ {
		head, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		size, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(head, "$")))
		if err != nil {
			return fmt.Errorf("not a RESP bulk string: %q", head)
		}
		if _, err := io.CopyN(io.Discard, r, int64(size)+2); err != nil {
			return err
		}
	}
	return nil
}
