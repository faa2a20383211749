package main

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pyspyglass/pyspyglass/attach"
	"github.com/pyspyglass/pyspyglass/internal/testutil"
	"github.com/pyspyglass/pyspyglass/sampler"
	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// TestFollowPoolFirstPoll attaches with --subprocesses to the parent of a
// 16-worker multiprocessing pool on every interpreter found and checks that
// the first poll for children opens every worker, and that a short
// recording then holds each worker's parked task under its own process root.
// The interpreters run one after the other: 17 processes each.
func TestFollowPoolFirstPoll(t *testing.T) {
	interps := testutil.Interpreters(t)
	if len(interps) == 0 {
		t.Skip("no Python interpreter found")
	}
	const workers = 16
	for _, in := range interps {
		t.Run(in.Name, func(t *testing.T) {
			proc := testutil.Spawn(t, in, "pool.py", strconv.Itoa(workers))
			var want []int
			for _, f := range strings.Split(proc.Field("workers"), ",") {
				pid, err := strconv.Atoi(f)
				if err != nil {
					t.Fatalf("readiness %q: %v", proc.Ready, err)
				}
				want = append(want, pid)
			}
			if len(want) != workers {
				t.Fatalf("%d workers reported, want %d", len(want), workers)
			}
			tf := &targetFlags{pids: []int{proc.Pid}, subprocesses: true, rate: 100}
			p := prof.New(time.Now())
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s, err := openSession(ctx, tf, nil, attach.LaunchOptions{}, p, sampler.Options{Rate: 100, Idle: true, Duration: 300 * time.Millisecond},
				slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			start := time.Now()
			s.poll(map[int]int{})
			t.Logf("first poll opened %d processes in %v", len(s.sampler.Pids())-1, time.Since(start))
			got := s.sampler.Pids()
			for _, pid := range want {
				if !slices.Contains(got, pid) {
					t.Errorf("worker %d not opened by the first poll (opened %v)", pid, got)
				}
			}
			if err := s.sampler.Run(ctx); err != nil {
				t.Fatal(err)
			}
			// Every worker's task, under its own process root.
			seen := map[int]bool{}
			for _, c := range p.Counts() {
				st := p.Stacks[c.Stack]
				if len(st) > 1 && p.Frames[st[len(st)-1]].Name == "pool_task" {
					seen[p.Threads[c.Thread].Pid] = true
				}
			}
			for _, pid := range want {
				if !seen[pid] {
					t.Errorf("no sample of pool_task in worker %d", pid)
				}
			}
		})
	}
}
