package sqlitestore_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/sqlitestore"
	"github.com/oncelink/oncelink/store/storetest"
)

var ctx = context.Background()

func open(t testing.TB, path string, opts ...sqlitestore.Option) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(ctx, path, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "oncelink.db"))
	})
}

// token makes a valid record and the request that consumes it.
func token(t testing.TB, member string) (store.Record, store.ConsumeRequest) {
	t.Helper()
	l := storetest.NewLink(t, member)
	l.Batch, l.Recipient = "b", member+"@example.org"
	return l.Record, l.Request(store.Micro(time.Now()))
}

// Environment of the helper processes.
const (
	helperEnv = "ONCELINK_SQLITE_HELPER" // "consume" or "open"
	pathEnv   = "ONCELINK_SQLITE_PATH"
	tokensEnv = "ONCELINK_SQLITE_TOKENS" // file of "id secret-hash-hex member" lines
	nameEnv   = "ONCELINK_SQLITE_NAME"
)

// helperGoroutines is how many goroutines each process races with.
const helperGoroutines = 4

// TestHelperProcess is not a test: it is the second and third process of
// TestProcesses and TestProcessesOpenFresh, run from the test binary.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("helper process for TestProcesses; runs only when started by it")
	}
	if err := helper(mode); err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(2)
	}
	os.Exit(0)
}

func helper(mode string) error {
	s, err := sqlitestore.Open(ctx, os.Getenv(pathEnv))
	if err != nil {
		return err
	}
	defer s.Close()
	if mode == "open" {
		return s.Ping(ctx)
	}
	data, err := os.ReadFile(os.Getenv(tokensEnv))
	if err != nil {
		return err
	}
	var reqs []store.ConsumeRequest
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		id, rest, _ := strings.Cut(line, " ")
		h, member, _ := strings.Cut(rest, " ")
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != 32 {
			return fmt.Errorf("bad token line %q", line)
		}
		reqs = append(reqs, store.ConsumeRequest{ID: id, SecretHash: [32]byte(b), Member: member, Purpose: "login", Batch: "b"})
	}
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return err
	}
	won, err := race(s, reqs, os.Getenv(nameEnv))
	if err != nil {
		return err
	}
	for _, id := range won {
		fmt.Println("won", id)
	}
	return nil
}

// race consumes every request from helperGoroutines goroutines, each in
// its own random order, and returns the ids this process won. A short random
// pause before each call leaves the write lock free now and then: SQLite's
// busy handler polls, and a process that never pauses would win every race.
func race(s store.Store, reqs []store.ConsumeRequest, name string) ([]string, error) {
	var (
		mu    sync.Mutex
		won   []string
		first error
		wg    sync.WaitGroup
	)
	for g := 0; g < helperGoroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, i := range mrand.Perm(len(reqs)) {
				time.Sleep(time.Duration(mrand.IntN(500)) * time.Microsecond)
				req := reqs[i]
				req.At = time.Now()
				req.Presentation.Session = name
				_, err := s.Consume(ctx, req)
				mu.Lock()
				switch {
				case err == nil:
					won = append(won, req.ID)
				case errors.Is(err, store.ErrUsed):
				case first == nil:
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return won, first
}

func helperCmd(t *testing.T, mode, path string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), append([]string{helperEnv + "=" + mode, pathEnv + "=" + path}, env...)...)
	cmd.Stderr = os.Stderr
	return cmd
}

// TestProcesses races three processes (this one and two children) to
// consume the same 200 tokens: every token is won exactly once, and its
// record names the process that won it.
func TestProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	const n = 200
	dir := t.TempDir()
	path := filepath.Join(dir, "shared.db")
	s := open(t, path)
	recs := make([]store.Record, n)
	reqs := make([]store.ConsumeRequest, n)
	var lines strings.Builder
	for i := range recs {
		recs[i], reqs[i] = token(t, fmt.Sprint("p", i))
		fmt.Fprintf(&lines, "%s %x %s\n", recs[i].ID, recs[i].SecretHash, recs[i].Member)
	}
	if err := s.Insert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte(lines.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	type child struct {
		name string
		cmd  *exec.Cmd
		in   io.WriteCloser
		out  *bufio.Scanner
	}
	var children []*child
	for _, name := range []string{"child-1", "child-2"} {
		c := &child{name: name, cmd: helperCmd(t, "consume", path, tokensEnv+"="+tokens, nameEnv+"="+name)}
		in, err := c.cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		c.in, c.out = in, bufio.NewScanner(out)
		if err := c.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.cmd.Process.Kill(); c.cmd.Wait() })
		children = append(children, c)
	}
	for _, c := range children {
		if !c.out.Scan() || c.out.Text() != "ready" {
			t.Fatalf("%s did not get ready: %q %v", c.name, c.out.Text(), c.out.Err())
		}
	}
	for _, c := range children {
		if _, err := io.WriteString(c.in, "go\n"); err != nil {
			t.Fatal(err)
		}
	}
	winners := map[string][]string{} // id -> names of the processes that won it
	mine, err := race(s, reqs, "parent")
	if err != nil {
		t.Fatalf("parent: %v", err)
	}
	for _, id := range mine {
		winners[id] = append(winners[id], "parent")
	}
	for _, c := range children {
		for c.out.Scan() {
			line := c.out.Text()
			if id, ok := strings.CutPrefix(line, "won "); ok {
				winners[id] = append(winners[id], c.name)
			} else if strings.HasPrefix(line, "error ") {
				t.Errorf("%s: %s", c.name, line)
			}
		}
		if err := c.cmd.Wait(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	counts := map[string]int{}
	for _, r := range recs {
		w := winners[r.ID]
		if len(w) != 1 {
			t.Fatalf("token %s won by %v, want exactly one process", r.ID, w)
		}
		got, err := s.Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != store.StatusConsumed || got.Consumer.Session != w[0] {
			t.Fatalf("token %s: status %v, consumer %q, winner %s", r.ID, got.Status, got.Consumer.Session, w[0])
		}
		counts[w[0]]++
	}
	if len(winners) != n {
		t.Fatalf("%d tokens won, want %d", len(winners), n)
	}
	t.Logf("tokens won: %v", counts)
}

// TestProcessesOpenFresh opens one fresh file from three processes at once:
// the migrations run once and every process can use the store.
func TestProcessesOpenFresh(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	path := filepath.Join(t.TempDir(), "fresh.db")
	var cmds []*exec.Cmd
	for i := 0; i < 3; i++ {
		cmd := helperCmd(t, "open", path)
		cmd.Stdout = os.Stdout
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("process %d: %v", i, err)
		}
	}
	s := open(t, path)
	rec, req := token(t, "m")
	if err := s.Insert(ctx, []store.Record{rec}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Consume(ctx, req); err != nil {
		t.Fatal(err)
	}
}

// TestReopen checks that records, consumptions, holds, watermarks and
// events survive closing and reopening the file.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reopen.db")
	n := store.Micro(time.Now())
	used, usedReq := token(t, "ann")
	kept, _ := token(t, "bob")
	s, err := sqlitestore.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Insert(ctx, []store.Record{used, kept}); err != nil {
		t.Fatal(err)
	}
	usedReq.Presentation = store.Presentation{Identity: "member:ann", Session: "s-1"}
	if _, err := s.Consume(ctx, usedReq); err != nil {
		t.Fatal(err)
	}
	if err := s.Freeze(ctx, store.Hold{Scope: store.ScopeBatch, Key: "b", Since: n, Reason: "incident"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Watermark(ctx, "carol", n); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, store.Event{At: n, Kind: store.EventFrozen, Batch: "b", Actor: "ops"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the file must be readable by its owner only: %v %v", fi.Mode(), err)
	}
	s = open(t, path)
	got, err := s.Get(ctx, used.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.StatusConsumed || !got.ConsumedAt.Equal(usedReq.At) || got.Consumer != usedReq.Presentation {
		t.Fatalf("consumption lost on reopen: %+v", got)
	}
	if _, err := s.Consume(ctx, usedReq); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("Consume after reopen: %v, want ErrUsed", err)
	}
	if r, err := s.Get(ctx, kept.ID); err != nil || r.Status != store.StatusIssued || r.SecretHash != kept.SecretHash {
		t.Fatalf("Get(kept) = %+v, %v", r, err)
	}
	holds, err := s.Holds(ctx)
	if err != nil || len(holds) != 1 || holds[0].Reason != "incident" || !holds[0].Since.Equal(n) {
		t.Fatalf("Holds after reopen = %+v, %v", holds, err)
	}
	marks, err := s.Marks(ctx)
	if err != nil || len(marks) != 1 || marks[0].Member != "carol" || !marks[0].Before.Equal(n) {
		t.Fatalf("Marks after reopen = %+v, %v", marks, err)
	}
	evs, _, err := s.Events(ctx, store.EventQuery{Kinds: []store.EventKind{store.EventFrozen}})
	if err != nil || len(evs) != 1 || evs[0].Actor != "ops" {
		t.Fatalf("Events after reopen = %+v, %v", evs, err)
	}
}

// lock holds the file's write lock from another connection until the test
// ends or release is called.
func lock(t *testing.T, path string) (release func()) {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			conn.ExecContext(ctx, "ROLLBACK")
			conn.Close()
			db.Close()
		})
	}
	t.Cleanup(release)
	return release
}

// TestBusy holds the write lock from another connection beyond the busy
// timeout: every write fails with ErrUnavailable, nothing is consumed,
// and reads go on.
func TestBusy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.db")
	s := open(t, path, sqlitestore.WithBusyTimeout(100*time.Millisecond))
	rec, req := token(t, "m")
	if err := s.Insert(ctx, []store.Record{rec}); err != nil {
		t.Fatal(err)
	}
	release := lock(t, path)

	start := time.Now()
	r, err := s.Consume(ctx, req)
	if !errors.Is(err, store.ErrUnavailable) || store.IsOutcome(err) {
		t.Fatalf("Consume under a held lock: %+v, %v; want ErrUnavailable", r, err)
	}
	if waited := time.Since(start); waited < 100*time.Millisecond {
		t.Fatalf("Consume gave up after %v, before the busy timeout", waited)
	}
	other, _ := token(t, "n")
	if err := s.Insert(ctx, []store.Record{other}); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Insert under a held lock: %v, want ErrUnavailable", err)
	}
	if _, err := s.Revoke(ctx, store.Filter{All: true}, time.Now()); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Revoke under a held lock: %v, want ErrUnavailable", err)
	}
	if err := s.Freeze(ctx, store.Hold{Scope: store.ScopeGlobal}); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Freeze under a held lock: %v, want ErrUnavailable", err)
	}
	// A deadline shorter than the busy timeout ends the wait too.
	long := open(t, path, sqlitestore.WithBusyTimeout(time.Minute))
	dctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = long.Consume(dctx, req)
	cancel()
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Consume past its deadline: %v, want ErrUnavailable", err)
	}
	if _, err := s.Peek(ctx, req); err != nil {
		t.Fatalf("Peek under a held write lock: %v", err)
	}

	release()
	if r, err := s.Get(ctx, rec.ID); err != nil || r.Status != store.StatusIssued {
		t.Fatalf("a refused Consume changed the record: %+v, %v", r, err)
	}
	if _, err := s.Get(ctx, other.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused Insert left a record: %v", err)
	}
	if _, err := s.Consume(ctx, req); err != nil {
		t.Fatalf("Consume after the lock is released: %v", err)
	}
}

// TestUnwritable opens files that cannot be used: every one is refused with
// ErrUnavailable.
func TestUnwritable(t *testing.T) {
	dir := t.TempDir()
	notDB := filepath.Join(dir, "not.db")
	if err := os.WriteFile(notDB, []byte(strings.Repeat("not a database ", 512)), 0o600); err != nil {
		t.Fatal(err)
	}
	regular := filepath.Join(dir, "file")
	if err := os.WriteFile(regular, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(dir, "foreign.db")
	db, err := sql.Open("sqlite", foreign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE t (x INTEGER); PRAGMA user_version = 3"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	newer := filepath.Join(dir, "newer.db")
	s := open(t, newer)
	s.Close()
	db, err = sql.Open("sqlite", newer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA user_version = 999"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	for _, tc := range []struct{ name, path string }{
		{"missing directory", filepath.Join(dir, "missing", "x.db")},
		{"under a file", filepath.Join(regular, "x.db")},
		{"a directory", dir},
		{"not a database", notDB},
		{"another application's file", foreign},
		{"a newer schema", newer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sqlitestore.Open(ctx, tc.path)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("Open: %v, want ErrUnavailable", err)
			}
		})
	}
	t.Run("read-only file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "ro.db")
		s := open(t, path)
		rec, _ := token(t, "m")
		if err := s.Insert(ctx, []store.Record{rec}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		readOnly(t, path)
		s, err := sqlitestore.Open(ctx, path)
		if err == nil {
			s.Close()
			t.Fatal("Open of a read-only file succeeded")
		}
		if !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("Open of a read-only file: %v, want ErrUnavailable", err)
		}
	})
	for _, tc := range []struct {
		name string
		opts []sqlitestore.Option
	}{
		{"no busy timeout", []sqlitestore.Option{sqlitestore.WithBusyTimeout(0)}},
		{"no readers", []sqlitestore.Option{sqlitestore.WithReaders(0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := sqlitestore.Open(ctx, filepath.Join(dir, "x.db"), tc.opts...); !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("Open: %v, want ErrInvalid", err)
			}
		})
	}
	if _, err := sqlitestore.Open(ctx, ":memory:"); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("Open(:memory:): %v, want ErrInvalid", err)
	}
}

// readOnly makes path unwritable: by its mode, or, for root, which ignores
// modes, by the immutable attribute.
func readOnly(t *testing.T, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(path, 0o444); err != nil {
			t.Fatal(err)
		}
		return
	}
	if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
		t.Skipf("running as root and cannot make the file immutable (chattr +i: %v %s)", err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", path).Run() })
}

// TestErrorsHoldNoSecrets checks that no error string of a refusal or a
// failure contains the secret hash or the state presented.
func TestErrorsHoldNoSecrets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "errs.db")
	s := open(t, path, sqlitestore.WithBusyTimeout(20*time.Millisecond))
	rec, req := token(t, "m")
	st := sha256.Sum256([]byte("state"))
	rec.State = st[:]
	if err := s.Insert(ctx, []store.Record{rec}); err != nil {
		t.Fatal(err)
	}
	wrong := req
	wrong.SecretHash[0] ^= 1
	var errs []error
	for _, r := range []store.ConsumeRequest{wrong, req} {
		_, err := s.Consume(ctx, r)
		errs = append(errs, err)
	}
	errs = append(errs, s.Insert(ctx, []store.Record{rec}))
	lock(t, path)
	_, err := s.Consume(ctx, req)
	errs = append(errs, err, s.Insert(ctx, []store.Record{rec}))
	for _, err := range errs {
		if err == nil {
			t.Fatal("expected an error")
		}
		msg := strings.ToLower(err.Error())
		for _, secret := range [][]byte{req.SecretHash[:], wrong.SecretHash[:], st[:]} {
			if strings.Contains(msg, hex.EncodeToString(secret)) || strings.Contains(msg, string(secret)) {
				t.Fatalf("error %q holds a hash", msg)
			}
		}
	}
}

// TestConsumeDuringThaw races consumers against a hold placed and lifted
// over and over: every answer is a success, ErrFrozen or ErrUsed, and every
// token is won exactly once. (The rare path where the refusal read finds no
// reason is tested directly in TestConsumeTx.)
func TestConsumeDuringThaw(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "thaw.db"))
	const n = 100
	recs := make([]store.Record, n)
	reqs := make([]store.ConsumeRequest, n)
	for i := range recs {
		recs[i], reqs[i] = token(t, fmt.Sprint("t", i))
	}
	if err := s.Insert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	toggled := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				_, err := s.Thaw(ctx, store.ScopeGlobal, "")
				toggled <- err
				return
			default:
			}
			if err := s.Freeze(ctx, store.Hold{Scope: store.ScopeGlobal}); err != nil {
				toggled <- err
				return
			}
			if _, err := s.Thaw(ctx, store.ScopeGlobal, ""); err != nil {
				toggled <- err
				return
			}
		}
	}()
	wins := make([]int, n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; round < 3; round++ {
				for _, i := range mrand.Perm(n) {
					req := reqs[i]
					req.At = time.Now()
					_, err := s.Consume(ctx, req)
					switch {
					case err == nil:
						mu.Lock()
						wins[i]++
						mu.Unlock()
					case errors.Is(err, store.ErrFrozen), errors.Is(err, store.ErrUsed):
					default:
						t.Errorf("Consume: %v", err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	if err := <-toggled; err != nil {
		t.Fatal(err)
	}
	for i := range reqs {
		req := reqs[i]
		req.At = time.Now()
		if _, err := s.Consume(ctx, req); err == nil {
			wins[i]++
		} else if !errors.Is(err, store.ErrUsed) {
			t.Fatalf("Consume after the thaw: %v", err)
		}
		if wins[i] != 1 {
			t.Fatalf("token %d won %d times", i, wins[i])
		}
	}
}

// TestInvalidRequests checks the arguments this store refuses beyond the
// suite's: a consume request without a time and malformed ledger cursors.
func TestInvalidRequests(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "invalid.db"))
	rec, req := token(t, "m")
	if err := s.Insert(ctx, []store.Record{rec}); err != nil {
		t.Fatal(err)
	}
	req.At = time.Time{}
	if _, err := s.Consume(ctx, req); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("Consume without a time: %v, want ErrInvalid", err)
	}
	if _, err := s.Peek(ctx, req); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("Peek without a time: %v, want ErrInvalid", err)
	}
	if r, err := s.Get(ctx, rec.ID); err != nil || r.Status != store.StatusIssued {
		t.Fatalf("Get = %+v, %v", r, err)
	}
	for _, c := range []string{"x", "1.2", "1.0.zz", "1.0.00", "1.2.x", "1.3.1", "a.0." + strings.Repeat("0", 32)} {
		if _, _, err := s.Events(ctx, store.EventQuery{After: c}); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("Events after %q: %v, want ErrInvalid", c, err)
		}
	}
}
