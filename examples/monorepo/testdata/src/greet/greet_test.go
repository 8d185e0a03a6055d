package greet

import "testing"

func TestHello(t *testing.T) {
	if got, want := Hello("api"), "hello from api"; got != want {
		t.Fatalf("Hello(api) = %q, want %q", got, want)
	}
}
