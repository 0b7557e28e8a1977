package bench

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progress writes what the run is doing. On a terminal one line is
// rewritten in place; elsewhere (a log, CI) a line is written for each
// phase and, during the load, every ten seconds.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	tty     bool
	pending bool      // a line on the terminal waits for its newline
	last    time.Time // the last periodic line, off a terminal
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

// phase says what the run does next.
func (p *progress) phase(line string) { p.write(line, false) }

// tick updates the line that follows the load.
func (p *progress) tick(line string) { p.write(line, true) }

func (p *progress) write(line string, periodic bool) {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && periodic {
		fmt.Fprintf(p.w, "\r\033[Kdni bench: %s", line)
		p.pending = true
		return
	}
	if p.pending {
		fmt.Fprintln(p.w)
		p.pending = false
	}
	if periodic && !p.tty && time.Since(p.last) < 10*time.Second {
		return
	}
	p.last = time.Now()
	fmt.Fprintf(p.w, "dni bench: %s\n", line)
}

// done ends the line on a terminal.
func (p *progress) done() {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pending {
		fmt.Fprintln(p.w)
		p.pending = false
	}
}

func (r *run) progressf(format string, args ...any) { r.prog.phase(fmt.Sprintf(format, args...)) }

func (r *run) tickf(format string, args ...any) { r.prog.tick(fmt.Sprintf(format, args...)) }

func (r *run) endProgress() { r.prog.done() }
