package backupstore

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rekindle-dev/rekindle/bootstrap/restore"
)

// storageLocationLabel is the label Velero's sync puts on a backup it
// creates from a bucket (velerov1api.StorageLocationLabel).
const storageLocationLabel = "velero.io/storage-location"

// Seed does for the BackupStorageLocations of Velero's namespace ns what
// Velero's backup sync does for each (pkg/controller/backup_sync_controller.go
// in Velero v1.18.3), without waiting for it: Velero runs that sync
// periodically, once a minute, and the first run after Velero starts
// usually comes before its locations are validated, so on a new cluster
// the backups appear about a minute after Velero. For every location that
// is Available but has not synced yet, Seed reads the bucket with the
// credentials the location's Secret in the cluster holds and creates each
// Backup the cluster lacks from its velero-backup.json: in ns, without its
// resourceVersion, hooks and stale Schedule owner references, with
// spec.storageLocation and the velero.io/storage-location label naming the
// location. Like Velero it syncs finished backups only. A backup with pod
// volume backups is left to Velero's sync, which also creates their
// PodVolumeBackup objects; the result is then not Complete. The location's
// status (lastSyncedTime) stays Velero's.
func Seed(ctx context.Context, c client.Client, ns string) (restore.SeedResult, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(restore.LocationGVK.GroupVersion().WithKind("BackupStorageLocationList"))
	if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
		return restore.SeedResult{}, fmt.Errorf("list BackupStorageLocations in %s: %w", ns, err)
	}
	inCluster, err := clusterBackups(ctx, c, ns)
	if err != nil {
		return restore.SeedResult{}, err
	}
	res := restore.SeedResult{Complete: true}
	var created, left, unfinished []string
	for i := range list.Items {
		bsl := &list.Items[i]
		phase, _, _ := unstructured.NestedString(bsl.Object, "status", "phase")
		if last, _, _ := unstructured.NestedString(bsl.Object, "status", "lastSyncedTime"); last != "" {
			continue // Velero has synced it
		}
		loc := locationOf(bsl)
		if phase != restore.PhaseAvailable {
			return res, fmt.Errorf("%s is not Available", loc)
		}
		creds, err := credentialsInCluster(ctx, c, loc)
		if err != nil {
			return res, err
		}
		s, err := Open(ctx, loc, creds)
		if err != nil {
			return res, err
		}
		names, err := s.Names(ctx)
		if err != nil {
			return res, err
		}
		for _, name := range names {
			if inCluster[name] {
				continue
			}
			why, velero, err := s.seedOne(ctx, c, name)
			switch {
			case err != nil:
				return res, err
			case why != "" && velero:
				left = append(left, name+" ("+why+")")
				continue
			case why != "":
				unfinished = append(unfinished, name+" ("+why+")")
				continue
			}
			inCluster[name] = true
			created = append(created, name)
		}
	}
	res.Complete = len(left) == 0
	res.Summary = fmt.Sprintf("%d Backup object(s) created from the bucket, as Velero's backup sync would a minute after Velero starts", len(created))
	if len(created) > 0 {
		res.Summary += ": " + strings.Join(created, ", ")
	}
	if len(left) > 0 {
		res.Summary += "; left to Velero's sync: " + strings.Join(left, ", ")
	}
	if len(unfinished) > 0 {
		res.Summary += "; not finished, so not synced (nor by Velero): " + strings.Join(unfinished, ", ")
	}
	return res, nil
}

func clusterBackups(ctx context.Context, c client.Reader, ns string) (map[string]bool, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(restore.BackupGVK.GroupVersion().WithKind("BackupList"))
	if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("list Backups in %s: %w", ns, err)
	}
	out := map[string]bool{}
	for _, u := range list.Items {
		out[u.GetName()] = true
	}
	return out, nil
}

// seedOne creates backup name in the cluster from the bucket, or says why
// not, and whether Velero's sync would create it (velero) or skip it too.
func (s *Store) seedOne(ctx context.Context, c client.Client, name string) (why string, velero bool, err error) {
	u, err := s.metadata(ctx, name)
	if err != nil {
		return "", false, err
	}
	if u == nil {
		return "no " + metadataFile, false, nil
	}
	switch phase, _, _ := unstructured.NestedString(u.Object, "status", "phase"); phase {
	case restore.PhaseCompleted, restore.PhasePartiallyFailed, restore.PhaseFailed:
	case "":
		return "no phase", false, nil
	default:
		// Velero syncs expired backups of the Waiting and Finalizing
		// phases too, as PartiallyFailed, for its garbage collection:
		// nothing a restore would use.
		return "phase " + phase, false, nil
	}
	n, err := s.podVolumeBackups(ctx, name)
	if err != nil {
		return "", false, err
	}
	if n > 0 {
		return fmt.Sprintf("%d pod volume backup(s)", n), true, nil
	}
	if err := unstructured.SetNestedField(u.Object, map[string]any{}, "spec", "hooks"); err != nil {
		return "", false, err
	}
	if err := unstructured.SetNestedField(u.Object, s.loc.Name, "spec", "storageLocation"); err != nil {
		return "", false, err
	}
	u.SetNamespace(s.loc.Namespace)
	u.SetResourceVersion("")
	u.SetUID("")
	u.SetManagedFields(nil)
	labels := u.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[storageLocationLabel] = validLabel(s.loc.Name)
	u.SetLabels(labels)
	refs, err := liveScheduleRefs(ctx, c, u)
	if err != nil {
		return "", false, err
	}
	u.SetOwnerReferences(refs)
	if err := c.Create(ctx, u); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", false, fmt.Errorf("create Backup/%s/%s from %s: %w", s.loc.Namespace, name, s.loc, err)
	}
	return "", false, nil
}

// podVolumeBackups counts the PodVolumeBackups Velero stored with the
// backup (<name>-podvolumebackups.json.gz, a gzipped JSON list).
func (s *Store) podVolumeBackups(ctx context.Context, name string) (int, error) {
	key := path.Join(s.backupsDir(), name, name+"-podvolumebackups.json.gz")
	data, err := s.get(ctx, key)
	if err != nil || data == nil {
		return 0, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return 0, fmt.Errorf("%s: %s: %v", s.loc, key, err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, 64<<20))
	if err != nil {
		return 0, fmt.Errorf("%s: %s: %v", s.loc, key, err)
	}
	var items []any
	if err := utiljson.Unmarshal(raw, &items); err != nil {
		return 0, fmt.Errorf("%s: %s is not a list: %v", s.loc, key, err)
	}
	return len(items), nil
}

// liveScheduleRefs keeps the backup's owner references but those to a
// Schedule this cluster does not have with the same UID, as Velero's sync
// does (a rebuilt cluster's Schedule from Git is a new object).
func liveScheduleRefs(ctx context.Context, c client.Reader, u *unstructured.Unstructured) ([]metav1.OwnerReference, error) {
	var out []metav1.OwnerReference
	for _, r := range u.GetOwnerReferences() {
		if r.Kind == "Schedule" {
			sch := &unstructured.Unstructured{}
			sch.SetGroupVersionKind(restore.ScheduleGVK)
			err := c.Get(ctx, client.ObjectKey{Namespace: u.GetNamespace(), Name: r.Name}, sch)
			switch {
			case apierrors.IsNotFound(err):
				continue
			case err != nil:
				return nil, fmt.Errorf("read Schedule/%s/%s: %w", u.GetNamespace(), r.Name, err)
			case sch.GetUID() != r.UID:
				continue
			}
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// validLabel is Velero's label.GetValidName: values longer than 63
// characters become their first 57 and 6 hex digits of their SHA-256.
func validLabel(v string) string {
	if len(v) <= 63 {
		return v
	}
	sum := sha256.Sum256([]byte(v))
	return v[:57] + hex.EncodeToString(sum[:])[:6]
}

// credentialsInCluster reads the location's credentials from the cluster,
// where Velero reads them: the Secret key spec.credential names, else key
// "cloud" of DefaultCredentialsSecret (mounted into Velero's Deployment as
// its AWS credentials file).
func credentialsInCluster(ctx context.Context, c client.Reader, l Location) (credentials, error) {
	name, key, profile := l.credentialRef()
	sec := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: l.Namespace, Name: name}, sec); err != nil {
		return credentials{}, fmt.Errorf("credentials of %s: read Secret %s/%s: %w", l, l.Namespace, name, err)
	}
	data, ok := sec.Data[key]
	if !ok {
		return credentials{}, fmt.Errorf("credentials of %s: Secret %s/%s has no key %q", l, l.Namespace, name, key)
	}
	creds, err := parseCloudFile(data, profile)
	if err != nil {
		return credentials{}, fmt.Errorf("credentials in Secret %s/%s key %s: %w", l.Namespace, name, key, err)
	}
	return creds, nil
}
