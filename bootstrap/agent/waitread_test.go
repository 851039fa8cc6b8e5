package agent

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
)

// The status view of a typed object (no managed fields, no pod template)
// gets the status kstatus computes from the whole object.
func TestStatusViewKeepsWhatKstatusReads(t *testing.T) {
	template := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}}},
	}
	meta := func(gen int64) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: "web", Namespace: "shop", Generation: gen,
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: FieldManager, Operation: metav1.ManagedFieldsOperationApply}}}
	}
	available := appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"}}}
	rolling := available
	rolling.UpdatedReplicas, rolling.AvailableReplicas = 1, 2
	tests := []struct {
		name string
		obj  runtime.Object
		gvk  schema.GroupVersionKind
		want status.Status
	}{
		{"available Deployment", &appsv1.Deployment{ObjectMeta: meta(2), Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](3), Template: template}, Status: available},
			appsv1.SchemeGroupVersion.WithKind("Deployment"), status.CurrentStatus},
		{"Deployment rolling out", &appsv1.Deployment{ObjectMeta: meta(2), Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](3), Template: template}, Status: rolling},
			appsv1.SchemeGroupVersion.WithKind("Deployment"), status.InProgressStatus},
		{"Deployment not yet observed", &appsv1.Deployment{ObjectMeta: meta(3), Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](3), Template: template}, Status: available},
			appsv1.SchemeGroupVersion.WithKind("Deployment"), status.InProgressStatus},
		{"StatefulSet short of replicas", &appsv1.StatefulSet{ObjectMeta: meta(1), Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](2), Template: template},
			Status: appsv1.StatefulSetStatus{ObservedGeneration: 1, Replicas: 2, ReadyReplicas: 1, CurrentReplicas: 2, UpdatedReplicas: 2}},
			appsv1.SchemeGroupVersion.WithKind("StatefulSet"), status.InProgressStatus},
		{"failed Job", &batchv1.Job{ObjectMeta: meta(1), Spec: batchv1.JobSpec{Template: template},
			Status: batchv1.JobStatus{Failed: 1, Conditions: []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue}}}},
			batchv1.SchemeGroupVersion.WithKind("Job"), status.FailedStatus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			whole, err := runtime.DefaultUnstructuredConverter.ToUnstructured(tt.obj.DeepCopyObject())
			if err != nil {
				t.Fatal(err)
			}
			u := &unstructured.Unstructured{Object: whole}
			u.SetGroupVersionKind(tt.gvk)
			full, err := status.Compute(u)
			if err != nil {
				t.Fatal(err)
			}
			v, err := statusView(tt.obj, tt.gvk)
			if err != nil {
				t.Fatal(err)
			}
			got, err := status.Compute(v)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tt.want || full.Status != tt.want || got.Message != full.Message {
				t.Errorf("view: %s (%s), whole object: %s (%s), want %s", got.Status, got.Message, full.Status, full.Message, tt.want)
			}
			if v.GetManagedFields() != nil {
				t.Error("the view keeps managed fields")
			}
			if _, found, _ := unstructured.NestedSlice(v.Object, "spec", "template", "spec", "containers"); found {
				t.Error("the view keeps the pod template's containers")
			}
		})
	}
}
