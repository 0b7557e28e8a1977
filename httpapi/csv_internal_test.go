package httpapi

import "testing"

func TestACellASpreadsheetWouldRunAsAFormulaIsDefused(t *testing.T) {
	for in, want := range map[string]string{
		"=HYPERLINK(\"http://x\")": "'=HYPERLINK(\"http://x\")",
		"+1+1":                     "'+1+1",
		"-2+3":                     "'-2+3",
		"@SUM(A1)":                 "'@SUM(A1)",
		" =1+1":                    "' =1+1",
		"\n=cmd|' /C calc'!A0":     "'\n=cmd|' /C calc'!A0",
		"\r\n @x":                  "'\r\n @x",
		"\tanything":               "'\tanything",
		"\rfoo":                    "'\rfoo",
		"spring":                   "spring",
		" spring sale":             " spring sale",
		"":                         "",
	} {
		if got := csvSafe(in); got != want {
			t.Errorf("csvSafe(%q) = %q, want %q", in, got, want)
		}
	}
}
