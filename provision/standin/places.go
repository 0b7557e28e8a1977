package standin

import (
	"cmp"
	"maps"
	"math"
	"slices"
)

// place is where an area code is centred.
type place struct {
	city, state string
	lat, lon    float64
}

// places are well-known North American area codes; overlays share their city's centre.
// They give numbers a locality and drive NearNumber searches. Any other
// valid area code has numbers too, with no locality.
var places = map[string]place{
	"415": {"San Francisco", "CA", 37.7749, -122.4194},
	"628": {"San Francisco", "CA", 37.7749, -122.4194},
	"510": {"Oakland", "CA", 37.8044, -122.2712},
	"650": {"San Mateo", "CA", 37.5630, -122.3255},
	"408": {"San Jose", "CA", 37.3382, -121.8863},
	"212": {"New York", "NY", 40.7831, -73.9712},
	"646": {"New York", "NY", 40.7831, -73.9712},
	"332": {"New York", "NY", 40.7831, -73.9712},
	"917": {"New York", "NY", 40.7128, -74.0060},
	"718": {"Brooklyn", "NY", 40.6782, -73.9442},
	"312": {"Chicago", "IL", 41.8781, -87.6298},
	"773": {"Chicago", "IL", 41.8500, -87.6500},
	"872": {"Chicago", "IL", 41.8781, -87.6298},
	"213": {"Los Angeles", "CA", 34.0522, -118.2437},
	"323": {"Los Angeles", "CA", 34.0928, -118.3287},
	"310": {"Santa Monica", "CA", 34.0195, -118.4912},
	"424": {"Santa Monica", "CA", 34.0195, -118.4912},
	"818": {"Burbank", "CA", 34.1808, -118.3090},
	"305": {"Miami", "FL", 25.7617, -80.1918},
	"786": {"Miami", "FL", 25.7617, -80.1918},
	"512": {"Austin", "TX", 30.2672, -97.7431},
	"737": {"Austin", "TX", 30.2672, -97.7431},
	"617": {"Boston", "MA", 42.3601, -71.0589},
	"857": {"Boston", "MA", 42.3601, -71.0589},
	"206": {"Seattle", "WA", 47.6062, -122.3321},
	"253": {"Tacoma", "WA", 47.2529, -122.4443},
	"303": {"Denver", "CO", 39.7392, -104.9903},
	"720": {"Denver", "CO", 39.7392, -104.9903},
	"404": {"Atlanta", "GA", 33.7490, -84.3880},
	"470": {"Atlanta", "GA", 33.7490, -84.3880},
	"702": {"Las Vegas", "NV", 36.1699, -115.1398},
	"215": {"Philadelphia", "PA", 39.9526, -75.1652},
	"602": {"Phoenix", "AZ", 33.4484, -112.0740},
	"480": {"Mesa", "AZ", 33.4152, -111.8315},
	"503": {"Portland", "OR", 45.5152, -122.6784},
	"971": {"Portland", "OR", 45.5152, -122.6784},
	"612": {"Minneapolis", "MN", 44.9778, -93.2650},
	"214": {"Dallas", "TX", 32.7767, -96.7970},
	"469": {"Dallas", "TX", 32.7767, -96.7970},
	"713": {"Houston", "TX", 29.7604, -95.3698},
	// Canada's (canadianAreaCodes), with their provinces.
	"416": {"Toronto", "ON", 43.6532, -79.3832},
	"647": {"Toronto", "ON", 43.6532, -79.3832},
	"437": {"Toronto", "ON", 43.6532, -79.3832},
	"613": {"Ottawa", "ON", 45.4215, -75.6972},
	"514": {"Montreal", "QC", 45.5017, -73.5673},
	"438": {"Montreal", "QC", 45.5017, -73.5673},
	"604": {"Vancouver", "BC", 49.2827, -123.1207},
	"778": {"Vancouver", "BC", 49.2827, -123.1207},
	"403": {"Calgary", "AB", 51.0447, -114.0719},
}

// knownAreaCodes are the table's area codes in ascending order: what a
// search with no area code looks through.
var knownAreaCodes = slices.Sorted(maps.Keys(places))

// near returns the area codes whose centres lie within miles of the centre
// of ac, nearest first (ac itself, at 0, leads). An area code the table
// does not know has only itself near it.
func near(ac string, miles float64) []string {
	from, ok := places[ac]
	if !ok {
		return []string{ac}
	}
	type candidate struct {
		ac    string
		miles float64
	}
	var found []candidate
	for _, other := range knownAreaCodes {
		if d := distance(from, places[other]); d <= miles {
			found = append(found, candidate{other, d})
		}
	}
	slices.SortFunc(found, func(a, b candidate) int {
		return cmp.Or(cmp.Compare(a.miles, b.miles),
			cmp.Compare(b2i(a.ac != ac), b2i(b.ac != ac)),
			cmp.Compare(a.ac, b.ac))
	})
	out := make([]string, len(found))
	for i, c := range found {
		out[i] = c.ac
	}
	return out
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// distance is the great-circle distance between two places, in miles.
func distance(a, b place) float64 {
	const earthMiles = 3958.8
	rad := func(deg float64) float64 { return deg * math.Pi / 180 }
	dLat, dLon := rad(b.lat-a.lat), rad(b.lon-a.lon)
	h := math.Sin(dLat/2)*math.Sin(dLat/2) +
		math.Cos(rad(a.lat))*math.Cos(rad(b.lat))*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthMiles * math.Asin(math.Sqrt(h))
}
