// Command pythons prints which Python interpreters the tests will run and
// which expected versions they skip; make test runs it first.
package main

import (
	"fmt"

	"github.com/pyspyglass/pyspyglass/internal/testutil"
)

func main() { fmt.Println(testutil.DiscoverySummary()) }
