package main

import (
	"strings"
	"testing"
)

func TestProcessKind(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"/s/clusters/kwok/a/kwok/clusters/a/bin/kube-apiserver", "--etcd-prefix=/registry"}, "kube-apiserver"},
		{[]string{"/s/clusters/kwok/a/kwok/clusters/a/bin/kwok-controller", "--manage-all-nodes=false"}, "kwok-controller"},
		{[]string{"/usr/local/bin/rekindle", "agent", "--blueprint", "/b"}, "host agent"},
		{[]string{"bin/rekindle", "drill"}, ""},                              // the command: its rusage
		{[]string{"/tools/kwokctl", "--name", "a", "create", "cluster"}, ""}, // in the command's rusage
		{nil, ""},
	} {
		if got := processKind(tc.args); got != tc.want {
			t.Errorf("processKind(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestPrintCPU(t *testing.T) {
	use := &cpuUse{BusySeconds: 90, CapacitySeconds: 100, ByProcess: map[string]float64{
		"kube-apiserver": 40, "etcd": 10, "kwok-controller": 1, "host agent": 2, "rekindle": 12, "kwokctl": 99}}
	res := &results{CPUs: 2, Sizes: []*size{{Clusters: 10, Parallel: []sample{{usage: usage{Seconds: 50, CPU: use}}}}}}
	var b strings.Builder
	printCPU(&b, res)
	row := strings.Fields(strings.Split(strings.TrimSpace(b.String()), "\n")[2])
	want := []string{"10", "parallel", "50.0", "90%", "90.0", "40.0", "10.0", "0.0", "0.0", "1.0", "2.0", "12.0", "25.0"}
	if strings.Join(row, " ") != strings.Join(want, " ") {
		t.Errorf("row %q, want %q\n%s", row, want, b.String())
	}
}
