// Command rekindle rebuilds Kubernetes environments end to end from one Git
// blueprint repo. See the README for the commands.
package main

import (
	"os"

	"github.com/rekindle-dev/rekindle/cmd/rekindle/app"
)

func main() {
	os.Exit(app.Main())
}
