// Package testkit is what dni's tests share: nodes started in the test's
// own process (one, or a cluster whose links can be cut) or as processes of
// the real binary, waits that end as soon as what they wait for happens,
// the set of visits a cluster acknowledged and the check that none was
// lost, and a headless Chromium whose tabs fail the test on a page error.
// Every node's log goes to its test's output, so a failing test tells the
// nodes' story.
//
// Tests keep only what they prove; how a node starts is written here once.
package testkit
