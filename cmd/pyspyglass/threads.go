package main

import (
	"github.com/pyspyglass/pyspyglass/sampler"
	"github.com/spf13/pflag"
)

// threadFlags are --thread and --tid, shared by record, top and dump.
type threadFlags struct {
	patterns []string
	tids     []int
}

func (tf *threadFlags) bind(fs *pflag.FlagSet) {
	fs.StringArrayVar(&tf.patterns, "thread", nil, "only threads whose Python or OS name matches this `REGEX` (repeatable)")
	fs.Var((*tidsValue)(&tf.tids), "tid", "only the thread with this native thread id (repeatable)")
}

func (tf *threadFlags) filter() (sampler.ThreadFilter, error) {
	return sampler.ParseThreadFilter(tf.patterns, tf.tids)
}
