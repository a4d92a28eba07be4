// Package ddblocal runs DynamoDB engines on this machine: minidyn's server
// in-process (the embedded database of `make run` and of the tests) and
// moto's server as a child process (the conformance engine of the tests).
package ddblocal

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/truora/minidyn/server"
)

// Embedded is minidyn's DynamoDB server on a loopback listener.
type Embedded struct {
	URL    string
	Server *server.Server // for failure emulation in tests
	srv    *http.Server
}

// StartEmbedded serves a fresh in-memory DynamoDB on addr ("" for
// 127.0.0.1 and a free port). Create every table before sending other
// requests: minidyn does not lock table creation.
func StartEmbedded(addr string) (*Embedded, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("embedded DynamoDB: %w", err)
	}
	e := &Embedded{URL: "http://" + l.Addr().String(), Server: server.NewServer()}
	e.srv = &http.Server{Handler: e.Server, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = e.srv.Serve(l) }()
	return e, nil
}

// Close stops the server.
func (e *Embedded) Close() error { return e.srv.Close() }

// Moto is a moto DynamoDB server process.
type Moto struct {
	URL string
	cmd *exec.Cmd
}

// ErrMotoMissing says moto is not installed (python3 -m moto.server).
var ErrMotoMissing = errors.New("moto is not installed: python3 -c 'import moto.server' failed (pip install 'moto[server]')")

// motoServer is moto's own server (`python3 -m moto.server`) with one
// change: a global lock around each request. moto serves requests on
// threads, and its TransactWriteItems rolls back by restoring a deep copy of
// the whole table taken when the transaction began, which erases writes that
// other threads made meanwhile (measured: 6 of 53 concurrent settles lost).
// Serialising requests makes each one atomic, which real DynamoDB
// guarantees; the races between our callers remain, at request granularity.
const motoServer = `
import sys, threading
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()
def serialised(environ, start_response):
    with lock:
        return list(app(environ, start_response))
run_simple(sys.argv[1], int(sys.argv[2]), serialised, threaded=True)
`

// StartMoto starts moto's DynamoDB server (see motoServer) on a free
// loopback port and waits until it answers.
func StartMoto(ctx context.Context) (*Moto, error) {
	if err := exec.CommandContext(ctx, "python3", "-c", "import moto.server, flask").Run(); err != nil {
		return nil, ErrMotoMissing
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("python3", "-c", motoServer, "127.0.0.1", strconv.Itoa(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if os.Getenv("MOTO_LOG") != "" {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting moto: %w", err)
	}
	m := &Moto{URL: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return m, nil
		}
	}
	m.Close()
	return nil, fmt.Errorf("moto did not start listening on %s", addr)
}

// Close stops the moto process.
func (m *Moto) Close() error {
	if m.cmd.Process != nil {
		_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
		_ = m.cmd.Wait()
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
