package main

import (
	"bytes"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"errors"
	"fmt"
	"io"
	"os"
)

// mainSymbol is the entry point a DSL program calls. The linker drops
// unreachable functions, so the symbol is in a binary only if its main
// can call cli.Main.
const mainSymbol = "github.com/slipway-build/slipway/cli.Main"

// programSymbol is the entry point of a program with several targets.
const programSymbol = "github.com/slipway-build/slipway/cli.Program.Main"

// checkProgram reports why the binary at path is not a DSL program: a
// library package (go build wrote an archive), or a program that never calls
// cli.Main. It reads the symbol table and does not run anything.
func checkProgram(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, 8)
	if _, err := io.ReadFull(f, head); err != nil {
		return fmt.Errorf("reading the built file: %w", err)
	}
	if bytes.Equal(head, []byte("!<arch>\n")) {
		return errors.New("it is not a main package (a DSL program is a command whose main calls cli.Main)")
	}
	names, err := symbols(f)
	if err != nil {
		return fmt.Errorf("reading the symbols of the built program: %w", err)
	}
	for _, n := range names {
		if n == mainSymbol || n == programSymbol {
			return nil
		}
	}
	return errors.New("its main does not call cli.Main or cli.Program.Main")
}

func symbols(f io.ReaderAt) ([]string, error) {
	if ef, err := elf.NewFile(f); err == nil {
		syms, err := ef.Symbols()
		if err != nil {
			return nil, err
		}
		names := make([]string, len(syms))
		for i, s := range syms {
			names[i] = s.Name
		}
		return names, nil
	}
	if mf, err := macho.NewFile(f); err == nil {
		if mf.Symtab == nil {
			return nil, errors.New("no symbol table")
		}
		names := make([]string, len(mf.Symtab.Syms))
		for i, s := range mf.Symtab.Syms {
			names[i] = s.Name
		}
		return names, nil
	}
	if pf, err := pe.NewFile(f); err == nil {
		names := make([]string, len(pf.Symbols))
		for i, s := range pf.Symbols {
			names[i] = s.Name
		}
		return names, nil
	}
	return nil, errors.New("not an executable this machine knows")
}
