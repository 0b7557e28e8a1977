package provision_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/internal/testkit"
	"github.com/dni-dev/dni/provision/standin"
)

// createPoolIn creates a pool of a country with its business number, as
// the admin API would have checked them.
func createPoolIn(t *testing.T, n *testkit.Node, id, country, business, areaCode string) {
	t.Helper()
	st := allocator.Settings{
		Name: id, Size: 4, Country: country, AreaCode: areaCode, SwapTarget: business, ForwardTo: []string{"+14155550100"},
	}.WithDefaults()
	if err := st.CheckNumbers(); err != nil {
		t.Fatal(err)
	}
	n.Command(&fsm.CreatePool{ID: id, Key: "key-" + id, Settings: st, At: time.Now()})
}

func TestAPoolIsFilledWithNumbersOfItsCountryNearItsBusinessNumber(t *testing.T) {
	r := newRig(t, time.Hour)
	for _, c := range []struct {
		country, business, areaCode, prefix string
	}{
		{"GB", "+44 (0)20 7946 0018", "", "+4420"}, // London
		{"GB", "0161 496 0000", "", "+44161"},      // Manchester
		{"AU", "(03) 9654 1234", "", "+613"},       // Melbourne
		{"CA", "(416) 555-0123", "416", "+1416"},   // Toronto, by area code
		{"CA", "(604) 555-0123", "", "+1"},         // anywhere in Canada
		{"GB", "020 7946 0018", "0161", "+44161"},  // a London business wanting Manchester numbers
		{"GB", "020 7946 0018", "121", "+44121"},   // an area code written without its 0
		{"US", "(415) 555-0100", "415", "+1415"},   // unchanged
	} {
		id := strings.ToLower(c.country) + "-" + c.prefix[1:] + "-" + c.areaCode
		createPoolIn(t, r.node, id, c.country, c.business, c.areaCode)
		p := waitActive(t, r.node, r.sb, id)
		for _, n := range p.Numbers() {
			if !strings.HasPrefix(n.E164, c.prefix) || allocator.CountryOf(n.E164) != c.country {
				t.Errorf("%s pool with business number %s bought %s, want a number of %s starting %s", c.country, c.business, n.E164, c.country, c.prefix)
			}
		}
		if p.Notice() != "" {
			t.Errorf("%s: notice %q", id, p.Notice())
		}
	}
}

func TestACountrysRulesShowAsANoticeAndNothingIsTriedAgainAndAgain(t *testing.T) {
	r := newRig(t, time.Hour)
	createPoolIn(t, r.node, "berlin", "DE", "030 1234567", "")
	p := r.node.Node.State().Pool("berlin")
	waitNotice(t, p, "Germany", "regulatory bundle", "Regulatory Compliance")
	buys := r.sb.Stats().Buys
	time.Sleep(20 * r.rec.Every) // many passes
	if got := r.sb.Stats().Buys; got != buys {
		t.Errorf("the reconciler tried %d more purchases after the refusal", got-buys)
	}
	if len(p.Numbers()) != 0 {
		t.Errorf("bought %d numbers", len(p.Numbers()))
	}
	// An edit (the operator added a bundle, say) tries once more.
	name := "Berlin office"
	var req allocator.RequestID
	req[0] = 0xbe
	r.node.Command(&fsm.UpdatePool{ID: "berlin", Req: req, Patch: allocator.Patch{Name: &name}, At: time.Now()})
	testkit.Eventually(t, "another purchase after the edit", func() bool { return r.sb.Stats().Buys > buys })
}

func TestACountryWithoutLocalNumbersForSaleSellsMobileOnes(t *testing.T) {
	r := newRig(t, time.Hour)
	r.sb.SetFaults(standin.Faults{NoLocalNumbers: []string{"GB"}})
	createPoolIn(t, r.node, "london", "GB", "020 7946 0018", "")
	p := waitActive(t, r.node, r.sb, "london")
	for _, n := range p.Numbers() {
		if !strings.HasPrefix(n.E164, "+447700900") {
			t.Errorf("bought %s, want a mobile number", n.E164)
		}
	}
	waitNotice(t, p, "No local numbers for sale in the United Kingdom; bought mobile numbers.")
	// Australia sells no mobile numbers in the stand-in: with its local
	// ones gone, the pool waits, and the reconciler keeps going.
	r.sb.SetFaults(standin.Faults{NoLocalNumbers: []string{"AU"}})
	createPoolIn(t, r.node, "sydney", "AU", "(02) 9374 4000", "")
	waitNotice(t, r.node.Node.State().Pool("sydney"), "no numbers to sell")
}
