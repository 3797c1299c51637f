package verify

import (
	"bufio"
	"bytes"
	"io"
)

func newBufReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

// lineStripper drops CR and LF, so that wrapped base64 decodes.
type lineStripper struct{ r io.Reader }

func newLineStripper(r io.Reader) io.Reader { return &lineStripper{r} }

func (l *lineStripper) Read(p []byte) (int, error) {
	for {
		n, err := l.r.Read(p)
		k := 0
		for _, c := range p[:n] {
			if c != '\r' && c != '\n' {
				p[k] = c
				k++
			}
		}
		if k > 0 || err != nil {
			return k, err
		}
	}
}
