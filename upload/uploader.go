package upload

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"time"
)

// Options configure an Uploader. Zero values take the defaults noted.
type Options struct {
	URL        string   // --upload; empty: local copies only
	Format     string   // --upload-format: "", "otlp" or "pyroscope"
	CAFile     string   // --upload-ca
	Headers    []string // --upload-header "Name: value"
	Resource   Resource
	Version    string        // ours, for the OTLP scope
	Timeout    time.Duration // per request (10s)
	QueueSize  int           // periods waiting at most (30)
	QueueBytes int64         // encoded bytes waiting at most (64 MiB)
	OutputDir  string        // --output-dir: a pprof file per period
	Keep       int           // files kept in OutputDir (100)
	Getenv     func(string) string
	Log        *slog.Logger
	// Backoff bounds the wait between tries of one period (1s doubling
	// to 15s, each wait drawn from its upper half for jitter).
	BackoffMin, BackoffMax time.Duration
}

// Stats are the uploader's counters, for the health line and the summary.
type Stats struct {
	Periods int64 // cut
	Sent    int64 // accepted by the backend
	Bytes   int64 // sent in accepted requests
	Retries int64 // tries after a failed one
	Dropped int64 // pushed out of the full queue, or unsent at exit
	Failed  int64 // refused for good by the backend, or not encodable
	Saved   int64 // local copies written
	Empty   int64 // periods without samples: kept locally, not sent
	Queued  int   // waiting now
	LastErr string
}

// Uploader queues periods and sends them from one goroutine, in order.
type Uploader struct {
	o    Options
	ep   Endpoint
	snd  sender // nil without a URL
	keep *keeper

	mu      sync.Mutex
	queue   []payload // oldest first
	bytes   int64
	stats   Stats
	wake    chan struct{}
	closing bool
	flushBy time.Time // when closing: give up then
	done    chan struct{}
	cancel  context.CancelFunc // of the request in flight, at the flush deadline
}

// New checks the options (a bad URL, header, CA file or credentials fail
// here, before any sampling) and starts the sending goroutine.
func New(o Options) (*Uploader, error) {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 30
	}
	if o.QueueBytes <= 0 {
		o.QueueBytes = 64 << 20
	}
	if o.Keep <= 0 {
		o.Keep = 100
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = time.Second
	}
	if o.BackoffMax < o.BackoffMin {
		o.BackoffMax = max(15*time.Second, o.BackoffMin)
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.URL == "" && o.OutputDir == "" {
		return nil, errors.New("nothing to do: give --upload URL or --output-dir DIR")
	}
	u := &Uploader{o: o, wake: make(chan struct{}, 1), done: make(chan struct{})}
	if o.OutputDir != "" {
		k, err := newKeeper(o.OutputDir, o.Keep)
		if err != nil {
			return nil, err
		}
		u.keep = k
	}
	if o.URL == "" {
		close(u.done)
		return u, nil
	}
	ep, hdr, tc, err := check(o)
	if err != nil {
		return nil, err
	}
	u.ep = ep
	if u.snd, err = newSender(ep, tc, hdr, o.Resource, o.Version); err != nil {
		return nil, err
	}
	go u.run()
	return u, nil
}

// Check reports what New would refuse in the URL, format, headers,
// credentials and CA file, so that a command line fails before it attaches.
func Check(o Options) error {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.OutputDir != "" {
		if _, err := newKeeper(o.OutputDir, 1); err != nil {
			return err
		}
	}
	if o.URL == "" {
		return nil
	}
	_, _, _, err := check(o)
	return err
}

func check(o Options) (Endpoint, map[string]string, *tls.Config, error) {
	ep, err := ParseEndpoint(o.URL, o.Format)
	if err != nil {
		return ep, nil, nil, err
	}
	hdr, err := headers(o.Headers, o.Getenv)
	if err != nil {
		return ep, nil, nil, err
	}
	tc, err := tlsConfig(o.CAFile)
	if err != nil {
		return ep, nil, nil, err
	}
	if o.CAFile != "" && !ep.TLS {
		return ep, nil, nil, fmt.Errorf("--upload-ca is for TLS, but %s is plain text: use https://, otlps:// or pyroscopes://", o.URL)
	}
	return ep, hdr, tc, nil
}

// Endpoint is where periods go.
func (u *Uploader) Endpoint() Endpoint { return u.ep }

// Submit keeps a local copy of the period and queues it for sending; it
// never waits for the backend. When the queue is full, the oldest periods
// make room and are counted as dropped.
func (u *Uploader) Submit(per Period) {
	u.mu.Lock()
	u.stats.Periods++
	u.mu.Unlock()
	if u.keep != nil {
		err := u.keep.save(per)
		u.mu.Lock()
		if err != nil {
			u.stats.LastErr = err.Error()
			u.o.Log.Warn("upload: local copy", "err", err)
		} else {
			u.stats.Saved++
		}
		u.mu.Unlock()
	}
	if u.snd == nil {
		return
	}
	if per.Profile.Total() == 0 {
		// Nothing to tell the backend (an OTLP request would carry no
		// resource at all).
		u.mu.Lock()
		u.stats.Empty++
		u.mu.Unlock()
		return
	}
	p, err := u.snd.encode(per)
	u.mu.Lock()
	defer u.mu.Unlock()
	if err != nil {
		u.stats.Failed++
		u.stats.LastErr = fmt.Sprintf("period %d: encode: %v", per.Seq, err)
		return
	}
	if u.closing {
		u.stats.Dropped++
		return
	}
	u.queue = append(u.queue, p)
	u.bytes += int64(len(p.body))
	for len(u.queue) > 0 && (len(u.queue) > u.o.QueueSize || u.bytes > u.o.QueueBytes) {
		u.bytes -= int64(len(u.queue[0].body))
		u.queue[0] = payload{}
		u.queue = u.queue[1:]
		u.stats.Dropped++
	}
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

// Stats returns the counters now.
func (u *Uploader) Stats() Stats {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.stats
	s.Queued = len(u.queue)
	return s
}

// Close sends what is queued until flushBy, then gives up on the rest
// (counted as dropped) and releases the connection.
func (u *Uploader) Close(flushBy time.Duration) Stats {
	u.mu.Lock()
	u.closing = true
	u.flushBy = time.Now().Add(flushBy)
	u.mu.Unlock()
	select {
	case u.wake <- struct{}{}:
	default:
	}
	if u.snd != nil {
		t := time.NewTimer(flushBy)
		select {
		case <-u.done:
		case <-t.C:
			u.mu.Lock()
			if u.cancel != nil {
				u.cancel()
			}
			u.mu.Unlock()
			<-u.done
		}
		t.Stop()
		u.snd.close()
	}
	return u.Stats()
}

// run sends the oldest queued period until it is accepted, refused for
// good, or pushed out of the queue; between failed tries it waits with
// exponential backoff and jitter.
func (u *Uploader) run() {
	defer close(u.done)
	backoff := time.Duration(0)
	for {
		u.mu.Lock()
		if len(u.queue) == 0 {
			if u.closing {
				u.mu.Unlock()
				return
			}
			u.mu.Unlock()
			<-u.wake
			continue
		}
		if u.closing && time.Now().After(u.flushBy) {
			u.stats.Dropped += int64(len(u.queue))
			u.queue, u.bytes = nil, 0
			u.mu.Unlock()
			return
		}
		p := u.queue[0]
		timeout := u.o.Timeout
		if u.closing {
			timeout = min(timeout, time.Until(u.flushBy))
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		u.cancel = cancel
		u.mu.Unlock()

		began := time.Now()
		err := u.snd.send(ctx, p)
		cancel()
		u.o.Log.Debug("upload: sent", "period", p.seq, "took", time.Since(began), "err", err)

		u.mu.Lock()
		u.cancel = nil
		// The period may have been pushed out while it was in flight.
		head := len(u.queue) > 0 && u.queue[0].seq == p.seq
		switch {
		case err == nil:
			u.stats.Sent++
			u.stats.Bytes += int64(len(p.body))
			if u.stats.LastErr != "" {
				u.o.Log.Info("upload: sending again", "to", u.o.URL)
			}
			u.stats.LastErr = ""
			backoff = 0
		case retryable(err):
			if u.stats.LastErr != err.Error() {
				u.o.Log.Warn("upload: will retry", "period", p.seq, "err", err)
			}
			u.stats.LastErr = err.Error()
			u.stats.Retries++
		default:
			u.o.Log.Warn("upload: period refused", "period", p.seq, "err", err)
			u.stats.LastErr = err.Error()
			u.stats.Failed++
			backoff = 0
		}
		if head && (err == nil || !retryable(err)) {
			u.bytes -= int64(len(p.body))
			u.queue[0] = payload{}
			u.queue = u.queue[1:]
		}
		closing, flushBy := u.closing, u.flushBy
		u.mu.Unlock()
		if err == nil || !retryable(err) {
			continue
		}
		backoff = min(max(2*backoff, u.o.BackoffMin), u.o.BackoffMax)
		// Jitter within [backoff/2, backoff]: never longer than the cap,
		// so a backend back from an outage is tried within one cap.
		wait := time.Duration(float64(backoff) * (0.5 + rand.Float64()/2))
		if closing {
			// Flushing: a short pause, not the backoff.
			wait = min(200*time.Millisecond, time.Until(flushBy))
		}
		u.sleep(wait)
	}
}

// sleep waits d, or less when Close starts.
func (u *Uploader) sleep(d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return
		case <-u.wake:
			u.mu.Lock()
			closing := u.closing
			u.mu.Unlock()
			if closing {
				return
			}
		}
	}
}
