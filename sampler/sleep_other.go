//go:build !linux

package sampler

import "time"

// preciseSleeper is Linux only; elsewhere the sampler uses Go timers.
type preciseSleeper struct{}

func newPreciseSleeper() *preciseSleeper            { return &preciseSleeper{} }
func (p *preciseSleeper) ok() bool                  { return false }
func (p *preciseSleeper) sleepUntil(time.Time) bool { return false }
func (p *preciseSleeper) wake()                     {}
func (p *preciseSleeper) close()                    {}
