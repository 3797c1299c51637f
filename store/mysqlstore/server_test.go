package mysqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/oncelink/oncelink/internal/testenv"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/mysqlstore"
	"github.com/oncelink/oncelink/store/storetest"
)

// privateServer is a MariaDB server of the test's own, in a temporary data
// directory, on a port of its own: a test may crash it without touching
// the shared server.
type privateServer struct {
	t       *testing.T
	bin     string
	args    []string
	port    int
	cmd     *exec.Cmd
	exited  chan struct{}
	logPath string
}

// startPrivateServer installs a data directory and starts mariadbd on it.
// It skips when MariaDB's server binaries are not installed (fails when
// services are required), and stops the server by its PID at the end.
func startPrivateServer(t *testing.T) *privateServer {
	t.Helper()
	server, err1 := exec.LookPath("mariadbd")
	install, err2 := exec.LookPath("mariadb-install-db")
	if err1 != nil || err2 != nil {
		if testenv.Required() {
			t.Fatalf("mariadbd and mariadb-install-db are required (%s=1): %v %v", testenv.RequireEnv, err1, err2)
		}
		t.Skip("skipping: mariadbd or mariadb-install-db not installed (Debian package mariadb-server)")
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	out, err := exec.Command(install, "--no-defaults", "--datadir="+data, "--user="+me.Username,
		"--auth-root-authentication-method=normal", "--skip-test-db").CombinedOutput()
	if err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	p := &privateServer{t: t, bin: server, port: port, logPath: filepath.Join(dir, "error.log")}
	p.args = []string{"--no-defaults", "--datadir=" + data, "--user=" + me.Username,
		"--port=" + strconv.Itoa(port), "--bind-address=127.0.0.1", "--socket=" + filepath.Join(dir, "mysqld.sock"),
		"--pid-file=" + filepath.Join(dir, "mysqld.pid"), "--log-error=" + p.logPath,
		"--innodb-buffer-pool-size=16M", "--skip-log-bin", "--skip-name-resolve"}
	t.Cleanup(p.kill)
	p.start()
	return p
}

func (p *privateServer) start() {
	p.t.Helper()
	p.cmd = exec.Command(p.bin, p.args...)
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("mariadbd: %v", err)
	}
	p.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) { cmd.Wait(); close(exited) }(p.cmd, p.exited)
	db := p.rootDB("")
	defer db.Close()
	for i := 0; i < 120; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := db.PingContext(ctx)
		cancel()
		if err == nil {
			return
		}
		select {
		case <-p.exited:
			log, _ := os.ReadFile(p.logPath)
			p.t.Fatalf("mariadbd exited: %s", log)
		case <-time.After(500 * time.Millisecond):
		}
	}
	p.t.Fatal("mariadbd did not answer within a minute")
}

// kill stops the server at once, as a crash or a power loss would, by its
// PID.
func (p *privateServer) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Kill()
	<-p.exited
	p.cmd = nil
}

func (p *privateServer) config(db string) *mysql.Config { return p.userConfig("root", db) }

func (p *privateServer) userConfig(user, db string) *mysql.Config {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr, cfg.DBName = user, "tcp", "127.0.0.1:"+strconv.Itoa(p.port), db
	cfg.Timeout, cfg.Logger = time.Second, quiet
	return cfg
}

func (p *privateServer) rootDB(db string) *sql.DB {
	connector, err := mysql.NewConnector(p.config(db))
	if err != nil {
		p.t.Fatal(err)
	}
	return sql.OpenDB(connector)
}

// TestFaultServerRestart crashes a server of the test's own (SIGKILL) while
// the store is in use, and starts it again on the same data: what a call
// reported done is still done, outstanding links are intact, and the store
// works again without being reopened.
func TestFaultServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: starts a MariaDB server of its own")
	}
	srv := startPrivateServer(t)
	root := srv.rootDB("")
	if _, err := root.Exec("CREATE DATABASE test"); err != nil {
		t.Fatal(err)
	}
	root.Close()
	s, err := mysqlstore.Open(srv.config("test"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	recs, reqs := storetest.Tokens(t, 3, "restart")
	if err := s.Insert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	reqs[0].Presentation.Session = "before-crash"
	if _, err := s.Consume(ctx, reqs[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.Freeze(ctx, store.Hold{Scope: store.ScopeBatch, Key: "other", Since: time.Now(), Reason: "r"}); err != nil {
		t.Fatal(err)
	}

	srv.kill()
	more, _ := storetest.Tokens(t, 1, "restart")
	storetest.WantUnavailable(t, "Insert while down", time.Second, func(ctx context.Context) error { return s.Insert(ctx, more) })
	storetest.WantUnavailable(t, "Consume while down", time.Second, func(ctx context.Context) error { _, err := s.Consume(ctx, reqs[1]); return err })
	storetest.WantUnavailable(t, "Peek while down", time.Second, func(ctx context.Context) error { _, err := s.Peek(ctx, reqs[2]); return err })

	srv.start()
	r, err := s.Get(ctx, recs[0].ID)
	if err != nil {
		t.Fatalf("Get after the restart: %v", err)
	}
	if r.Status != store.StatusConsumed || r.Consumer.Session != "before-crash" || r.ConsumedAt.IsZero() {
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

// The grants README.md gives, on a database named site.
var (
	migratorGrants = []string{
		"GRANT CREATE, ALTER, ALTER ROUTINE, CREATE ROUTINE, SELECT, INSERT ON site.* TO 'migrator'@'%'",
	}
	appGrants = []string{
		"GRANT SELECT, INSERT, UPDATE, DELETE ON site.oncelink_tokens TO 'app'@'%'",
		"GRANT SELECT, INSERT, UPDATE, DELETE ON site.oncelink_guards TO 'app'@'%'",
		"GRANT SELECT, INSERT, DELETE         ON site.oncelink_events TO 'app'@'%'",
		"GRANT SELECT, INSERT, UPDATE, DELETE ON site.oncelink_hits TO 'app'@'%'",
		"GRANT SELECT                         ON site.oncelink_migrations TO 'app'@'%'",
		"GRANT SELECT, INSERT                 ON site.oncelink_seq TO 'app'@'%'",
		"GRANT EXECUTE ON PROCEDURE site.oncelink_check   TO 'app'@'%'",
		"GRANT EXECUTE ON PROCEDURE site.oncelink_consume TO 'app'@'%'",
		"GRANT EXECUTE ON PROCEDURE site.oncelink_fail    TO 'app'@'%'",
		"GRANT EXECUTE ON PROCEDURE site.oncelink_hit     TO 'app'@'%'",
	}
)

// TestGrants migrates as a user with only the migrator's grants of
// README.md and runs every operation as a user with only the
// application's, on a server of the test's own (users are server-wide).
func TestGrants(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: starts a MariaDB server of its own")
	}
	srv := startPrivateServer(t)
	root := srv.rootDB("")
	defer root.Close()
	run := func(qs ...string) {
		t.Helper()
		for _, q := range qs {
			if _, err := root.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	run("CREATE DATABASE site", "CREATE USER 'migrator'@'%'", "CREATE USER 'app'@'%'")
	run(migratorGrants...)
	ctx := context.Background()
	m, err := mysqlstore.Open(srv.userConfig("migrator", "site"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Migrate(ctx); err != nil {
		t.Fatalf("Migrate with the migrator's grants: %v", err)
	}
	run(appGrants...)
	s, err := mysqlstore.Open(srv.userConfig("app", "site"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	everyOperation(t, s)
	if err := s.Migrate(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Migrate with the application's grants: %v, want ErrUnavailable", err)
	}
}

// everyOperation runs each method of the store once, successfully.
func everyOperation(t *testing.T, s *mysqlstore.Store) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	recs, reqs := storetest.Tokens(t, 3, "grants")
	unconfirmed, mismatched := reqs[2], reqs[2]
	unconfirmed.Confirmation, mismatched.Confirmation = store.Unconfirmed, store.Mismatched
	steps := []struct {
		name string
		fn   func() error
	}{
		{"Ping", func() error { return s.Ping(ctx) }},
		{"Insert", func() error { return s.Insert(ctx, recs) }},
		{"Peek", func() error { _, err := s.Peek(ctx, reqs[0]); return err }},
		{"Peek unconfirmed", func() error { _, err := s.Peek(ctx, unconfirmed); return err }},
		{"Consume", func() error { _, err := s.Consume(ctx, reqs[0]); return err }},
		{"Consume mismatched", func() error { _, err := s.Consume(ctx, mismatched); return notErr(err, store.ErrMismatch) }},
		{"Fail", func() error { _, err := s.Fail(ctx, recs[1].ID, now, 5); return err }},
		{"Get", func() error { _, err := s.Get(ctx, recs[1].ID); return err }},
		{"Revoke", func() error { _, err := s.Revoke(ctx, store.Filter{IDs: []string{recs[1].ID}}, now); return err }},
		{"Watermark", func() error { return s.Watermark(ctx, "m-2", now.Add(-time.Hour)) }},
		{"WatermarkNow", func() error { _, err := s.WatermarkNow(ctx, "m-2"); return err }},
		{"Marks", func() error { _, err := s.Marks(ctx); return err }},
		{"Freeze", func() error { return s.Freeze(ctx, store.Hold{Scope: store.ScopeBatch, Key: "grants", Since: now}) }},
		{"Holds", func() error { _, err := s.Holds(ctx); return err }},
		{"Thaw", func() error { _, err := s.Thaw(ctx, store.ScopeBatch, "grants"); return err }},
		{"Records", func() error { _, err := s.Records(ctx, store.RecordQuery{Filter: store.Filter{All: true}}); return err }},
		{"Count", func() error { _, err := s.Count(ctx, store.Filter{Batches: []string{"grants"}}); return err }},
		{"Tally", func() error { _, err := s.Tally(ctx, store.Filter{All: true}, now); return err }},
		{"Batches", func() error { _, err := s.Batches(ctx, store.BatchQuery{}); return err }},
		{"Append", func() error { return s.Append(ctx, store.Event{At: now, Kind: store.EventRefused, Reason: "r"}) }},
		{"Events", func() error { _, _, err := s.Events(ctx, store.EventQuery{Batch: "grants"}); return err }},
		{"Hit", func() error { _, err := s.Hit(ctx, "grants", time.Minute, now); return err }},
		{"Purge", func() error { _, err := s.Purge(ctx, now.Add(3*time.Hour)); return err }},
	}
	for _, st := range steps {
		if err := st.fn(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
	}
}

// notErr returns nil for the outcome want, and err otherwise.
func notErr(err, want error) error {
	if errors.Is(err, want) {
		return nil
	}
	return fmt.Errorf("got %v, want %w", err, want)
}
