// Package e2e runs the rekindle binary end to end on real parts: blueprint
// repos served over loopback Git, the real terraform binary and kwok clusters
// (a real control plane with simulated nodes).
package e2e
