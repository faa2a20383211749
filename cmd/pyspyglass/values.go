package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// rateValue is --rate: a positive number of samples per second, rejected
// at parse time when out of range rather than clamped.
type rateValue float64

const maxRate = 1e6

func (r *rateValue) String() string { return strconv.FormatFloat(float64(*r), 'g', -1, 64) }
func (r *rateValue) Type() string   { return "HZ" }
func (r *rateValue) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("%q is not a number of samples per second", s)
	}
	if v <= 0 || v > maxRate {
		return fmt.Errorf("rate %v out of range (0, %v]", v, maxRate)
	}
	*r = rateValue(v)
	return nil
}

// secondsValue is --duration: seconds ("10", "2.5") or a Go duration ("1m").
type secondsValue time.Duration

func (d *secondsValue) String() string {
	if *d == 0 {
		return "0" // pflag leaves a zero default out of the help
	}
	return time.Duration(*d).String()
}
func (d *secondsValue) Type() string { return "SECONDS" }
func (d *secondsValue) Set(s string) error {
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		if v <= 0 {
			return fmt.Errorf("duration %v must be positive", v)
		}
		*d = secondsValue(v * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		return fmt.Errorf("%q is not a positive number of seconds", s)
	}
	*d = secondsValue(v)
	return nil
}

// pidsValue is --pid: process ids, repeated or comma separated. Its own
// type keeps pflag's "ints" out of the help and strconv out of the errors.
type pidsValue []int

func (p *pidsValue) Type() string       { return "PID" }
func (p *pidsValue) String() string     { return joinIDs(*p) }
func (p *pidsValue) Set(s string) error { return addIDs((*[]int)(p), s, "process id", "ps or pgrep") }

// tidsValue is --tid: native thread ids, as pidsValue.
type tidsValue []int

func (p *tidsValue) Type() string       { return "TID" }
func (p *tidsValue) String() string     { return joinIDs(*p) }
func (p *tidsValue) Set(s string) error { return addIDs((*[]int)(p), s, "thread id", "dump or ps -L") }

func joinIDs(ids []int) string {
	var s []string
	for _, id := range ids {
		s = append(s, strconv.Itoa(id))
	}
	return strings.Join(s, ",")
}

func addIDs(ids *[]int, s, what, from string) error {
	for _, f := range strings.Split(s, ",") {
		id, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || id <= 0 {
			return fmt.Errorf("%q is not a %s (a positive number, as %s print it)", f, what, from)
		}
		*ids = append(*ids, id)
	}
	return nil
}
