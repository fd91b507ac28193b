package app

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acteon/acteon-go/internal/config"
)

// testPKI is a CA with one server and one client certificate, as PEM files.
type testPKI struct {
	dir                           string
	caPool                        *x509.CertPool
	clientCert                    tls.Certificate
	caPath, serverCert, serverKey string
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	p := &testPKI{dir: dir}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	p.caPool = x509.NewCertPool()
	p.caPool.AddCert(ca)
	p.caPath = writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER)

	issue := func(name string, serial int64, usage x509.ExtKeyUsage, signer *x509.Certificate, signerKey *ecdsa.PrivateKey) (string, string, tls.Certificate) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
			KeyUsage: x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalECPrivateKey(key)
		cp := writePEM(t, dir, name+".pem", "CERTIFICATE", der)
		kp := writePEM(t, dir, name+"-key.pem", "EC PRIVATE KEY", kb)
		pair, err := tls.LoadX509KeyPair(cp, kp)
		if err != nil {
			t.Fatal(err)
		}
		return cp, kp, pair
	}
	p.serverCert, p.serverKey, _ = issue("server", 2, x509.ExtKeyUsageServerAuth, ca, caKey)
	_, _, p.clientCert = issue("client", 3, x509.ExtKeyUsageClientAuth, ca, caKey)
	return p
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// serveConfig runs App.Serve with the given config text on a free port
// and returns the address; the server stops at the end of the test.
func serveConfig(t *testing.T, cfgText string) string {
	t.Helper()
	cfg, _, err := config.Parse([]byte("[server]\nport = 0\n"+cfgText), filepath.Join(t.TempDir(), "acteon.toml"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := Build(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, func(addr string) { addrc <- addr }) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case addr := <-addrc:
		return addr
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	return ""
}

func tlsGet(addr string, tc *tls.Config) (int, error) {
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 20 * time.Second}
	defer c.CloseIdleConnections()
	resp, err := c.Get("https://" + addr + "/health")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func TestTLSAndClientCertificates(t *testing.T) {
	p := newTestPKI(t)
	base := fmt.Sprintf("[tls]\nenabled = true\n[tls.server]\ncert_path = %q\nkey_path = %q\n", p.serverCert, p.serverKey)

	t.Run("server certificate", func(t *testing.T) {
		addr := serveConfig(t, base)
		if code, err := tlsGet(addr, &tls.Config{RootCAs: p.caPool}); err != nil || code != 200 {
			t.Fatalf("https: %d %v", code, err)
		}
		// Plain HTTP to a TLS port gets no API answer.
		resp, err := http.Get("http://" + addr + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				t.Error("plain HTTP served")
			}
		}
	})
	t.Run("mTLS required", func(t *testing.T) {
		addr := serveConfig(t, base+fmt.Sprintf("client_ca_path = %q\n", p.caPath))
		if code, err := tlsGet(addr, &tls.Config{RootCAs: p.caPool, Certificates: []tls.Certificate{p.clientCert}}); err != nil || code != 200 {
			t.Fatalf("with a client certificate: %d %v", code, err)
		}
		if code, err := tlsGet(addr, &tls.Config{RootCAs: p.caPool}); err == nil {
			t.Fatalf("without a client certificate: %d, want a handshake failure", code)
		}
		// A certificate from another CA is refused.
		other := newTestPKI(t)
		if code, err := tlsGet(addr, &tls.Config{RootCAs: p.caPool, Certificates: []tls.Certificate{other.clientCert}}); err == nil {
			t.Fatalf("foreign client certificate: %d", code)
		}
	})
	t.Run("mTLS verify_if_given", func(t *testing.T) {
		addr := serveConfig(t, base+fmt.Sprintf("client_ca_path = %q\nclient_auth = \"verify_if_given\"\n", p.caPath))
		if code, err := tlsGet(addr, &tls.Config{RootCAs: p.caPool}); err != nil || code != 200 {
			t.Fatalf("without a certificate: %d %v", code, err)
		}
		other := newTestPKI(t)
		if _, err := tlsGet(addr, &tls.Config{RootCAs: p.caPool, Certificates: []tls.Certificate{other.clientCert}}); err == nil {
			t.Fatal("foreign client certificate accepted")
		}
	})
	t.Run("bad files fail the start", func(t *testing.T) {
		cfg, _, err := config.Parse([]byte(fmt.Sprintf("[tls]\nenabled = true\n[tls.server]\ncert_path = %q\nkey_path = %q\n", p.caPath, p.serverKey)), "x.toml")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Build(cfg, Options{}); err == nil || !strings.Contains(err.Error(), "[tls]") {
			t.Fatalf("mismatched key pair: %v", err)
		}
	})
}

// TestSlowClientsAndHugeHeaders: a client that never finishes its headers
// is disconnected (slowloris), and oversized headers get 431.
func TestSlowClientsAndHugeHeaders(t *testing.T) {
	addr := serveConfig(t, "read_header_timeout_seconds = 1\nmax_header_bytes = 2048\n")

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: "); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err = io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server kept a connection with unfinished headers open for 30 s")
	}

	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	fmt.Fprintf(c2, "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", 8192))
	resp, err := http.ReadResponse(bufio.NewReader(c2), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("huge header: %d, want 431", resp.StatusCode)
	}
}
