package restore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/go-logr/logr"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/bootstrap/restore"
	"github.com/rekindle-dev/rekindle/test/kwoktest"
	"github.com/rekindle-dev/rekindle/test/velerotest"
)

// controller-runtime's client warns, with a stack, of API warnings when no
// logger is set; the tests read what they need from their results.
func init() { ctrllog.SetLogger(logr.Discard()) }

// decodeYAML turns a YAML stream (or a v1 List) into objects.
func decodeYAML(t *testing.T, b []byte) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	d := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := d.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatal(err)
		}
		if len(u.Object) == 0 {
			continue
		}
		if u.IsList() {
			l, err := u.ToList()
			if err != nil {
				t.Fatal(err)
			}
			for i := range l.Items {
				out = append(out, &l.Items[i])
			}
			continue
		}
		out = append(out, u)
	}
}

// veleroObjects is what a blueprint's "velero" workload holds: Velero's
// CRDs, the store's velerotest.Manifests and its credentials Secret.
func veleroObjects(t *testing.T, crds []byte, s *velerotest.Store) []*unstructured.Unstructured {
	t.Helper()
	objs := decodeYAML(t, crds)
	return append(objs, decodeYAML(t, []byte(s.Manifests()+"---\n"+s.CredentialsSecret()))...)
}

// appObjects: the workload that needs the restored Secrets.
func appObjects(t *testing.T) []*unstructured.Unstructured {
	return decodeYAML(t, []byte(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: apps}
spec:
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
        - name: db
          image: registry.example/db:1
          env:
            - name: PASSWORD
              valueFrom: {secretKeyRef: {name: db-password, key: password}}
`))
}

func render(cluster string, velero, app []*unstructured.Unstructured, policy string) *blueprints.RenderedCluster {
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetName("apps")
	return &blueprints.RenderedCluster{
		Environment: "dev", Cluster: cluster, Provider: "kwok",
		CreatedNamespaces: []*unstructured.Unstructured{ns},
		Workloads: []blueprints.RenderedWorkload{
			{Name: "velero", Source: blueprints.SourcePlain, Objects: velero},
			{Name: "state", Source: blueprints.SourceRestore, DependsOn: []string{"velero"}, Restore: &blueprints.RestoreWorkload{
				Velero:             blueprints.VeleroSource{Schedule: "daily"},
				IncludedNamespaces: []string{"apps"}, IncludedResources: []string{"secrets"}, WhenNoBackup: policy,
			}},
			{Name: "app", Source: blueprints.SourcePlain, DependsOn: []string{"state"}, Objects: app},
		},
	}
}

// lines collects the agent's log; check runs on each line before it is kept.
type lines struct {
	mu    sync.Mutex
	all   []string
	check func(string)
}

func (l *lines) logf(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	if l.check != nil {
		l.check(s)
	}
	l.mu.Lock()
	l.all = append(l.all, s)
	l.mu.Unlock()
}

func (l *lines) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.all, "\n")
}

// veleroWhenReady starts the velero server on a cluster once the velero
// workload has put its BackupStorageLocation there, as a supervisor of a
// host process would: Velero refuses to start without its CRDs.
func veleroWhenReady(ctx context.Context, t *testing.T, bin string, kc *kwoktest.Cluster, c client.Client) *lazyServer {
	ch := make(chan *velerotest.Server, 1)
	l := &lazyServer{ch: ch}
	go func() {
		for ctx.Err() == nil {
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(restore.LocationGVK)
			sec := &corev1.Secret{}
			if c.Get(ctx, client.ObjectKey{Namespace: "velero", Name: "default"}, u) == nil &&
				c.Get(ctx, client.ObjectKey{Namespace: "velero", Name: "cloud-credentials"}, sec) == nil {
				ch <- velerotest.StartServer(t, bin, kc.Kubeconfig, "velero")
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		close(ch)
	}()
	return l
}

// lazyServer is a velero server that starts once its cluster is ready.
type lazyServer struct {
	ch   <-chan *velerotest.Server
	once sync.Once
	s    *velerotest.Server
}

// get waits for the server to start (nil if the test's context ended first).
func (l *lazyServer) get() *velerotest.Server {
	l.once.Do(func() { l.s = <-l.ch })
	return l.s
}

// tail is the server's log tail, or why there is none.
func (l *lazyServer) tail() string {
	select {
	case s, ok := <-l.ch:
		l.once.Do(func() { l.s = s })
		if !ok {
			return "(velero server never started)"
		}
	default:
	}
	if l.s == nil {
		return "(velero server not started)"
	}
	return l.s.Tail()
}

func newClient(t *testing.T, cfg *rest.Config) client.Client {
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func secretData(ctx context.Context, c client.Client, name string) (map[string][]byte, error) {
	s := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "apps", Name: name}, s); err != nil {
		return nil, err
	}
	return s.Data, nil
}

func sameData(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !bytes.Equal(v, b[k]) {
			return false
		}
	}
	return true
}
