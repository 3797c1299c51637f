//go:build linux

package postgresstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sys/unix"

	"github.com/oncelink/oncelink/internal/testenv"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/postgresstore"
	"github.com/oncelink/oncelink/store/storetest"
)

// privateServer is a PostgreSQL server of the test's own: a cluster made
// by initdb in a temporary directory, trust authentication, a free port on
// 127.0.0.1 and a unix socket in the same directory. A test may stop or
// crash it without touching the shared server. PostgreSQL refuses to run
// as root: a test running as root runs initdb and the server as the
// postgres system user.
type privateServer struct {
	bin     string // the directory of initdb and postgres
	dir     string
	data    string
	port    int
	cred    *syscall.Credential // nil: as the test's own user
	logPath string

	cmd     *exec.Cmd // nil while stopped
	exited  chan struct{}
	started bool
}

// startPrivateServer makes a cluster and starts the server on it. It skips
// when PostgreSQL's server binaries or, running as root, the postgres user
// are missing (fails when services are required), and stops the server by
// its PID when the test ends.
func startPrivateServer(t *testing.T) *privateServer {
	t.Helper()
	bin, err := postgresBin()
	if err != nil {
		unavailableServer(t, err)
	}
	cred, err := serverUser()
	if err != nil {
		unavailableServer(t, err)
	}
	if err := becomeSubreaper(); err != nil {
		unavailableServer(t, err)
	}
	// Not t.TempDir: its parent is private to the test's user, and the
	// server's user must reach the directory.
	dir, err := os.MkdirTemp("", "oncelink-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("removing the server's directory: %v", err)
		}
	})
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	p := &privateServer{bin: bin, dir: dir, data: filepath.Join(dir, "data"), cred: cred,
		logPath: filepath.Join(dir, "server.log")}
	initdb := p.command(filepath.Join(bin, "initdb"), "-D", p.data, "-U", "postgres", "--auth=trust",
		"-E", "UTF8", "--no-locale", "--no-instructions")
	var out bytes.Buffer
	initdb.Stdout, initdb.Stderr = &out, &out
	if err := initdb.Start(); err != nil {
		unavailableServer(t, fmt.Errorf("running initdb as the server's user: %w", err))
	}
	if err := initdb.Wait(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out.Bytes())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	t.Cleanup(func() { p.cleanup(t) })
	p.start(t)
	return p
}

// unavailableServer skips the test, or fails it when services are required.
func unavailableServer(t *testing.T, err error) {
	t.Helper()
	if testenv.Required() {
		t.Fatalf("a PostgreSQL server of the test's own is required (%s=1): %v", testenv.RequireEnv, err)
	}
	t.Skipf("skipping: cannot start a PostgreSQL server of the test's own: %v", err)
}

// postgresBin returns the bin directory of the newest PostgreSQL installed
// in Debian's layout, /usr/lib/postgresql/<version>/bin.
func postgresBin() (string, error) {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	var dirs []string
	for _, f := range found {
		if _, err := os.Stat(filepath.Join(filepath.Dir(f), "initdb")); err == nil {
			dirs = append(dirs, filepath.Dir(f))
		}
	}
	if len(dirs) == 0 {
		return "", errors.New("no initdb and postgres under /usr/lib/postgresql/<version>/bin (Debian package postgresql)")
	}
	major := func(dir string) int {
		v := filepath.Base(filepath.Dir(dir))
		n, _ := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
		return n
	}
	sort.Slice(dirs, func(i, j int) bool { return major(dirs[i]) > major(dirs[j]) })
	return dirs[0], nil
}

// serverUser returns the credentials to run PostgreSQL with: none when the
// test does not run as root, else the postgres user's, without root's
// supplementary groups.
func serverUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("the test runs as root, which PostgreSQL refuses, and there is no postgres user to run it as: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("the postgres user's ids %q and %q are not numbers", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// command prepares a command that runs as the server's user, in the
// server's directory, and is killed if the test process dies first.
func (p *privateServer) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = p.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred, Pdeathsig: syscall.SIGKILL}
	return cmd
}

// start starts the server on the cluster and port, and waits, for at most
// a minute, until it accepts connections.
func (p *privateServer) start(t testing.TB) {
	t.Helper()
	log, err := os.OpenFile(p.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	// Small and quiet, and as durable as a production server: fsync,
	// synchronous_commit and full_page_writes keep their defaults.
	p.cmd = p.command(filepath.Join(p.bin, "postgres"), "-D", p.data,
		"-p", strconv.Itoa(p.port), "-k", p.dir, "-c", "listen_addresses=127.0.0.1",
		"-c", "max_connections=20", "-c", "shared_buffers=16MB", "-c", "autovacuum=off",
		"-c", "wal_level=minimal", "-c", "max_wal_senders=0", "-c", "logging_collector=off")
	p.cmd.Stdout, p.cmd.Stderr = log, log
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("postgres: %v", err)
	}
	p.started = true
	p.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) { cmd.Wait(); close(exited) }(p.cmd, p.exited)
	cfg, err := pgx.ParseConfig(p.url("oncelink-ready"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnectTimeout = time.Second
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			err = conn.Ping(ctx)
			conn.Close(ctx)
		}
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("postgres on port %d did not answer within a minute: %v\n%s", p.port, err, p.log())
		}
		select {
		case <-p.exited:
			p.cmd = nil
			t.Fatalf("postgres exited: %s", p.log())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop shuts the server down by its PID with SIGINT, a fast shutdown:
// sessions are ended, and the server writes a checkpoint and exits.
func (p *privateServer) stop(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatalf("SIGINT to postgres: %v", err)
	}
	select {
	case <-p.exited:
		p.cmd = nil
	case <-time.After(time.Minute):
		t.Fatalf("postgres did not shut down within a minute: %s", p.log())
	}
	p.reap(t)
}

// crash kills the postmaster with SIGKILL, as the kernel's out-of-memory
// killer would. Its children notice and exit on their own; crash waits for
// them, since a server cannot start while the old one's shared memory is
// attached to them. The next start replays the WAL.
func (p *privateServer) crash(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatalf("SIGKILL to postgres: %v", err)
	}
	<-p.exited
	p.cmd = nil
	p.reap(t)
}

// cleanup stops the server if it runs, fast, then by SIGKILL if it does
// not exit within 30 seconds; it leaves no process and no shared memory
// behind.
func (p *privateServer) cleanup(t testing.TB) {
	if !p.started {
		return
	}
	if p.cmd != nil {
		p.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			t.Errorf("postgres did not shut down within 30 s; killing it: %s", p.log())
			p.cmd.Process.Kill()
			<-p.exited
		}
		p.cmd = nil
	}
	for _, pid := range orphans() {
		syscall.Kill(pid, syscall.SIGKILL) // a child a killed postmaster left, by its PID
	}
	p.reap(t)
	p.removeSegment()
}

// reap waits, for at most a minute, until the children of a killed
// postmaster have exited, and collects them.
func (p *privateServer) reap(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		left := orphans()
		if len(left) == 0 {
			return
		}
		for _, pid := range left {
			var ws syscall.WaitStatus
			syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		}
		if time.Now().After(deadline) {
			t.Errorf("processes %v of the PostgreSQL server did not exit within a minute", left)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// removeSegment removes the small System V shared memory segment that a
// killed postmaster leaves behind (a fast shutdown removes its own, and a
// start one that a crash left): the one postmaster.pid names, if its key is
// the one named there too and nothing is attached to it.
func (p *privateServer) removeSegment() {
	b, err := os.ReadFile(filepath.Join(p.data, "postmaster.pid"))
	if err != nil {
		return // shut down cleanly, or never started
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 7 {
		return
	}
	f := strings.Fields(lines[6]) // the segment's key and id
	if len(f) != 2 {
		return
	}
	key, err1 := strconv.ParseInt(f[0], 10, 32)
	id, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return
	}
	var desc unix.SysvShmDesc
	if _, err := unix.SysvShmCtl(id, unix.IPC_STAT, &desc); err != nil || int64(desc.Perm.Key) != key || desc.Nattch != 0 {
		return
	}
	unix.SysvShmCtl(id, unix.IPC_RMID, nil)
}

// running reports whether the server was started and has not been stopped.
func (p *privateServer) running() bool { return p.cmd != nil }

// url is the server's URL for an application name.
func (p *privateServer) url(app string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&application_name=%s", p.port, app)
}

// pool connects to the server with the given application name and maximum
// number of connections, and closes the pool when the test ends.
func (p *privateServer) pool(t testing.TB, app string, maxConns int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(p.url(app))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func (p *privateServer) log() []byte {
	b, _ := os.ReadFile(p.logPath)
	return b
}

var (
	subreaper    sync.Once
	subreaperErr error
)

// becomeSubreaper makes the test process the parent of the processes its
// children leave behind (PR_SET_CHILD_SUBREAPER): the children of a killed
// postmaster, which the test waits for before it starts a server on the
// same data again.
func becomeSubreaper() error {
	subreaper.Do(func() {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			subreaperErr = fmt.Errorf("PR_SET_CHILD_SUBREAPER: %w", err)
		}
	})
	return subreaperErr
}

// orphans returns the postgres processes whose parent is this process,
// running or exited: the children of a killed postmaster. The test process
// starts no other postgres process of its own but postmasters, which it
// waits for.
func orphans() []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		stat := string(b)
		lp, rp := strings.IndexByte(stat, '('), strings.LastIndexByte(stat, ')')
		if lp < 0 || rp < lp {
			continue
		}
		f := strings.Fields(stat[rp+1:])
		if len(f) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == self && stat[lp+1:rp] == "postgres" {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestFaultServerRestart takes a server of the test's own away while the
// store is in use and starts it again on the same data and port: after a
// fast shutdown, and after a crash (SIGKILL of the postmaster; the start
// replays the WAL). While it is down every call fails with ErrUnavailable
// within its deadline; afterwards a consumed token stays consumed,
// outstanding ones are intact, a hold is in place, and the store works
// again without being reopened.
func TestFaultServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: starts a PostgreSQL server of its own")
	}
	srv := startPrivateServer(t)
	for _, tc := range []struct {
		name string
		down func(*privateServer, testing.TB)
	}{
		{"fast shutdown", (*privateServer).stop},
		{"crash", (*privateServer).crash},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !srv.running() {
				srv.start(t) // after a failure of the case before
			}
			restart(t, srv, func() { tc.down(srv, t) })
		})
	}
}

// restart runs one stop and start of srv (down stops it) on a store in a
// schema of its own.
func restart(t *testing.T, srv *privateServer, down func()) {
	s, err := postgresstore.New(srv.pool(t, "oncelink-restart", 4), postgresstore.WithSchema(randomName(t, "oncelink_test_")))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	recs, reqs := storetest.Tokens(t, 3, "restart")
	if err := s.Insert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	reqs[0].Presentation.Session = "before-stop"
	if _, err := s.Consume(ctx, reqs[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.Freeze(ctx, store.Hold{Scope: store.ScopeBatch, Key: "other", Since: time.Now(), Reason: "r"}); err != nil {
		t.Fatal(err)
	}

	down()
	more, _ := storetest.Tokens(t, 1, "restart")
	storetest.WantUnavailable(t, "Insert while down", time.Second, func(ctx context.Context) error { return s.Insert(ctx, more) })
	storetest.WantUnavailable(t, "Consume while down", time.Second, func(ctx context.Context) error { _, err := s.Consume(ctx, reqs[1]); return err })
	storetest.WantUnavailable(t, "Peek while down", time.Second, func(ctx context.Context) error { _, err := s.Peek(ctx, reqs[2]); return err })

	srv.start(t)
	time.Sleep(1200 * time.Millisecond) // let the pool check its dead connections on acquire
	r, err := s.Get(ctx, recs[0].ID)
	if err != nil {
		t.Fatalf("Get after the restart: %v", err)
	}
	if r.Status != store.StatusConsumed || r.Consumer.Session != "before-stop" || r.ConsumedAt.IsZero() {
		t.Fatalf("consumed record after the restart: %+v", r)
	}
	if _, err := s.Consume(ctx, reqs[0]); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("Consume of a consumed token after the restart: %v, want ErrUsed", err)
	}
	for _, rec := range recs[1:] {
		g, err := s.Get(ctx, rec.ID)
		if err != nil || g.Status != store.StatusIssued || g.SecretHash != rec.SecretHash || g.Member != rec.Member {
			t.Fatalf("outstanding record after the restart: %+v, %v", g, err)
		}
	}
	if holds, err := s.Holds(ctx); err != nil || len(holds) != 1 {
		t.Fatalf("holds after the restart: %v, %v", holds, err)
	}
	if _, err := s.Consume(ctx, reqs[1]); err != nil {
		t.Fatalf("Consume after the restart: %v", err)
	}
	if err := s.Insert(ctx, more); err != nil {
		t.Fatalf("Insert after the restart: %v", err)
	}
}
