package restore

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// backupTarball writes files the way Velero's item backupper lays out a
// backup: each item unversioned and again under <version>-preferredversion,
// beside metadata/version.
func backupTarball(t *testing.T, files map[string]string) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Size: int64(len(body)), Typeflag: tar.TypeReg, Mode: 0o755}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf
}

func TestReadContentsCountsEachItemOnce(t *testing.T) {
	secret := `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db","namespace":"apps"},"data":{"password":"cw=="}}`
	ns := `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"apps"},"spec":{"finalizers":["kubernetes"]}}`
	buf := backupTarball(t, map[string]string{
		"metadata/version":                                              "1",
		"resources/secrets/namespaces/apps/db.json":                     secret,
		"resources/secrets/v1-preferredversion/namespaces/apps/db.json": secret,
		"resources/namespaces/cluster/apps.json":                        ns,
		"resources/namespaces/v1-preferredversion/cluster/apps.json":    ns,
	})
	items, err := ReadContents(buf)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, it := range items {
		keys = append(keys, it.GroupResource+" "+it.Key())
	}
	got := strings.Join(keys, ",")
	if len(items) != 2 || !strings.Contains(got, "secrets Secret/apps/db") || !strings.Contains(got, "namespaces Namespace/apps") {
		t.Fatalf("items %s, want the Secret and the Namespace once each", got)
	}
	if _, err := ReadContents(strings.NewReader("not gzip")); err == nil {
		t.Fatal("a tarball that is not gzip read without error")
	}
}

func TestCoveredFollowsTheRestoresIncludes(t *testing.T) {
	item := func(gr, kind, ns string) Item {
		u := &unstructured.Unstructured{}
		u.SetKind(kind)
		u.SetNamespace(ns)
		u.SetName("x")
		return Item{GroupResource: gr, Object: u}
	}
	for _, tc := range []struct {
		it      Item
		ns, res []string
		want    bool
	}{
		{item("secrets", "Secret", "apps"), []string{"apps"}, []string{"secrets"}, true},
		{item("secrets", "Secret", "other"), []string{"apps"}, nil, false},
		{item("deployments.apps", "Deployment", "apps"), []string{"apps"}, []string{"secrets"}, false},
		{item("deployments.apps", "Deployment", "apps"), nil, []string{"deployments"}, true},
		{item("deployments.apps", "Deployment", "apps"), []string{"*"}, []string{"deployments.apps"}, true},
		{item("events", "Event", "apps"), nil, nil, false},
		{item("namespaces", "Namespace", ""), []string{"apps"}, nil, false},
		{item("namespaces", "Namespace", ""), nil, nil, true},
	} {
		if got := covered(tc.it, tc.ns, tc.res); got != tc.want {
			t.Errorf("covered(%s %s, ns %v, resources %v) = %t, want %t", tc.it.GroupResource, tc.it.Key(), tc.ns, tc.res, got, tc.want)
		}
	}
}

func TestDifferingFieldsNamesFieldsNotValues(t *testing.T) {
	obj := func(body string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON([]byte(body)); err != nil {
			t.Fatal(err)
		}
		return u
	}
	backedUp := obj(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db","namespace":"apps","resourceVersion":"5"},"type":"Opaque","data":{"password":"czNjcmV0","user":"YQ=="}}`)
	restored := obj(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db","namespace":"apps","resourceVersion":"900","labels":{"velero.io/restore-name":"r"}},"type":"Opaque","data":{"password":"czNjcmV0","user":"YQ=="}}`)
	if f := differingFields(content(backedUp), content(restored), "", 2); len(f) != 0 {
		t.Fatalf("a restore that changed only metadata differs in %v", f)
	}
	changed := restored.DeepCopy()
	_ = unstructured.SetNestedField(changed.Object, "b3RoZXI=", "data", "password")
	if f := differingFields(content(backedUp), content(changed), "", 2); strings.Join(f, ",") != "data.password" {
		t.Fatalf("fields %v, want data.password", f)
	}
	svc := obj(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"clusterIP":"10.0.0.1","clusterIPs":["10.0.0.1"],"ports":[{"port":80,"nodePort":30001}],"type":"NodePort"}}`)
	svc2 := obj(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"clusterIP":"10.0.0.9","clusterIPs":["10.0.0.9"],"ports":[{"port":80,"nodePort":30777}],"type":"NodePort"}}`)
	if f := differingFields(content(svc), content(svc2), "", 2); len(f) != 0 {
		t.Fatalf("a Service differing only in what Velero's restore resets differs in %v", f)
	}
	if f := differingFields(content(svc), content(obj(`{"kind":"Service","spec":{"type":"ClusterIP","ports":[{"port":80}]}}`)), "", 2); strings.Join(f, ",") != "spec.type" {
		t.Fatalf("fields %v, want spec.type", f)
	}
}

func TestComparisonProblemsNameObjects(t *testing.T) {
	c := Comparison{Workload: "state", Backup: "daily-1", Compared: 3, Identical: 1,
		Missing: []string{"Secret/apps/key"}, Different: []string{"Secret/apps/db: data.password"}}
	got := strings.Join(c.Problems(), "\n")
	want := "Secret/apps/key: in backup daily-1 but missing after the restore\nSecret/apps/db: restored by Velero but data.password differ(s) from backup daily-1"
	if c.OK() || got != want {
		t.Fatalf("problems:\n%s\nwant\n%s", got, want)
	}
	if (&Comparison{Skipped: true}).OK() != true {
		t.Fatal("a skipped restore is not OK")
	}
}
