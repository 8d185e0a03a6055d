// Command worker is the monorepo's batch worker: it works through its
// jobs and exits.
package main

import (
	"flag"
	"fmt"

	"example.com/monorepo/greet"
)

func main() {
	jobs := flag.Int("jobs", 3, "how many jobs to process")
	flag.Parse()
	fmt.Println(greet.Hello("worker"))
	for i := 1; i <= *jobs; i++ {
		fmt.Printf("processed job %d\n", i)
	}
}
