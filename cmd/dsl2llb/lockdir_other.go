//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package main

// lockDir does not lock where flock is missing: concurrent runs on one
// package may race there.
func lockDir(string) (func(), error) { return func() {}, nil }
