package bootstrap

// Loss is what a recovery's detect step found missing in one cluster.
type Loss struct {
	Cluster string `json:"cluster"`
	// What is "cluster", "agent" or "workloads"; empty when nothing is lost.
	What   string `json:"what,omitempty"`
	Detail string `json:"detail"`
}
