package capi

import (
	"context"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// standIn plays Cluster API and its infrastructure provider for the tests:
// it walks a Cluster through infrastructure provisioned, control plane
// initialized and ready, workers ready, writes the <name>-kubeconfig Secret
// for the kwok cluster playing the workload cluster, holds a finalizer and
// releases it some time after deletion. Clusters named in stuck get an
// InfrastructureReady=False condition and go no further.
type standIn struct {
	c     client.Client
	ns    string
	stuck map[string]bool
	// finalizerDelay is how long a deleted Cluster keeps its finalizer.
	finalizerDelay time.Duration

	mu         sync.Mutex
	kubeconfig map[string][]byte
	deleting   map[string]time.Time
}

const standInFinalizer = "cluster.cluster.x-k8s.io"

func (s *standIn) setKubeconfig(name string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kubeconfig[name] = data
}

func (s *standIn) run(ctx context.Context, t *testing.T) {
	for {
		var list clusterv1.ClusterList
		if err := s.c.List(ctx, &list, client.InNamespace(s.ns)); err == nil {
			for i := range list.Items {
				if err := s.reconcile(ctx, &list.Items[i]); err != nil && ctx.Err() == nil && !apierrors.IsConflict(err) {
					t.Logf("stand-in controller: Cluster %s: %v", list.Items[i].Name, err)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(400 * time.Millisecond):
		}
	}
}

func (s *standIn) reconcile(ctx context.Context, c *clusterv1.Cluster) error {
	if c.DeletionTimestamp != nil {
		s.mu.Lock()
		since, ok := s.deleting[c.Name]
		if !ok {
			since = time.Now()
			s.deleting[c.Name] = since
		}
		s.mu.Unlock()
		if time.Since(since) < s.finalizerDelay {
			return nil
		}
		controllerutil.RemoveFinalizer(c, standInFinalizer)
		return s.c.Update(ctx, c)
	}
	if controllerutil.AddFinalizer(c, standInFinalizer) {
		return s.c.Update(ctx, c)
	}
	if s.stuck[c.Name] {
		apimeta.SetStatusCondition(&c.Status.Conditions, metav1.Condition{
			Type: clusterv1.ClusterInfrastructureReadyCondition, Status: metav1.ConditionFalse,
			Reason: "WaitingForLoadBalancer", Message: "load balancer 10.0.0.1 has no healthy backend",
		})
		return s.c.Status().Update(ctx, c)
	}
	st := &c.Status
	cond := func(typ string) {
		apimeta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: typ, Status: metav1.ConditionTrue, Reason: "Ready"})
	}
	switch {
	case st.Initialization.InfrastructureProvisioned == nil || !*st.Initialization.InfrastructureProvisioned:
		// Cluster API owns the referenced objects; clusterctl move follows that.
		for _, ref := range []clusterv1.ContractVersionedObjectReference{c.Spec.InfrastructureRef, c.Spec.ControlPlaneRef} {
			if err := s.own(ctx, c, ref); err != nil {
				return err
			}
		}
		st.Initialization.InfrastructureProvisioned = ptr.To(true)
		cond(clusterv1.ClusterInfrastructureReadyCondition)
	case st.Initialization.ControlPlaneInitialized == nil || !*st.Initialization.ControlPlaneInitialized:
		if err := s.writeSecret(ctx, c); err != nil {
			return err
		}
		st.Initialization.ControlPlaneInitialized = ptr.To(true)
		cond(clusterv1.ClusterControlPlaneInitializedCondition)
		st.ControlPlane = &clusterv1.ClusterControlPlaneStatus{DesiredReplicas: ptr.To[int32](1), ReadyReplicas: ptr.To[int32](0)}
		st.Workers = &clusterv1.WorkersStatus{DesiredReplicas: ptr.To[int32](1), ReadyReplicas: ptr.To[int32](0)}
	case *st.ControlPlane.ReadyReplicas < 1:
		st.ControlPlane.ReadyReplicas = ptr.To[int32](1)
	case *st.Workers.ReadyReplicas < 1:
		st.Workers.ReadyReplicas = ptr.To[int32](1)
		cond(clusterv1.AvailableCondition)
	default:
		// Remediation: a new workload kubeconfig replaces the old one.
		return s.writeSecret(ctx, c)
	}
	return s.c.Status().Update(ctx, c)
}

// writeSecret writes the kubeconfig Secret as Cluster API does, owned by the Cluster.
func (s *standIn) writeSecret(ctx context.Context, c *clusterv1.Cluster) error {
	s.mu.Lock()
	data := s.kubeconfig[c.Name]
	s.mu.Unlock()
	if data == nil {
		return nil
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: c.Namespace, Name: KubeconfigSecret(c.Name)}}
	err := s.c.Get(ctx, types.NamespacedName{Namespace: c.Namespace, Name: sec.Name}, sec)
	switch {
	case apierrors.IsNotFound(err):
		sec.Type = clusterv1.ClusterSecretType
		sec.Labels = map[string]string{clusterv1.ClusterNameLabel: c.Name}
		sec.OwnerReferences = []metav1.OwnerReference{{APIVersion: clusterv1.GroupVersion.String(), Kind: "Cluster", Name: c.Name, UID: c.UID}}
		sec.Data = map[string][]byte{"value": data}
		return s.c.Create(ctx, sec)
	case err != nil:
		return err
	case string(sec.Data["value"]) == string(data):
		return nil
	}
	sec.Data = map[string][]byte{"value": data}
	return s.c.Update(ctx, sec)
}

// own sets the Cluster as owner of a referenced object, as Cluster API does.
func (s *standIn) own(ctx context.Context, c *clusterv1.Cluster, ref clusterv1.ContractVersionedObjectReference) error {
	if !ref.IsDefined() {
		return nil
	}
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(ref.APIGroup + "/v1alpha1")
	u.SetKind(ref.Kind)
	if err := s.c.Get(ctx, types.NamespacedName{Namespace: c.Namespace, Name: ref.Name}, u); err != nil {
		return err
	}
	u.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: clusterv1.GroupVersion.String(), Kind: "Cluster", Name: c.Name, UID: c.UID}})
	return s.c.Update(ctx, u)
}
