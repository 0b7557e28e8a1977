package deploy_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

// k8sObjects is every object in deploy/kubernetes, decoded strictly into
// the Kubernetes API's own types: a misspelt or misplaced field fails.
type k8sObjects struct {
	statefulSets []*appsv1.StatefulSet
	services     []*corev1.Service
	secrets      []*corev1.Secret
	pdbs         []*policyv1.PodDisruptionBudget
	policies     []*networkingv1.NetworkPolicy
}

func loadKubernetes(t *testing.T) k8sObjects {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/kubernetes: %v", err)
	}
	var objs k8sObjects
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(b, []byte("\n---\n")) {
			var meta struct{ APIVersion, Kind string }
			if err := yaml.Unmarshal(doc, &meta); err != nil {
				t.Fatalf("%s, document %d: %v", file, i+1, err)
			}
			var into any
			switch meta.APIVersion + " " + meta.Kind {
			case "apps/v1 StatefulSet":
				o := &appsv1.StatefulSet{}
				objs.statefulSets, into = append(objs.statefulSets, o), o
			case "v1 Service":
				o := &corev1.Service{}
				objs.services, into = append(objs.services, o), o
			case "v1 Secret":
				o := &corev1.Secret{}
				objs.secrets, into = append(objs.secrets, o), o
			case "networking.k8s.io/v1 NetworkPolicy":
				o := &networkingv1.NetworkPolicy{}
				objs.policies, into = append(objs.policies, o), o
			case "policy/v1 PodDisruptionBudget":
				o := &policyv1.PodDisruptionBudget{}
				objs.pdbs, into = append(objs.pdbs, o), o
			default:
				t.Fatalf("%s, document %d: %s %s is not a kind this test knows; teach it", file, i+1, meta.APIVersion, meta.Kind)
			}
			if err := yaml.UnmarshalStrict(doc, into); err != nil {
				t.Fatalf("%s, document %d (%s): %v", file, i+1, meta.Kind, err)
			}
		}
	}
	return objs
}

func TestTheKubernetesManifestsDecodeAndHoldTheClusterTogether(t *testing.T) {
	objs := loadKubernetes(t)
	if len(objs.statefulSets) != 1 || len(objs.services) != 2 || len(objs.pdbs) != 1 || len(objs.secrets) != 2 {
		t.Fatalf("want one StatefulSet, two Services, one PodDisruptionBudget and two example Secrets; got %d, %d, %d, %d",
			len(objs.statefulSets), len(objs.services), len(objs.pdbs), len(objs.secrets))
	}
	sts := objs.statefulSets[0]
	spec := sts.Spec
	pod := spec.Template.Spec
	labels := spec.Template.Labels
	selects := func(sel map[string]string) bool {
		for k, v := range sel {
			if labels[k] != v {
				return false
			}
		}
		return len(sel) > 0
	}
	if !selects(spec.Selector.MatchLabels) {
		t.Errorf("the StatefulSet's selector %v does not select its pods %v", spec.Selector.MatchLabels, labels)
	}
	if spec.Replicas == nil || *spec.Replicas%2 == 0 {
		t.Errorf("replicas %v: a Raft cluster wants an odd number", spec.Replicas)
	}
	if spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("podManagementPolicy %q: with OrderedReady a cluster stopped whole never comes back", spec.PodManagementPolicy)
	}

	var headless, public *corev1.Service
	for _, s := range objs.services {
		if !selects(s.Spec.Selector) {
			t.Errorf("Service %s selects %v, not the pods %v", s.Name, s.Spec.Selector, labels)
		}
		if s.Spec.ClusterIP == corev1.ClusterIPNone {
			headless = s
		} else {
			public = s
		}
	}
	switch {
	case headless == nil || public == nil:
		t.Fatal("want a headless Service for the nodes and another for visitors and Twilio")
	case spec.ServiceName != headless.Name:
		t.Errorf("serviceName %q, but the headless Service is %q", spec.ServiceName, headless.Name)
	case !headless.Spec.PublishNotReadyAddresses:
		t.Error("the headless Service must publish not-ready pods: a pod is ready only once it has reached the others")
	}

	if len(pod.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(pod.Containers))
	}
	c := pod.Containers[0]
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["http"] != 8080 || ports["raft"] != 8081 {
		t.Errorf("container ports %v: the image listens on 8080 (HTTP) and 8081 (Raft)", ports)
	}
	for _, s := range []*corev1.Service{headless, public} {
		for _, p := range s.Spec.Ports {
			if _, ok := ports[p.TargetPort.String()]; !ok && p.TargetPort.IntValue() == 0 {
				t.Errorf("Service %s port %s targets %q, which the container does not name", s.Name, p.Name, p.TargetPort.String())
			}
		}
	}
	if r := c.ReadinessProbe; r == nil || r.HTTPGet == nil || r.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness probe %+v: want GET /readyz", r)
	}
	if l := c.LivenessProbe; l == nil || l.HTTPGet == nil || l.HTTPGet.Path != "/healthz" {
		t.Errorf("liveness probe %+v: want GET /healthz (never /readyz: a cluster without quorum must not be restarted over and over)", l)
	}
	if g := pod.TerminationGracePeriodSeconds; g == nil || *g <= 30 {
		t.Errorf("terminationGracePeriodSeconds %v: a node may take 30 s to stop gracefully", g)
	}

	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	fromField := func(name, path string) {
		if e := env[name]; e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != path {
			t.Errorf("%s must come from the downward API's %s, got %+v", name, path, e)
		}
	}
	fromField("POD_NAME", "metadata.name")
	fromField("POD_NAMESPACE", "metadata.namespace")
	first := sts.Name + "-0"
	nodeName := "$(POD_NAME)." + headless.Name + ".$(POD_NAMESPACE).svc"
	for name, want := range map[string]string{
		"DNI_NODE_ID":        "$(POD_NAME)",
		"DNI_FIRST_NODE":     first,
		"DNI_JOIN":           first + "." + headless.Name + ".$(POD_NAMESPACE).svc:8081",
		"DNI_ADVERTISE":      nodeName + ":8080",
		"DNI_RAFT_ADVERTISE": nodeName + ":8081",
	} {
		if got := env[name].Value; got != want {
			t.Errorf("%s=%q, want %q", name, got, want)
		}
	}
	// $(VAR) expands only variables defined before it.
	for i, e := range c.Env {
		for _, before := range []string{"POD_NAME", "POD_NAMESPACE"} {
			at := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == before })
			if strings.Contains(e.Value, "$("+before+")") && at > i {
				t.Errorf("%s uses $(%s) before it is defined", e.Name, before)
			}
		}
	}
	secretKeys := map[string]map[string]bool{}
	for _, s := range objs.secrets {
		secretKeys[s.Name] = map[string]bool{}
		for k := range s.StringData {
			secretKeys[s.Name][k] = true
		}
	}
	for _, name := range []string{"DNI_CLUSTER_SECRET", "DNI_ADMIN_TOKEN", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"} {
		e := env[name]
		if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			t.Errorf("%s must come from a Secret, got %+v", name, e)
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		if !secretKeys[ref.Name][ref.Key] {
			t.Errorf("%s reads key %q of Secret %q, which secrets.example.yaml does not make", name, ref.Key, ref.Name)
		}
	}
	if !strings.HasPrefix(env["DNI_PUBLIC_URL"].Value, "https://") {
		t.Errorf("DNI_PUBLIC_URL %q: Twilio wants an HTTPS address", env["DNI_PUBLIC_URL"].Value)
	}

	if len(spec.VolumeClaimTemplates) != 1 {
		t.Fatalf("want one volume claim template, got %d", len(spec.VolumeClaimTemplates))
	}
	claim := spec.VolumeClaimTemplates[0].Name
	mounted := slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == claim && m.MountPath == "/data" })
	if !mounted {
		t.Errorf("the claim %q is not mounted at /data, the image's data dir", claim)
	}
	sc := pod.SecurityContext
	if sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != 65532 || sc.FSGroup == nil || *sc.FSGroup != 65532 {
		t.Errorf("pod security context %+v: run as the image's user 65532, and give it the volume (fsGroup)", sc)
	}

	pdb := objs.pdbs[0]
	if !selects(pdb.Spec.Selector.MatchLabels) {
		t.Errorf("the PodDisruptionBudget selects %v, not the pods", pdb.Spec.Selector.MatchLabels)
	}
	if m := pdb.Spec.MaxUnavailable; m == nil || m.IntValue() != 1 || pdb.Spec.MinAvailable != nil {
		t.Errorf("PodDisruptionBudget: want maxUnavailable 1 (a quorum survives with 3 or 5 nodes), got %+v", pdb.Spec)
	}
}

// Only the StatefulSet's pods reach the cluster port; anyone reaches HTTP.
func TestTheNetworkPolicyAdmitsOnlyTheClustersPodsToTheClusterPort(t *testing.T) {
	objs := loadKubernetes(t)
	if len(objs.policies) != 1 {
		t.Fatalf("want one NetworkPolicy, got %d", len(objs.policies))
	}
	np := objs.policies[0]
	labels := objs.statefulSets[0].Spec.Template.Labels
	for k, v := range np.Spec.PodSelector.MatchLabels {
		if labels[k] != v {
			t.Errorf("the NetworkPolicy selects %v, not the pods %v", np.Spec.PodSelector.MatchLabels, labels)
		}
	}
	if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
		t.Errorf("policy types %v: want Ingress", np.Spec.PolicyTypes)
	}
	from := map[string][]networkingv1.NetworkPolicyPeer{} // port -> who may reach it (nil: anyone)
	for _, rule := range np.Spec.Ingress {
		for _, p := range rule.Ports {
			from[p.Port.String()] = rule.From
		}
	}
	if peers, ok := from["http"]; !ok || peers != nil {
		t.Errorf("the HTTP port must take anyone (visitors, Twilio): %+v", peers)
	}
	peers, ok := from["raft"]
	if !ok || len(peers) != 1 || peers[0].PodSelector == nil || peers[0].NamespaceSelector != nil || peers[0].IPBlock != nil {
		t.Fatalf("the cluster port must take the StatefulSet's pods only: %+v", peers)
	}
	for k, v := range peers[0].PodSelector.MatchLabels {
		if labels[k] != v {
			t.Errorf("the cluster port admits pods %v, not the StatefulSet's %v", peers[0].PodSelector.MatchLabels, labels)
		}
	}
}

func TestStrictDecodingRefusesAFieldKubernetesDoesNotKnow(t *testing.T) {
	var sts appsv1.StatefulSet
	err := yaml.UnmarshalStrict([]byte("apiVersion: apps/v1\nkind: StatefulSet\nspec:\n  replica: 3\n"), &sts)
	if err == nil || !strings.Contains(err.Error(), "replica") {
		t.Fatalf("a misspelt field decoded: %v", err)
	}
}
