package standin

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// verb is one TwiML element: a verb such as <Dial>, or a noun inside one.
type verb struct {
	name     string
	attrs    []xml.Attr
	text     []byte // character data directly inside, untrimmed
	inner    []byte // all character data inside, children's included
	children []verb
}

// attr returns the named attribute, or "".
func (v *verb) attr(name string) string {
	a, _ := v.lookup(name)
	return a
}

// lookup returns the named attribute and whether it is there at all.
func (v *verb) lookup(name string) (string, bool) {
	for _, a := range v.attrs {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

// body returns the text directly inside the element, trimmed.
func (v *verb) body() string {
	return strings.TrimSpace(string(v.text))
}

// intAttr returns the named attribute as a whole number, or def when it
// is absent or not a number.
func (v *verb) intAttr(name string, def int) int {
	n, err := strconv.Atoi(strings.TrimSpace(v.attr(name)))
	if err != nil {
		return def
	}
	return n
}

// Limits on what a TwiML document may be.
const (
	maxTwiML      = 64 << 10 // Twilio's limit on a TwiML answer
	maxTwiMLDepth = 16
)

var errNotTwiML = errors.New("not a TwiML <Response>")

// parseTwiML reads a TwiML document and returns the verbs of its
// <Response>. An XML declaration, a byte-order mark, comments and
// whitespace around the root are allowed; anything else is an error, as
// it is for Twilio (12100, document parse failure).
func parseTwiML(doc []byte) ([]verb, error) {
	if len(doc) > maxTwiML {
		return nil, fmt.Errorf("TwiML of %d bytes is over Twilio's %d", len(doc), maxTwiML)
	}
	d := xml.NewDecoder(bytes.NewReader(bytes.TrimPrefix(doc, []byte("\uFEFF"))))
	var (
		root  *verb
		stack []*verb
	)
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("TwiML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch {
			case root == nil:
				if t.Name.Local != "Response" {
					return nil, fmt.Errorf("%w: the root is <%s>", errNotTwiML, t.Name.Local)
				}
				root = &verb{name: "Response"}
				stack = append(stack, root)
				continue
			case len(stack) == 0:
				return nil, fmt.Errorf("%w: <%s> after </Response>", errNotTwiML, t.Name.Local)
			case len(stack) >= maxTwiMLDepth:
				return nil, fmt.Errorf("TwiML nested deeper than %d", maxTwiMLDepth)
			}
			parent := stack[len(stack)-1]
			parent.children = append(parent.children, verb{name: t.Name.Local, attrs: t.Attr})
			stack = append(stack, &parent.children[len(parent.children)-1])
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				top := stack[len(stack)-1]
				top.text = append(top.text, t...)
				for _, v := range stack[1:] {
					v.inner = append(v.inner, t...)
				}
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, fmt.Errorf("%w: text outside <Response>", errNotTwiML)
			}
		}
	}
	if root == nil {
		return nil, errNotTwiML
	}
	return root.children, nil
}

// spoken returns the text of a <Say>, SSML tags dropped.
func (v *verb) spoken() string {
	return strings.Join(strings.Fields(string(v.inner)), " ")
}
