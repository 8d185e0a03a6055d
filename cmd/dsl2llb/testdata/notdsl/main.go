// Command notdsl is a Go program that is not a DSL program, for dsl2llb's
// tests: it must never be run.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Println("not LLB")
	os.Exit(3)
}
