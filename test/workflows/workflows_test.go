package workflows

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"go.yaml.in/yaml/v3"

	"github.com/rekindle-dev/rekindle/cmd/rekindle/app"
)

const (
	githubWorkflow  = "../../docs/ci/github-drill.yml"
	gitlabWorkflow  = "../../docs/ci/gitlab-drill.yml"
	githubInExample = "../../blueprints/examples/local/.github/workflows/dr-drill.yml"
	gitlabInExample = "../../blueprints/examples/local/.gitlab-ci.yml"
)

// lint runs actionlint (its Go module, as a library) on a workflow, with
// shellcheck for the run: scripts when it is on PATH.
func lint(t *testing.T, path string, content []byte) []*actionlint.Error {
	t.Helper()
	opts := &actionlint.LinterOptions{}
	if sc, err := exec.LookPath("shellcheck"); err == nil {
		opts.Shellcheck = sc
	} else {
		t.Log("shellcheck is not on PATH: run: scripts are checked by actionlint's own rules only")
	}
	l, err := actionlint.NewLinter(io.Discard, opts)
	if err != nil {
		t.Fatal(err)
	}
	errs, err := l.Lint(path, content, nil)
	if err != nil {
		t.Fatalf("actionlint %s: %v", path, err)
	}
	return errs
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestGitHubWorkflowPassesActionlint: the drill workflow has no actionlint
// finding, and has what a scheduled drill needs: a cron schedule, a manual
// trigger, the tools cache, the drill, the artifact, the JUnit check and a
// notification from a secret.
func TestGitHubWorkflowPassesActionlint(t *testing.T) {
	data := read(t, githubWorkflow)
	for _, e := range lint(t, githubWorkflow, data) {
		t.Errorf("actionlint: %s", e)
	}
	for _, want := range []string{
		"schedule:\n    - cron: ", "workflow_dispatch:", "uses: actions/cache@v4", "path: ~/.cache/rekindle",
		"rekindle drill ", "uses: actions/upload-artifact@v4", "report_paths: ${{ env.REPORTS }}/junit.xml",
		"${{ secrets.DRILL_WEBHOOK_URL }}", `--notify "$DRILL_WEBHOOK_URL"`,
	} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("%s lacks %q", githubWorkflow, want)
		}
	}
}

// TestActionlintCatchesMistakes: the same check finds mistakes, so its
// silence above means something.
func TestActionlintCatchesMistakes(t *testing.T) {
	data := string(read(t, githubWorkflow))
	cases := map[string]string{}
	for name, broken := range map[string]string{
		"bad cron":          strings.Replace(data, `"17 3 * * 1-5"`, `"17 3 * * 8"`, 1),
		"unknown context":   strings.Replace(data, "${{ inputs.env || 'dev' }}", "${{ input.env || 'dev' }}", 1),
		"unknown step key":  strings.Replace(data, "        id: drill\n", "        idd: drill\n", 1),
		"bad input default": strings.Replace(data, "        type: string\n        default: dev", "        type: boolean\n        default: dev", 1),
	} {
		cases[name] = broken
	}
	if _, err := exec.LookPath("shellcheck"); err == nil {
		cases["unquoted variable (shellcheck)"] = strings.Replace(data, `>> "$GITHUB_PATH"`, `>> $GITHUB_PATH`, 1)
	}
	for name, broken := range cases {
		if broken == data {
			t.Fatalf("%s: the workflow no longer holds the text this case changes", name)
		}
		if errs := lint(t, "broken.yml", []byte(broken)); len(errs) == 0 {
			t.Errorf("%s: actionlint found nothing", name)
		}
	}
}

// gitlabJobKeys are the keywords a GitLab CI job may use.
var gitlabJobKeys = []string{
	"after_script", "allow_failure", "artifacts", "before_script", "cache", "coverage", "dast_configuration",
	"dependencies", "environment", "extends", "hooks", "id_tokens", "identity", "image", "inherit", "interruptible",
	"manual_confirmation", "needs", "pages", "parallel", "release", "resource_group", "retry", "rules", "run", "script",
	"secrets", "services", "stage", "tags", "timeout", "trigger", "variables", "when",
}

// gitlabGlobalKeys are the top-level keywords that are not jobs.
var gitlabGlobalKeys = []string{"default", "include", "stages", "variables", "workflow", "image", "services", "cache", "before_script", "after_script", "spec"}

// checkGitLab checks a GitLab CI file's structure: stages, every job with a
// known stage, known keywords only, a non-empty script of strings, rules
// that run it on a schedule, and artifacts kept on failure with a JUnit
// report. It returns the problems.
func checkGitLab(data []byte) []string {
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return []string{"not YAML: " + err.Error()}
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	var stages []string
	list, _ := doc["stages"].([]any)
	for _, s := range list {
		if st, ok := s.(string); ok {
			stages = append(stages, st)
		}
	}
	if len(stages) == 0 || len(stages) != len(list) {
		bad("stages: want a list of stage names")
	}
	jobs := 0
	for name, v := range doc {
		if slices.Contains(gitlabGlobalKeys, name) || strings.HasPrefix(name, ".") {
			continue
		}
		jobs++
		job, ok := v.(map[string]any)
		if !ok {
			bad("%s: a job must be a mapping", name)
			continue
		}
		for k := range job {
			if !slices.Contains(gitlabJobKeys, k) {
				bad("%s.%s: not a GitLab job keyword", name, k)
			}
		}
		if st, _ := job["stage"].(string); !slices.Contains(stages, st) {
			bad("%s.stage: %q is not in stages %v", name, job["stage"], stages)
		}
		script, _ := job["script"].([]any)
		if len(script) == 0 {
			bad("%s.script: want a non-empty list", name)
		}
		for i, line := range script {
			if _, ok := line.(string); !ok {
				bad("%s.script[%d]: want a string", name, i)
			}
		}
		rules, _ := job["rules"].([]any)
		scheduled := false
		for _, r := range rules {
			if rm, ok := r.(map[string]any); ok && strings.Contains(fmt.Sprint(rm["if"]), `$CI_PIPELINE_SOURCE == "schedule"`) {
				scheduled = true
			}
		}
		if !scheduled {
			bad("%s.rules: none runs the job on a schedule", name)
		}
		art, _ := job["artifacts"].(map[string]any)
		reports, _ := art["reports"].(map[string]any)
		if art["when"] != "always" || reports["junit"] == nil {
			bad("%s.artifacts: want when: always and reports.junit", name)
		}
	}
	if jobs == 0 {
		bad("no job")
	}
	return problems
}

func TestGitLabWorkflowStructure(t *testing.T) {
	data := read(t, gitlabWorkflow)
	for _, p := range checkGitLab(data) {
		t.Errorf("%s: %s", gitlabWorkflow, p)
	}
	// The check finds what it looks for.
	for name, broken := range map[string]string{
		"no schedule rule": strings.Replace(string(data), `$CI_PIPELINE_SOURCE == "schedule"`, `$CI_PIPELINE_SOURCE == "push"`, 1),
		"unknown stage":    strings.Replace(string(data), "  stage: drill", "  stage: test", 1),
		"typo in keyword":  strings.Replace(string(data), "  script:", "  scripts:", 1),
		"not YAML":         string(data) + "\n  - : [",
	} {
		if broken == string(data) {
			t.Fatalf("%s: the workflow no longer holds the text this case changes", name)
		}
		if len(checkGitLab([]byte(broken))) == 0 {
			t.Errorf("%s: the check found nothing", name)
		}
	}
}

// TestExampleCopiesMatch: the examples carry the documented workflows as
// they are.
func TestExampleCopiesMatch(t *testing.T) {
	for doc, example := range map[string]string{githubWorkflow: githubInExample, gitlabWorkflow: gitlabInExample} {
		if !bytes.Equal(read(t, doc), read(t, example)) {
			t.Errorf("%s differs from %s: copy it again", example, doc)
		}
	}
}

// TestWorkflowsUseRealDrillFlags: every flag the workflows give `rekindle
// drill` is one the command has.
func TestWorkflowsUseRealDrillFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if code := app.Run(context.Background(), app.Streams{In: strings.NewReader(""), Out: &out, Err: &errb}, []string{"drill", "--help"}); code != 0 {
		t.Fatalf("drill --help: exit %d\n%s", code, errb.String())
	}
	help := out.String()
	flag := regexp.MustCompile(`--[a-z][a-z-]+`)
	for _, path := range []string{githubWorkflow, gitlabWorkflow} {
		text := string(read(t, path))
		i := strings.Index(text, "rekindle drill ")
		if i < 0 {
			t.Fatalf("%s does not run rekindle drill", path)
		}
		cmd := text[i:]
		if end := strings.Index(cmd, "\n\n"); end > 0 {
			cmd = cmd[:end]
		}
		flags := flag.FindAllString(cmd, -1)
		if len(flags) < 8 {
			t.Errorf("%s: found only %v in the drill command", filepath.Base(path), flags)
		}
		for _, f := range flags {
			if !strings.Contains(help, "  "+f+" ") && !strings.Contains(help, ", "+f+" ") {
				t.Errorf("%s: rekindle drill has no flag %s", filepath.Base(path), f)
			}
		}
	}
}
