package httpapi

import (
	"errors"
	"testing"

	"github.com/dni-dev/dni/allocator"
)

var spendCSVSeeds = []string{
	"day,source,medium,campaign,cost,currency\n2026-12-01,google,cpc,spring,12.50,USD\n",
	"\ufeffCampaign performance report\n\"December 1, 2026 - December 2, 2026\"\nDay,Campaign,Cost\n\"Dec 1, 2026\",Spring,\"1,250.50\"\nTotal: Account,,\"1,250.50\"\n",
	"Date;Campaign name;Spend\n12/1/2026;Brand;40,00\n",
	"Date\tCampaign name\tSpend\r\n12/1/2026\tBrand\t40.00\r\n",
	"Day,Campaign,Cost\n2026-12-01,\"a \"\"quoted\"\" name\",--\n",
}

func FuzzParseSpendCSV(f *testing.F) {
	for _, s := range spendCSVSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := ParseSpendCSV(data, SpendDefaults{Source: "google", Medium: "cpc", Currency: "USD"})
		if err != nil {
			var ve *allocator.ValidationError
			if !errors.As(err, &ve) || ve.Field == "" {
				t.Fatalf("an error that names no field: %v", err)
			}
			return
		}
		if len(rows) == 0 || len(rows) > allocator.MaxSpendPerCall {
			t.Fatalf("%d rows", len(rows))
		}
		for _, r := range rows {
			if err := checkSpendKey(r.SpendKey); err != nil || r.Cost < 0 || r.Cost > allocator.MaxMoney {
				t.Fatalf("a bad row was taken: %+v (%v)", r, err)
			}
		}
	})
}

func TestSpendCSVsAsTheAdPlatformsExportThem(t *testing.T) {
	for i, s := range spendCSVSeeds {
		rows, err := ParseSpendCSV([]byte(s), SpendDefaults{Source: "google", Medium: "cpc", Currency: "USD"})
		if err != nil || len(rows) != 1 {
			t.Errorf("seed %d: %+v, %v", i, rows, err)
			continue
		}
		if rows[0].Day.String() != "2026-12-01" {
			t.Errorf("seed %d: day %s", i, rows[0].Day)
		}
	}
	rows, _ := ParseSpendCSV([]byte(spendCSVSeeds[1]), SpendDefaults{Source: "google", Medium: "cpc", Currency: "USD"})
	if rows[0].Cost != 125050 || rows[0].Campaign != "Spring" {
		t.Errorf("Google's export: %+v", rows[0])
	}
	rows, _ = ParseSpendCSV([]byte(spendCSVSeeds[2]), SpendDefaults{Source: "bing", Medium: "cpc", Currency: "USD"})
	if rows[0].Cost != 4000 || rows[0].Source != "bing" {
		t.Errorf("a semicolon export with a decimal comma: %+v", rows[0])
	}
	// A campaign whose name starts with "Total" is a campaign, not a total.
	rows, err := ParseSpendCSV([]byte("Day,Campaign,Cost\n2026-12-01,Totally new,3\n"), SpendDefaults{Source: "g", Medium: "cpc", Currency: "USD"})
	if err != nil || len(rows) != 1 {
		t.Errorf("Totally new: %+v, %v", rows, err)
	}
}
