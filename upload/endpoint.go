package upload

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
)

// Protocol is how periods are sent.
type Protocol int

const (
	OTLPGRPC  Protocol = iota // OTLP profiles over gRPC
	OTLPHTTP                  // OTLP profiles over HTTP (protobuf body)
	Pyroscope                 // Pyroscope's POST /ingest with a pprof body
)

func (p Protocol) String() string {
	return [...]string{"OTLP/gRPC", "OTLP/HTTP", "Pyroscope"}[p]
}

// Endpoint is a parsed --upload URL.
type Endpoint struct {
	Protocol Protocol
	TLS      bool
	Host     string // host:port
	URL      string // full URL for the HTTP protocols
}

// The OTLP/HTTP path of the profiles signal while it is in development.
const otlpProfilesPath = "/v1development/profiles"

// ParseEndpoint reads --upload URL (and --upload-format: "", "otlp" or
// "pyroscope"). The forms:
//
//	otlp://HOST[:4317]         OTLP/gRPC, plain text (otlps:// for TLS)
//	http(s)://HOST[:PORT][/v1development/profiles]   OTLP/HTTP
//	pyroscope://HOST[:4040]    Pyroscope (pyroscopes:// for TLS)
//	http(s)://HOST[:PORT] with --upload-format pyroscope
func ParseEndpoint(raw, format string) (Endpoint, error) {
	const forms = "want otlp://HOST:PORT, http(s)://HOST:PORT/v1development/profiles or pyroscope://HOST:PORT"
	if format != "" && format != "otlp" && format != "pyroscope" {
		return Endpoint{}, fmt.Errorf("--upload-format %q: want otlp or pyroscope", format)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return Endpoint{}, fmt.Errorf("--upload %q is not a URL: %s", raw, forms)
	}
	if u.User != nil {
		return Endpoint{}, fmt.Errorf("--upload %q: put credentials in %s or %s/%s, not in the URL (it shows in ps)", raw, EnvToken, EnvUser, EnvPassword)
	}
	var e Endpoint
	port := ""
	switch u.Scheme {
	case "otlp", "otlps":
		e.Protocol, e.TLS, port = OTLPGRPC, u.Scheme == "otlps", "4317"
		if format == "pyroscope" {
			return Endpoint{}, fmt.Errorf("--upload %q is OTLP/gRPC, but --upload-format is pyroscope: give an http(s):// or pyroscope:// URL", raw)
		}
	case "pyroscope", "pyroscopes":
		e.Protocol, e.TLS, port = Pyroscope, u.Scheme == "pyroscopes", "4040"
		if format == "otlp" {
			return Endpoint{}, fmt.Errorf("--upload %q is Pyroscope, but --upload-format is otlp", raw)
		}
	case "http", "https":
		e.Protocol, e.TLS = OTLPHTTP, u.Scheme == "https"
		if format == "pyroscope" {
			e.Protocol = Pyroscope
		}
	default:
		return Endpoint{}, fmt.Errorf("--upload %q: unknown scheme %q: %s", raw, u.Scheme, forms)
	}
	e.Host = u.Host
	if u.Port() == "" && port != "" {
		e.Host = net.JoinHostPort(u.Hostname(), port)
	}
	if u.Port() != "" {
		if _, err := net.LookupPort("tcp", u.Port()); err != nil {
			return Endpoint{}, fmt.Errorf("--upload %q: bad port %q", raw, u.Port())
		}
	}
	scheme := "http"
	if e.TLS {
		scheme = "https"
	}
	path := strings.TrimSuffix(u.Path, "/")
	switch e.Protocol {
	case OTLPGRPC:
		if path != "" {
			return Endpoint{}, fmt.Errorf("--upload %q: an OTLP/gRPC address has no path", raw)
		}
	case OTLPHTTP:
		if path == "" {
			path = otlpProfilesPath
		}
		e.URL = scheme + "://" + e.Host + path
	case Pyroscope:
		if !strings.HasSuffix(path, "/ingest") {
			path += "/ingest"
		}
		e.URL = scheme + "://" + e.Host + path
	}
	return e, nil
}

// The environment variables that carry credentials: never flags, which
// any user can read with ps.
const (
	EnvToken    = "PYSPYGLASS_UPLOAD_TOKEN"    // Authorization: Bearer TOKEN
	EnvUser     = "PYSPYGLASS_UPLOAD_USER"     // basic auth, with
	EnvPassword = "PYSPYGLASS_UPLOAD_PASSWORD" // the password
)

// headers builds the request headers: --upload-header "Name: value"
// lines and the Authorization from the environment.
func headers(lines []string, getenv func(string) string) (map[string]string, error) {
	h := map[string]string{}
	for _, l := range lines {
		name, val, ok := strings.Cut(l, ":")
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("--upload-header %q: want \"Name: value\"", l)
		}
		h[strings.ToLower(name)] = val
	}
	token, user, pass := getenv(EnvToken), getenv(EnvUser), getenv(EnvPassword)
	switch {
	case token != "" && user != "":
		return nil, fmt.Errorf("both %s and %s are set: give one", EnvToken, EnvUser)
	case token != "":
		h["authorization"] = "Bearer " + token
	case user != "":
		h["authorization"] = "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	case pass != "":
		return nil, fmt.Errorf("%s is set without %s", EnvPassword, EnvUser)
	}
	return h, nil
}

// tlsConfig trusts the system roots, plus caFile's certificates when given.
func tlsConfig(caFile string) (*tls.Config, error) {
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--upload-ca: %w", err)
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--upload-ca %s: no PEM certificate in it", caFile)
		}
	}
	return &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}, nil
}

// sendError says whether a failed send may succeed if tried again.
type sendError struct {
	retry bool
	err   error
}

func (e *sendError) Error() string { return e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }

func retryable(err error) bool {
	var se *sendError
	return errors.As(err, &se) && se.retry
}

// explainNet turns a transport error into a line that names the fix. TLS
// verification failures are not retried: they do not heal by waiting.
func explainNet(host string, err error) error {
	msg := err.Error()
	var cert *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	switch {
	case errors.As(err, &unknown) || strings.Contains(msg, "certificate signed by unknown authority"):
		return &sendError{false, fmt.Errorf("%s: TLS: the server's certificate is signed by an unknown authority: give its CA with --upload-ca FILE", host)}
	case errors.As(err, &hostErr) || strings.Contains(msg, "certificate is valid for"):
		return &sendError{false, fmt.Errorf("%s: TLS: the certificate does not name this host: %v", host, err)}
	case errors.As(err, &cert) || strings.Contains(msg, "x509:"):
		return &sendError{false, fmt.Errorf("%s: TLS: %v", host, err)}
	case strings.Contains(msg, "server gave HTTP response to HTTPS client") || strings.Contains(msg, "first record does not look like a TLS handshake"):
		return &sendError{false, fmt.Errorf("%s does not speak TLS: use http:// (or otlp://, pyroscope://)", host)}
	case strings.Contains(msg, "connection refused"):
		return &sendError{true, fmt.Errorf("%s refused the connection: is the backend running there?", host)}
	case strings.Contains(msg, "no such host"):
		return &sendError{true, fmt.Errorf("%s: no such host", host)}
	}
	return &sendError{true, fmt.Errorf("%s: %v", host, err)}
}
