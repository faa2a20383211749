package upload

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pprofile"
	"go.opentelemetry.io/collector/pdata/pprofile/pprofileotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/pyspyglass/pyspyglass/ui/render"
)

// payload is one encoded period, ready to send as many times as it takes.
type payload struct {
	seq         int
	from, until time.Time
	rate        float64 // requested samples per second
	body        []byte
	contentType string
}

// sender encodes periods for one backend and sends them.
type sender interface {
	encode(per Period) (payload, error)
	send(ctx context.Context, p payload) error
	close()
}

func newSender(e Endpoint, tc *tls.Config, hdr map[string]string, res Resource, version string) (sender, error) {
	switch e.Protocol {
	case OTLPGRPC:
		creds := insecure.NewCredentials()
		if e.TLS {
			creds = credentials.NewTLS(tc)
		}
		// Reconnect within seconds of a backend's restart, not gRPC's
		// default of up to two minutes.
		cp := grpc.ConnectParams{Backoff: backoff.DefaultConfig, MinConnectTimeout: 5 * time.Second}
		cp.Backoff.MaxDelay = 5 * time.Second
		cc, err := grpc.NewClient(e.Host, grpc.WithTransportCredentials(creds), grpc.WithConnectParams(cp))
		if err != nil {
			return nil, fmt.Errorf("--upload %s: %w", e.Host, err)
		}
		return &grpcSender{host: e.Host, cc: cc, client: pprofileotlp.NewGRPCClient(cc), md: metadata.New(hdr), res: res, version: version}, nil
	case OTLPHTTP:
		return &otlpHTTPSender{httpSender{url: e.URL, client: httpClient(tc), hdr: hdr}, res, version}, nil
	default:
		return &pyroscopeSender{httpSender{url: e.URL, client: httpClient(tc), hdr: hdr}, res}, nil
	}
}

func httpClient(tc *tls.Config) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	// A proxy from the environment would surprise more than help for a
	// backend named on the command line; and the redirect of a POST is not
	// followed either, so a wrong path shows as its status.
	tr.Proxy = nil
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func encodeOTLP(per Period, res Resource, version string) (payload, error) {
	body, err := (&pprofile.ProtoMarshaler{}).MarshalProfiles(toOTLP(per, res, version))
	if err != nil {
		return payload{}, err
	}
	return payload{seq: per.Seq, from: per.From, until: per.Until, body: body, contentType: "application/x-protobuf"}, nil
}

// grpcSender sends OTLP profiles with the collector's own gRPC client.
type grpcSender struct {
	host    string
	cc      *grpc.ClientConn
	client  pprofileotlp.GRPCClient
	md      metadata.MD
	res     Resource
	version string
}

func (s *grpcSender) encode(per Period) (payload, error) { return encodeOTLP(per, s.res, s.version) }

func (s *grpcSender) send(ctx context.Context, p payload) error {
	req := pprofileotlp.NewExportRequest()
	if err := req.UnmarshalProto(p.body); err != nil {
		return &sendError{false, err}
	}
	// After a failure, gRPC waits up to its own backoff before it dials
	// again; our retry has waited already, so dial now.
	s.cc.ResetConnectBackoff()
	resp, err := s.client.Export(metadata.NewOutgoingContext(ctx, s.md), req)
	if err != nil {
		st := status.Convert(err)
		switch st.Code() {
		case codes.Unavailable:
			return explainNet(s.host, fmt.Errorf("%s", st.Message()))
		case codes.ResourceExhausted, codes.DeadlineExceeded, codes.Aborted, codes.Canceled, codes.OutOfRange, codes.DataLoss:
			return &sendError{true, fmt.Errorf("%s: %s: %s", s.host, st.Code(), st.Message())}
		case codes.Unauthenticated, codes.PermissionDenied:
			return &sendError{false, fmt.Errorf("%s: %s: %s (set %s, or %s and %s)", s.host, st.Code(), st.Message(), EnvToken, EnvUser, EnvPassword)}
		}
		return &sendError{false, fmt.Errorf("%s: %s: %s", s.host, st.Code(), st.Message())}
	}
	if ps := resp.PartialSuccess(); ps.RejectedProfiles() > 0 {
		return &sendError{false, fmt.Errorf("%s rejected %d profiles: %s", s.host, ps.RejectedProfiles(), ps.ErrorMessage())}
	}
	return nil
}

func (s *grpcSender) close() { s.cc.Close() }

// httpSender posts a body and reads the status.
type httpSender struct {
	url    string
	client *http.Client
	hdr    map[string]string
}

func (s *httpSender) post(ctx context.Context, url string, body []byte, contentType string, extra map[string]string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return &sendError{false, err}
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "pyspyglass")
	for k, v := range extra {
		req.Header.Set(k, v)
	}
	for k, v := range s.hdr {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return explainNet(req.URL.Host, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	text := strings.Join(strings.Fields(string(bytes.ToValidUTF8(msg, nil))), " ")
	err = fmt.Errorf("%s answered %s", s.url, resp.Status)
	if text != "" && isText(msg) {
		err = fmt.Errorf("%w: %s", err, text)
	}
	switch resp.StatusCode {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return &sendError{true, err}
	case http.StatusUnauthorized, http.StatusForbidden:
		return &sendError{false, fmt.Errorf("%w (set %s, or %s and %s)", err, EnvToken, EnvUser, EnvPassword)}
	case http.StatusNotFound:
		return &sendError{false, fmt.Errorf("%w: is the path right?", err)}
	}
	return &sendError{false, err}
}

func isText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' {
			return false
		}
	}
	return true
}

func (s *httpSender) close() { s.client.CloseIdleConnections() }

// otlpHTTPSender posts OTLP profiles as protobuf.
type otlpHTTPSender struct {
	httpSender
	res     Resource
	version string
}

func (s *otlpHTTPSender) encode(per Period) (payload, error) {
	return encodeOTLP(per, s.res, s.version)
}

func (s *otlpHTTPSender) send(ctx context.Context, p payload) error {
	return s.post(ctx, s.url, p.body, p.contentType, map[string]string{pprofileotlp.DevelopmentVersionHeader: pprofileotlp.DevelopmentVersion})
}

// pyroscopeSender posts to Pyroscope's /ingest: the application name and
// labels, the time span and the rate in the query, the pprof file from our
// pprof writer as the "profile" part of a multipart form.
type pyroscopeSender struct {
	httpSender
	res Resource
}

func (s *pyroscopeSender) encode(per Period) (payload, error) {
	var pb bytes.Buffer
	if err := (render.Pprof{}).Write(&pb, per.Profile, render.Options{}); err != nil {
		return payload{}, err
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("profile", "profile.pprof")
	if err != nil {
		return payload{}, err
	}
	fw.Write(pb.Bytes())
	if err := mw.Close(); err != nil {
		return payload{}, err
	}
	return payload{seq: per.Seq, from: per.From, until: per.Until, rate: per.Profile.Health.Rate, body: body.Bytes(), contentType: mw.FormDataContentType()}, nil
}

func (s *pyroscopeSender) send(ctx context.Context, p payload) error {
	q := url.Values{}
	q.Set("name", pyroscopeName(s.res))
	q.Set("from", strconv.FormatInt(p.from.Unix(), 10))
	until := p.until.Unix()
	if until <= p.from.Unix() {
		until = p.from.Unix() + 1 // a period shorter than a second still spans one
	}
	q.Set("until", strconv.FormatInt(until, 10))
	q.Set("format", "pprof")
	q.Set("spyName", "pyspyglass")
	if r := p.rate; r > 0 {
		q.Set("sampleRate", strconv.FormatFloat(r, 'f', -1, 64))
	}
	return s.post(ctx, s.url+"?"+q.Encode(), p.body, p.contentType, nil)
}

// pyroscopeName is "service{hostname=HOST}": Pyroscope keys its series on
// the name and these labels (pid and thread are labels of the samples).
func pyroscopeName(res Resource) string {
	var labels []string
	if res.Host != "" {
		labels = append(labels, "hostname="+labelValue(res.Host))
	}
	name := res.Service
	if name == "" {
		name = "python"
	}
	if len(labels) == 0 {
		return name
	}
	return name + "{" + strings.Join(labels, ",") + "}"
}

// labelValue keeps a label value from breaking the name's syntax.
func labelValue(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ',', '{', '}', '=', ' ':
			return '_'
		}
		return r
	}, s)
}
