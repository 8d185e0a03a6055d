package decompile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The Dockerfile a decompile writes uses the default escape character, and
// quotes every value so that nothing in it can change the meaning of the
// file: the shell lexer of the frontend sees a backslash before each
// character it would otherwise treat specially.

// checkText reports values the Dockerfile format cannot carry in any form:
// the parser reads lines of UTF-8 text and the lexer reads runes.
func checkText(what, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s %q is not valid UTF-8, which a Dockerfile cannot hold", what, s)
	}
	if strings.ContainsRune(s, 0) {
		return fmt.Errorf("%s %q holds a NUL byte, which a Dockerfile cannot hold", what, s)
	}
	return nil
}

// word quotes s for an instruction argument the frontend expands as one
// word (COPY paths, WORKDIR, USER, VOLUME, STOPSIGNAL): every character the
// lexer treats specially gets a backslash. The result holds no whitespace
// only if s holds none; callers that split on whitespace use JSON form then.
func word(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\', '$', '\'', '"':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// userWord is u as the word of USER: "" for no user, which USER of an
// ARG without a value leaves.
func userWord(u string) string {
	if u == "" {
		return `""`
	}
	return word(u)
}

// value quotes s as the value of ENV, ARG or LABEL: in double quotes, with
// the three characters the lexer reads there escaped.
func value(s string) (string, error) {
	if strings.ContainsAny(s, "\n\r") {
		return "", fmt.Errorf("value %q holds a line break, which ENV, ARG and LABEL cannot say", s)
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '\\', '$', '"':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String(), nil
}

// jsonList writes a JSON array of strings without HTML escaping, the exec
// form of RUN, CMD, ENTRYPOINT, SHELL and VOLUME.
func jsonList(items []string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if items == nil {
		items = []string{}
	}
	if err := enc.Encode(items); err != nil {
		// Encoding a []string cannot fail.
		panic(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// plainLine reports whether s can stand as the rest of an instruction line
// unquoted (the shell form of RUN, CMD and HEALTHCHECK): one line, no
// leading or trailing space the parser would trim, not read as JSON or a
// heredoc, and not ending in the escape character.
func plainLine(s string) bool {
	if s == "" || strings.ContainsAny(s, "\n\r\x00") || !utf8.ValidString(s) {
		return false
	}
	if strings.TrimSpace(s) != s || strings.HasPrefix(s, "[") || strings.Contains(s, "<<") {
		return false
	}
	if strings.HasSuffix(s, "\\") {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\t' {
			return false
		}
	}
	return true
}

// plainWord reports whether a quoted word can stand in a shell-form
// argument list: no whitespace, not starting with "[" or "<<", not empty.
func plainWord(s string) bool {
	if s == "" || strings.HasPrefix(s, "[") || strings.HasPrefix(s, "<<") || strings.HasPrefix(s, "--") {
		return false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// args writes a list of expanded words (COPY sources and destination,
// VOLUME paths) in shell form when each is a plain word, else in JSON form.
func args(items []string) string {
	quoted := make([]string, len(items))
	plain := true
	for i, s := range items {
		quoted[i] = word(s)
		plain = plain && plainWord(quoted[i])
	}
	if plain {
		return strings.Join(quoted, " ")
	}
	return jsonList(quoted)
}

func validKey(k string) bool {
	return k != "" && !strings.ContainsAny(k, "= \t\n\r\"'\\$") && checkText("name", k) == nil
}

// pairName writes the name of an ENV or LABEL pair: plain when it can be,
// else in double quotes, which the frontend removes when it expands the
// name (ENV $X=1 of an empty X sets the name "", written ""=1). A name with
// '=' cannot be written: the parser splits a pair at its first '='.
func pairName(k string) (string, bool) {
	if validKey(k) {
		return k, true
	}
	if strings.Contains(k, "=") || checkText("name", k) != nil {
		return "", false
	}
	q, err := value(k)
	return q, err == nil
}

// heredocBody is data as the body of a heredoc named name, with its
// terminator, when data is lines of text and no line ends the heredoc early.
func heredocBody(name, data string) (string, error) {
	if !strings.HasSuffix(data, "\n") || checkText("heredoc", data) != nil || strings.Contains(data, "\r") {
		return "", fmt.Errorf("not a heredoc")
	}
	for _, l := range strings.Split(strings.TrimSuffix(data, "\n"), "\n") {
		if strings.TrimSpace(l) == name {
			return "", fmt.Errorf("a line ends the heredoc")
		}
	}
	return data + name, nil
}

// checkFlag refuses flag values that would change the flag's meaning.
func checkFlag(f string) error {
	if err := checkText("flag", f); err != nil {
		return err
	}
	if strings.ContainsAny(f, " \t\n\r\"'\\$") {
		return fmt.Errorf("flag %q holds characters a Dockerfile flag cannot carry", f)
	}
	return nil
}
