package config

import (
	"strconv"
	"strings"
)

// positions maps a TOML path, in the form the decoder prints it
// ("providers[1].name", "server.port", `circuit_breaker.providers."my.hook"`),
// to the 1-based line where that key, table header or array element first
// appears in the source.
//
// BurntSushi/toml records key positions but does not export them, so this is
// a small tolerant scanner over the source text. It understands table
// headers, arrays of tables (counting their elements, nested ones per parent
// element), dotted and quoted keys, inline tables, arrays (counting their
// elements) and all four string forms, so that text inside a multi-line
// string is never mistaken for a key. It runs only after the document parsed
// successfully; on input it does not understand it stops early and never
// panics.
type positions struct {
	lines map[string]int
}

// line returns the line of path, or of its nearest ancestor that has one; 0
// when nothing matches.
func (p *positions) line(path string) int {
	if p == nil {
		return 0
	}
	for path != "" {
		if l, ok := p.lines[path]; ok {
			return l
		}
		path = parentPath(path)
	}
	return 0
}

// parentPath strips the last segment ("a.b[2]" → "a.b", "a.b" → "a").
func parentPath(path string) string {
	// Scan from the end, skipping quoted segments.
	inQuote := false
	for i := len(path) - 1; i >= 0; i-- {
		c := path[i]
		switch {
		case c == '"' && (i == 0 || path[i-1] != '\\'):
			inQuote = !inQuote
		case inQuote:
		case c == '.':
			return path[:i]
		case c == '[':
			return path[:i]
		}
	}
	return ""
}

// joinKey appends a key segment to a path, quoting it when it is not a bare
// TOML key.
func joinKey(path, key string) string {
	k := quoteKey(key)
	if path == "" {
		return k
	}
	return path + "." + k
}

// joinIndex appends an array index to a path.
func joinIndex(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

func quoteKey(key string) string {
	if key == "" {
		return `""`
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return strconv.Quote(key)
		}
	}
	return key
}

type posScanner struct {
	src  string
	i    int
	line int
	out  map[string]int
	// arrays counts the elements seen so far of each array of tables, keyed
	// by the resolved path of the array ("state_machines[0].transitions").
	arrays map[string]int
	// depth bounds recursion on hostile input.
	depth int
}

const maxScanDepth = 64

func scanPositions(src string) *positions {
	s := &posScanner{src: src, line: 1, out: map[string]int{}, arrays: map[string]int{}}
	s.document()
	return &positions{lines: s.out}
}

func (s *posScanner) record(path string) {
	if path == "" {
		return
	}
	if _, ok := s.out[path]; !ok {
		s.out[path] = s.line
	}
}

func (s *posScanner) eof() bool { return s.i >= len(s.src) }

func (s *posScanner) peek() byte {
	if s.eof() {
		return 0
	}
	return s.src[s.i]
}

func (s *posScanner) advance() {
	if s.eof() {
		return
	}
	if s.src[s.i] == '\n' {
		s.line++
	}
	s.i++
}

// skipSpace skips spaces and tabs (and \r), and also newlines and comments
// when nl is set.
func (s *posScanner) skipSpace(nl bool) {
	for !s.eof() {
		switch c := s.peek(); {
		case c == ' ' || c == '\t' || c == '\r':
			s.advance()
		case c == '\n' && nl:
			s.advance()
		case c == '#' && nl:
			s.skipLine()
		default:
			return
		}
	}
}

func (s *posScanner) skipLine() {
	for !s.eof() && s.peek() != '\n' {
		s.advance()
	}
}

func (s *posScanner) document() {
	table := ""
	for {
		s.skipSpace(true)
		if s.eof() {
			return
		}
		start := s.i
		if s.peek() == '[' {
			table = s.header()
		} else {
			s.keyValue(table)
		}
		if s.i == start { // no progress: give up rather than loop
			return
		}
		s.skipSpace(false)
		if s.peek() == '#' {
			s.skipLine()
		}
	}
}

// header parses "[a.b]" or "[[a.b]]" and returns the resolved table path.
func (s *posScanner) header() string {
	s.advance() // [
	arr := false
	if s.peek() == '[' {
		arr = true
		s.advance()
	}
	keys := s.dottedKey()
	s.skipSpace(false)
	if s.peek() == ']' {
		s.advance()
	}
	if arr && s.peek() == ']' {
		s.advance()
	}
	// Resolve each prefix against arrays of tables seen so far, so that
	// [[a.b]] after [[a]] lands in a[n].b.
	path := ""
	for j, k := range keys {
		path = joinKey(path, k)
		last := j == len(keys)-1
		if last && arr {
			n := s.arrays[path]
			s.arrays[path] = n + 1
			s.record(path)
			path = joinIndex(path, n)
			s.record(path)
			continue
		}
		if n, ok := s.arrays[path]; ok && n > 0 {
			path = joinIndex(path, n-1)
		}
		s.record(path)
	}
	return path
}

// dottedKey reads a possibly dotted, possibly quoted key.
func (s *posScanner) dottedKey() []string {
	var keys []string
	for {
		s.skipSpace(false)
		k, ok := s.simpleKey()
		if !ok {
			return keys
		}
		keys = append(keys, k)
		s.skipSpace(false)
		if s.peek() != '.' {
			return keys
		}
		s.advance()
	}
}

func (s *posScanner) simpleKey() (string, bool) {
	switch c := s.peek(); {
	case c == '"':
		return s.basicString(), true
	case c == '\'':
		return s.literalString(), true
	default:
		start := s.i
		for !s.eof() {
			c := s.peek()
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
				s.advance()
				continue
			}
			break
		}
		return s.src[start:s.i], s.i > start
	}
}

// basicString reads a "..." string (not multi-line) and returns its
// unescaped-enough content (escapes other than \" and \\ are kept verbatim;
// keys with such escapes are rare and only affect line lookup).
func (s *posScanner) basicString() string {
	s.advance() // "
	var b strings.Builder
	for !s.eof() {
		c := s.peek()
		switch c {
		case '\\':
			s.advance()
			if n := s.peek(); n == '"' || n == '\\' {
				b.WriteByte(n)
				s.advance()
			} else {
				b.WriteByte('\\')
			}
		case '"':
			s.advance()
			return b.String()
		case '\n':
			return b.String()
		default:
			b.WriteByte(c)
			s.advance()
		}
	}
	return b.String()
}

func (s *posScanner) literalString() string {
	s.advance() // '
	start := s.i
	for !s.eof() {
		switch s.peek() {
		case '\'':
			v := s.src[start:s.i]
			s.advance()
			return v
		case '\n':
			return s.src[start:s.i]
		}
		s.advance()
	}
	return s.src[start:]
}

func (s *posScanner) keyValue(table string) {
	line := s.line
	keys := s.dottedKey()
	if len(keys) == 0 {
		s.skipLine()
		return
	}
	path := table
	for _, k := range keys {
		path = joinKey(path, k)
		if _, ok := s.out[path]; !ok {
			s.out[path] = line
		}
	}
	s.skipSpace(false)
	if s.peek() != '=' {
		s.skipLine()
		return
	}
	s.advance()
	s.skipSpace(false)
	s.value(path)
}

// value skips one value, recording the positions of array elements and
// inline-table keys under path.
func (s *posScanner) value(path string) {
	s.depth++
	defer func() { s.depth-- }()
	if s.depth > maxScanDepth {
		s.skipLine()
		return
	}
	switch c := s.peek(); c {
	case '"':
		if strings.HasPrefix(s.src[s.i:], `"""`) {
			s.multiline(`"""`, true)
		} else {
			s.basicString()
		}
	case '\'':
		if strings.HasPrefix(s.src[s.i:], `'''`) {
			s.multiline(`'''`, false)
		} else {
			s.literalString()
		}
	case '[':
		s.advance()
		for n := 0; ; n++ {
			s.skipSpace(true)
			if s.eof() {
				return
			}
			if s.peek() == ']' {
				s.advance()
				return
			}
			elem := joinIndex(path, n)
			s.record(elem)
			start := s.i
			s.value(elem)
			if s.i == start { // not understood: stop scanning this value
				s.skipLine()
				return
			}
			s.skipSpace(true)
			if s.peek() == ',' {
				s.advance()
			} else if s.peek() != ']' {
				return
			}
		}
	case '{':
		s.advance()
		for {
			// TOML 1.1 (which BurntSushi/toml v1.6 accepts) allows newlines
			// and comments inside inline tables.
			s.skipSpace(true)
			if s.eof() {
				return
			}
			if s.peek() == '}' {
				s.advance()
				return
			}
			start := s.i
			line := s.line
			keys := s.dottedKey()
			if len(keys) == 0 || s.i == start {
				s.skipLine()
				return
			}
			p := path
			for _, k := range keys {
				p = joinKey(p, k)
				if _, ok := s.out[p]; !ok {
					s.out[p] = line
				}
			}
			s.skipSpace(false)
			if s.peek() != '=' {
				s.skipLine()
				return
			}
			s.advance()
			s.skipSpace(false)
			s.value(p)
			s.skipSpace(true)
			if s.peek() == ',' {
				s.advance()
			}
		}
	default:
		// Bare scalar: number, bool, date. Ends at a delimiter.
		for !s.eof() {
			switch s.peek() {
			case ',', ']', '}', '\n', '#':
				return
			}
			s.advance()
		}
	}
}

func (s *posScanner) multiline(delim string, escapes bool) {
	for range 3 {
		s.advance()
	}
	for !s.eof() {
		if escapes && s.peek() == '\\' {
			s.advance()
			s.advance()
			continue
		}
		if strings.HasPrefix(s.src[s.i:], delim) {
			for range 3 {
				s.advance()
			}
			// Up to two extra quotes may belong to the content ("""a"""" ).
			for k := 0; k < 2 && s.peek() == delim[0]; k++ {
				s.advance()
			}
			return
		}
		s.advance()
	}
}
