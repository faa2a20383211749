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

func (p *pidsValue) Type() string { return "PID" }
func (p *pidsValue) String() string {
	var s []string
	for _, pid := range *p {
		s = append(s, strconv.Itoa(pid))
	}
	return strings.Join(s, ",")
}
func (p *pidsValue) Set(s string) error {
	for _, f := range strings.Split(s, ",") {
		pid, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || pid <= 0 {
			return fmt.Errorf("%q is not a process id (a positive number, as ps or pgrep print it)", f)
		}
		*p = append(*p, pid)
	}
	return nil
}
