package terraform

import (
	"strings"
	"testing"
)

func TestDiagnostic(t *testing.T) {
	tests := []struct {
		name, stderr, want string
	}{
		{
			name: "init preamble and CLI config warning dropped",
			stderr: "There are some problems with the CLI configuration:\n╷\n│ Warning: Unable to open CLI configuration file\n│\n│ The CLI configuration file at \"/x\" does not exist.\n╵\n\n" +
				"Error: Terraform encountered problems during initialisation, including problems\nwith the configuration, described below.\n\n" +
				"Error: Invalid expression\n\n  on main.tf line 2, in resource \"terraform_data\" \"a\":\n   2:   input =\n\nExpected the start of an expression.\n",
			want: "Error: Invalid expression\n\n  on main.tf line 2, in resource \"terraform_data\" \"a\":\n   2:   input =\n\nExpected the start of an expression.",
		},
		{
			name:   "boxed error",
			stderr: "╷\n│ Error: Failed to load plugin schemas\n│\n│ boom\n╵\n",
			want:   "Error: Failed to load plugin schemas\n\nboom",
		},
		{
			name:   "no diagnostic",
			stderr: "panic: something\n",
			want:   "",
		},
		{
			name:   "long diagnostic is cut",
			stderr: "Error: many\n" + strings.Repeat("line\n", 30),
			want:   "Error: many\n" + strings.Repeat("line\n", maxDiagLines-1) + "... (19 more lines)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := diagnostic(tt.stderr); got != tt.want {
				t.Errorf("diagnostic =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
