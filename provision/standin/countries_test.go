package standin

import (
	"testing"

	"github.com/dni-dev/dni/allocator"
)

// Every number the stand-in sells abroad is a valid number of its country,
// as libphonenumber reads it: the reconciler, the pages and the snippet
// see numbers as real ones are.
func TestEveryNumberForSaleAbroadIsAValidNumberOfItsCountry(t *testing.T) {
	for country, ranges := range abroad {
		for _, r := range ranges {
			for _, line := range []int{firstLine, lastLine} {
				e := r.prefix + itoa3(line)
				if got := allocator.CountryOf(e); got != country || countryOf(e) != country || !inInventory(e) {
					t.Errorf("%s (%s, %s): libphonenumber says %s, the stand-in %s; in stock %v", e, r.locality, country, got, countryOf(e), inInventory(e))
				}
				if _, err := allocator.ParsePhone(e, country); err != nil {
					t.Errorf("%s: %v", e, err)
				}
			}
		}
	}
	for ac := range canadianAreaCodes {
		if e := inventoryNumber(ac, firstLine); allocator.CountryOf(e) != "CA" || countryOf(e) != "CA" {
			t.Errorf("%s is not Canadian to libphonenumber (%s) or the stand-in (%s)", e, allocator.CountryOf(e), countryOf(e))
		}
	}
}

func TestContainsMatchesDigitsAnywhereWithStarsForAnyDigit(t *testing.T) {
	for _, c := range []struct {
		pattern string
		want    bool
	}{{"4420", true}, {"+4420", true}, {"44*0", true}, {"4416", false}, {"0199", true}, {"", true}} {
		if got := matchesContains("+442079460199", c.pattern); got != c.want {
			t.Errorf("%q: %v", c.pattern, got)
		}
	}
}
