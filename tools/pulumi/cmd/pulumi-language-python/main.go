// Command pulumi-language-python is a minimal Pulumi language host for Python programs, written for mlops-kit.
//
// Why it exists: upstream's host lives in the module github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3,
// which the Go module proxy reachable from our machines does not serve at any version (see tools/README.md). This host
// implements the part of the LanguageRuntime gRPC protocol that `pulumi preview/up/destroy/refresh/stack` use:
//
//   - Handshake / GetPluginInfo / About
//   - GetRequiredPackages + GetRequiredPlugins: like upstream, every installed distribution that ships a
//     pulumi-plugin.json with "resource": true is reported (so pulumi_docker is reported even if unused)
//   - Run: executes `<venv>/bin/python -u pulumi-language-python-exec ...` (the script from the sdk/v3 module,
//     installed next to this binary), with PULUMI_CONFIG / PULUMI_CONFIG_SECRET_KEYS in the environment
//   - InstallDependencies: a no-op (the virtualenv is managed by the project: `make venv`)
//
// Runtime options read from Pulumi.yaml: `virtualenv` (relative to the project root); `toolchain` other than pip is
// rejected with a clear error.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	pbempty "google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
)

// version is set with -ldflags "-X main.version=..." by tools/build-toolchain.sh.
var version = "0.0.0-dev"

// exitCodeUserActionable is what pulumi-language-python-exec exits with after printing a message for the user.
const exitCodeUserActionable = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
	execScript    string
}

func main() {
	// Flags the engine may pass: --tracing URL (accepted, ignored); --logtostderr and -v=N (--logflow) are already
	// registered by glog, which the sdk imports.
	flag.String("tracing", "", "ignored (accepted for compatibility with the upstream host)")
	flag.String("root", "", "ignored (accepted for compatibility with the upstream host)")
	flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if f := flag.Lookup("version"); f != nil && f.Value.String() == "true" {
		fmt.Println(version)
		return
	}

	engineAddress := ""
	if args := flag.Args(); len(args) > 0 {
		engineAddress = args[0]
	}

	self, err := os.Executable()
	if err != nil {
		fatalf("cannot locate own executable: %v", err)
	}
	if resolved, err := filepath.EvalSymlinks(self); err == nil {
		self = resolved
	}
	h := &host{
		engineAddress: engineAddress,
		execScript:    filepath.Join(filepath.Dir(self), "pulumi-language-python-exec"),
	}

	cancel := make(chan bool)
	if engineAddress != "" {
		// Exit when the engine goes away, so no orphaned hosts are left behind.
		ctx, stop := context.WithCancel(context.Background())
		go func() {
			<-ctx.Done()
			close(cancel)
		}()
		go func() { _ = rpcutil.Healthcheck(ctx, engineAddress, 5*time.Minute, stop) }()
	}

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
	})
	if err != nil {
		fatalf("could not start language host RPC server: %v", err)
	}
	// The engine reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fatalf("language host RPC server stopped: %v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pulumi-language-python: "+format+"\n", args...)
	os.Exit(1)
}

// python resolves the interpreter from the program's runtime options.
func python(info *pulumirpc.ProgramInfo) (string, []string, error) {
	opts := map[string]any{}
	if info != nil && info.GetOptions() != nil {
		opts = info.GetOptions().AsMap()
	}
	if tc, ok := opts["toolchain"].(string); ok && tc != "" && tc != "pip" {
		return "", nil, fmt.Errorf("runtime option toolchain=%q is not supported by the mlops-kit Python host "+
			"(only pip + virtualenv)", tc)
	}
	venv, _ := opts["virtualenv"].(string)
	if venv == "" {
		if p, err := exec.LookPath("python3"); err == nil {
			return p, os.Environ(), nil
		}
		return "", nil, errors.New("no `virtualenv` runtime option in Pulumi.yaml and no python3 on PATH")
	}
	if !filepath.IsAbs(venv) {
		venv = filepath.Join(info.GetRootDirectory(), venv)
	}
	py := filepath.Join(venv, "bin", "python")
	if _, err := os.Stat(py); err != nil {
		return "", nil, fmt.Errorf("virtualenv %s has no bin/python: create it first (make venv)", venv)
	}
	env := append(os.Environ(),
		"VIRTUAL_ENV="+venv,
		"PATH="+filepath.Join(venv, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	return py, env, nil
}

// pluginJSON is the content of pulumi-plugin.json shipped inside Pulumi provider SDK packages.
type pluginJSON struct {
	Resource bool   `json:"resource"`
	Name     string `json:"name"`
	Version  string `json:"version"`
	Server   string `json:"server"`
}

// listPlugins asks the interpreter which installed distributions ship a pulumi-plugin.json.
const listPluginsScript = `
import importlib.metadata as md, json
out = []
for d in md.distributions():
    for f in (d.files or []):
        if f.name == "pulumi-plugin.json":
            try:
                out.append(json.loads(f.read_text()))
            except Exception:
                pass
print(json.dumps(out))
`

func listPlugins(ctx context.Context, info *pulumirpc.ProgramInfo) ([]pluginJSON, error) {
	py, env, err := python(info)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, py, "-c", listPluginsScript)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing installed Pulumi packages with %s: %w", py, err)
	}
	var plugins []pluginJSON
	if err := json.Unmarshal(out, &plugins); err != nil {
		return nil, fmt.Errorf("parsing the installed Pulumi package list: %w", err)
	}
	seen := map[string]bool{}
	var res []pluginJSON
	for _, p := range plugins {
		key := p.Name + "@" + p.Version
		if !p.Resource || p.Name == "" || seen[key] {
			continue
		}
		seen[key] = true
		res = append(res, p)
	}
	return res, nil
}

func (h *host) Handshake(
	ctx context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *pbempty.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (h *host) GetRequiredPlugins(
	ctx context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	plugins, err := listPlugins(ctx, req.GetInfo())
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetRequiredPluginsResponse{}
	for _, p := range plugins {
		resp.Plugins = append(resp.Plugins, &pulumirpc.PluginDependency{
			Name: p.Name, Kind: "resource", Version: p.Version, Server: p.Server,
		})
	}
	return resp, nil
}

func (h *host) GetRequiredPackages(
	ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	plugins, err := listPlugins(ctx, req.GetInfo())
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetRequiredPackagesResponse{}
	for _, p := range plugins {
		resp.Packages = append(resp.Packages, &pulumirpc.PackageDependency{
			Name: p.Name, Kind: "resource", Version: p.Version, Server: p.Server,
		})
	}
	return resp, nil
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	py, env, err := python(req.GetInfo())
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	if _, err := os.Stat(h.execScript); err != nil {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf(
			"%s is missing: rebuild the toolchain (bash tools/build-toolchain.sh)", h.execScript)}, nil
	}

	// The SDK expects a JSON object and a JSON list, never null.
	cfg := req.GetConfig()
	if cfg == nil {
		cfg = map[string]string{}
	}
	keys := req.GetConfigSecretKeys()
	if keys == nil {
		keys = []string{}
	}
	config, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	secretKeys, err := json.Marshal(keys)
	if err != nil {
		return nil, err
	}
	env = append(env, "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(secretKeys))

	program := req.GetProgram()
	if program == "" {
		program = "."
	}
	args := []string{"-u", h.execScript,
		"--monitor", req.GetMonitorAddress(),
		"--engine", h.engineAddress,
		"--project", req.GetProject(),
		"--stack", req.GetStack(),
		"--pwd", req.GetPwd(),
		"--dry_run", strconv.FormatBool(req.GetDryRun()),
		"--parallel", strconv.Itoa(int(req.GetParallel())),
		"--organization", req.GetOrganization(),
		"--root_directory", req.GetInfo().GetRootDirectory(),
		program,
	}
	args = append(args, req.GetArgs()...)

	cmd := exec.CommandContext(ctx, py, args...)
	cmd.Env = env
	cmd.Dir = req.GetPwd()
	// The engine shows the host's stdout/stderr to the user.
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == exitCodeUserActionable {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode()),
			}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("running %s: %v", py, err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

func (h *host) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	// The project's virtualenv is created by `make venv`; nothing to install here.
	return nil
}

func (h *host) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	py, env, err := python(req.GetInfo())
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, py, "--version")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{
		Executable: py,
		Version:    strings.TrimSpace(strings.TrimPrefix(string(out), "Python ")),
	}, nil
}

func (h *host) GetProgramDependencies(
	ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	py, env, err := python(req.GetInfo())
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, py, "-c",
		"import importlib.metadata as md, json; "+
			"print(json.dumps(sorted({d.metadata['Name']: d.version for d in md.distributions()}.items())))")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing the virtualenv's packages: %w", err)
	}
	var pairs [][2]string
	if err := json.Unmarshal(out, &pairs); err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetProgramDependenciesResponse{}
	for _, p := range pairs {
		resp.Dependencies = append(resp.Dependencies, &pulumirpc.DependencyInfo{Name: p[0], Version: p[1]})
	}
	return resp, nil
}

func (h *host) RuntimeOptionsPrompts(
	context.Context, *pulumirpc.RuntimeOptionsRequest,
) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}
