// Package greet is the code the monorepo's two commands share.
package greet

import "fmt"

// Hello is the greeting of the service named name.
func Hello(name string) string {
	return fmt.Sprintf("hello from %s", name)
}
