package allocator

import "testing"

func TestChannelNamesWhereAVisitCameFrom(t *testing.T) {
	for _, c := range []struct {
		attr *Attribution
		want string
	}{
		{nil, "your website"},
		{&Attribution{}, "your website"},
		{&Attribution{GCLID: testGCLID}, "Google Ads"},
		{&Attribution{WBRAID: testWBRAID, Source: "facebook"}, "Google Ads"},
		{&Attribution{Source: "google", Medium: "cpc"}, "Google Ads"},
		{&Attribution{Source: "facebook", Medium: "social"}, "Facebook Organic"},
		{&Attribution{Source: "facebook", Medium: "paid_social"}, "Facebook Ads"},
		{&Attribution{Source: "fb"}, "Facebook Organic"},
		{&Attribution{Source: "mailchimp", Medium: "email"}, "Mailchimp Email"},
		{&Attribution{Source: "Spring_Sale"}, "Spring Sale Organic"},
		{&Attribution{MSCLKID: "x", Source: "bing", Medium: "cpc"}, "Microsoft Ads"},
		{&Attribution{FBCLID: "x"}, "Facebook"},
		{&Attribution{Referrer: "https://www.google.co.uk/search?q=plumber"}, "Google Organic"},
		{&Attribution{Referrer: "https://l.facebook.com/"}, "Facebook Organic"},
		{&Attribution{Referrer: "https://www.yelp.com/biz/acme"}, "yelp.com"},
		{&Attribution{Referrer: "not a url"}, "your website"},
		{&Attribution{Source: "<script>alert(1)</script>"}, "Scriptalert1script Organic"},
		{&Attribution{Source: "&&&"}, "your website"},
	} {
		if got := c.attr.Channel(); got != c.want {
			t.Errorf("Channel(%+v) = %q, want %q", c.attr, got, c.want)
		}
	}
}

func FuzzChannel(f *testing.F) {
	f.Add("google", "cpc", "https://www.google.com/", "")
	f.Add("<b>", "email", "http://[::1]:80/", "x")
	f.Fuzz(func(t *testing.T, source, medium, referrer, fbclid string) {
		got := (&Attribution{Source: source, Medium: medium, Referrer: referrer, FBCLID: fbclid}).Channel()
		if got == "" || len(got) > 60 {
			t.Fatalf("Channel = %q", got)
		}
		for _, r := range got {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == ' ') {
				t.Fatalf("Channel = %q has %q", got, r)
			}
		}
	})
}
