package main

import (
	"strings"
	"testing"
)

func TestParseDrill(t *testing.T) {
	// Today's phases (nanoseconds) plus phases this benchmark has never
	// heard of, and one duration as a string: all are summed.
	data := `{"lost":["dev-apps","edge"],"passed":true,
	  "phases":[{"name":"up","duration":11000000000,"status":"done"}],
	  "recovery":{"total":9000000000,"critical":"dev-apps","phases":[
	    {"name":"detect","duration":100000000},{"name":"fetch","duration":"250ms"},
	    {"name":"cluster","duration":7000000000},{"name":"healthy","duration":1500000000}]}}`
	d, err := parseDrill([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if d.RTOSeconds != 9 || len(d.Lost) != 2 || d.Critical != "dev-apps" {
		t.Errorf("RTO %v, lost %v, critical %q", d.RTOSeconds, d.Lost, d.Critical)
	}
	if d.PhaseSum < 8.849 || d.PhaseSum > 8.851 || d.Gap < 0.149 || d.Gap > 0.151 {
		t.Errorf("phase sum %v, gap %v; want 8.85 and 0.15", d.PhaseSum, d.Gap)
	}
	if len(d.Phases) != 5 || d.Phases[0].Kind != "drill" || d.Phases[2].Name != "fetch" {
		t.Errorf("phases %+v", d.Phases)
	}
}

func TestParseDrillRefusesWhatItCannotMeasure(t *testing.T) {
	for name, data := range map[string]string{
		"no recovery":       `{"passed":true,"phases":[]}`,
		"no total":          `{"passed":true,"recovery":{"phases":[{"name":"cluster","duration":1}]}}`,
		"no phases":         `{"passed":true,"recovery":{"total":5}}`,
		"did not pass":      `{"passed":false,"failure":"verify found 2 differences","recovery":{"total":5,"phases":[{"name":"x","duration":5}]}}`,
		"not JSON":          `drill`,
		"a duration string": `{"recovery":{"total":"soon","phases":[]}}`,
	} {
		if _, err := parseDrill([]byte(data)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	_, err := parseDrill([]byte(`{"passed":false,"failure":"verify found 2 differences"}`))
	if err == nil || !strings.Contains(err.Error(), "verify found 2 differences") {
		t.Errorf("a failed drill's error %v does not say why", err)
	}
}

func TestParseFlags(t *testing.T) {
	o, _, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.runs != 3 || len(o.sizes) != 3 || o.th.Ratio != 1.15 || o.th.RTOShare != 1.5 || o.th.AgentMiB != 200 {
		t.Errorf("defaults: runs %d, sizes %v, thresholds %+v", o.runs, o.sizes, o.th)
	}
	var names []string
	for _, m := range o.methods {
		names = append(names, m.name)
	}
	if got := strings.Join(names, ","); got != "rekindle,kubectl,raw-32,raw-128,raw-128-svc4" {
		t.Errorf("methods %s", got)
	}
	o, _, err = parseFlags([]string{"-quick"})
	if err != nil || o.runs != 1 || len(o.sizes) != 1 || o.sizes[0] != (sizeSpec{100, 10}) {
		t.Errorf("-quick: %v, runs %d, sizes %v", err, o.runs, o.sizes)
	}
	o, _, err = parseFlags([]string{"-quick", "-runs", "2", "-sizes", "1000", "-target-ratio", "1.3"})
	if err != nil || o.runs != 2 || o.sizes[0] != (sizeSpec{1000, 50}) || o.th.Ratio != 1.3 {
		t.Errorf("explicit flags win over -quick: %v, runs %d, sizes %v, ratio %v", err, o.runs, o.sizes, o.th.Ratio)
	}
	o, _, err = parseFlags([]string{"-methods", "raw", "-raw-workers", "16, 64:2"})
	if err != nil || len(o.methods) != 2 || o.methods[0].raw != (rawSetting{16, 0}) || o.methods[1].raw != (rawSetting{64, 2}) || o.methods[1].name != "raw-64-svc2" {
		t.Errorf("-raw-workers 16,64:2: %v, methods %+v", err, o.methods)
	}
	for _, bad := range [][]string{{"-sizes", "10x"}, {"-runs", "0"}, {"-methods", "helm"}, {"-raw-workers", "0"}, {"-raw-workers", "8:9"}, {"-raw-workers", "8:0"}, {"-raw-workers", "8:x"}, {"extra"}} {
		if _, _, err := parseFlags(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
