package restore

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// DownloadRequestGVK is Velero's way to read a file of a backup: the
// server answers with a short-lived URL of the object store.
var DownloadRequestGVK = schema.GroupVersionKind{Group: "velero.io", Version: "v1", Kind: "DownloadRequest"}

// Item is one object a backup holds, as Velero wrote it into the backup's
// tarball (resources/<group-resource>/namespaces/<ns>/<name>.json, or
// .../cluster/<name>.json for cluster-scoped objects).
type Item struct {
	// GroupResource is Velero's directory name: "secrets", "deployments.apps".
	GroupResource string
	Object        *unstructured.Unstructured
}

// Key names the item as verify reports it: Kind/namespace/name.
func (it Item) Key() string {
	if ns := it.Object.GetNamespace(); ns != "" {
		return it.Object.GetKind() + "/" + ns + "/" + it.Object.GetName()
	}
	return it.Object.GetKind() + "/" + it.Object.GetName()
}

// Contents reads what backup (in Velero's namespace ns) holds, the way
// `velero backup download` does: a DownloadRequest for its BackupContents,
// answered by the Velero server with a URL of the object store, then the
// tarball itself. It needs the Velero server running and its location
// Available; timeout bounds the wait for the server's answer.
func (r *Runner) Contents(ctx context.Context, ns, backup string, timeout time.Duration) ([]Item, error) {
	url, err := r.downloadURL(ctx, ns, backup, timeout)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("download backup %s/%s: %w", ns, backup, err)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		// The URL is signed: it is not printed, only where it points.
		return nil, fmt.Errorf("download backup %s/%s from its object store: %w", ns, backup, redactURL(err, url))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("download backup %s/%s from its object store: %s", ns, backup, resp.Status)
	}
	items, err := ReadContents(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read backup %s/%s: %w", ns, backup, err)
	}
	return items, nil
}

// downloadURL creates a DownloadRequest for backup's contents and waits
// until Velero has processed it; the request is deleted afterwards.
func (r *Runner) downloadURL(ctx context.Context, ns, backup string, timeout time.Duration) (string, error) {
	dr := &unstructured.Unstructured{Object: map[string]any{
		"spec": map[string]any{"target": map[string]any{"kind": "BackupContents", "name": backup}},
	}}
	dr.SetGroupVersionKind(DownloadRequestGVK)
	dr.SetNamespace(ns)
	dr.SetGenerateName("rekindle-verify-")
	if err := r.Client.Create(ctx, dr); err != nil {
		return "", fmt.Errorf("ask Velero for backup %s/%s (create DownloadRequest): %w", ns, backup, err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = client.IgnoreNotFound(r.Client.Delete(cctx, dr))
	}()
	deadline := time.Now().Add(timeout)
	for {
		if err := r.Client.Get(ctx, client.ObjectKeyFromObject(dr), dr); err != nil {
			return "", fmt.Errorf("read DownloadRequest/%s/%s: %w", ns, dr.GetName(), err)
		}
		phase, _, _ := unstructured.NestedString(dr.Object, "status", "phase")
		if url, _, _ := unstructured.NestedString(dr.Object, "status", "downloadURL"); phase == "Processed" && url != "" {
			return url, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("Velero did not answer DownloadRequest/%s/%s for backup %s within %s (is the velero server running, its location Available?)",
				ns, dr.GetName(), backup, timeout)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("wait for DownloadRequest/%s/%s: %w", ns, dr.GetName(), ctx.Err())
		case <-time.After(r.interval()):
		}
	}
}

// ReadContents parses a backup tarball (gzip'ed tar) into its items. Only
// the unversioned directories are read: Velero writes each item there in
// its preferred version, and again under <version>-preferredversion (and
// other versions, with EnableAPIGroupVersions), which would count it twice.
func ReadContents(r io.Reader) ([]Item, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, err
	}
	defer gz.Close()
	tr := tar.NewReader(gz)
	var items []Item
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return items, nil
		}
		if err != nil {
			return nil, err
		}
		gr, ok := itemPath(h.Name)
		if !ok || h.Typeflag != tar.TypeReg {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := json.NewDecoder(io.LimitReader(tr, 64<<20)).Decode(&u.Object); err != nil {
			return nil, fmt.Errorf("%s: %w", h.Name, err)
		}
		items = append(items, Item{GroupResource: gr, Object: u})
	}
}

// itemPath returns the group-resource of an unversioned item's path:
// resources/<gr>/namespaces/<ns>/<name>.json or resources/<gr>/cluster/<name>.json.
func itemPath(name string) (string, bool) {
	parts := strings.Split(path.Clean(strings.TrimPrefix(name, "/")), "/")
	if len(parts) < 4 || parts[0] != "resources" || path.Ext(name) != ".json" {
		return "", false
	}
	switch {
	case parts[2] == "namespaces" && len(parts) == 5:
	case parts[2] == "cluster" && len(parts) == 4:
	default:
		return "", false
	}
	return parts[1], true
}

// redactURL keeps a signed URL's query (its signature) out of an error.
func redactURL(err error, url string) error {
	base, _, _ := strings.Cut(url, "?")
	return errors.New(strings.ReplaceAll(err.Error(), url, base+"?<signature>"))
}
