"""Serving benchmark: the serving container vs `bentoml serve` on the host vs `mlflow models serve`, same model, same
machine, same payloads, same load generator (wrk on loopback), plus the in-process ceiling and the image build times.

    .venv/bin/python bench/serving.py                       # everything, ~6 min on 2 cores
    .venv/bin/python bench/serving.py --duration 5 --concurrency 1,32 --targets container,mlflow --no-build-times

Needs docker (`bash scripts/docker-engine.sh`) and wrk (`apt-get install -y wrk`). See bench/README.md.
One file over 300 lines on purpose: it is run by path as one script, and every target is measured by the same load,
CPU accounting and report code, which sits beside the servers it measures.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mlops_kit.local import BIN, LocalServer, _spawn, free_port, start_bento, start_mlflow  # noqa: E402
from mlops_kit.waiting import http_ok, wait_until  # noqa: E402

CACHE = Path(os.environ.get("MLOPS_KIT_CACHE", Path.home() / ".cache" / "mlops-kit"))
LUA = ROOT / "bench" / "post.lua"
MODEL = "bench-serving"
# What the serving image sets (images/serving/Dockerfile); the host `bentoml serve` gets the same, so (a) vs (b) is
# the container vs the host, not a configuration difference.
SERVER_ENV = {"OTEL_SDK_DISABLED": "true", "BENTOML_DO_NOT_TRACK": "true"}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(*args: str, env: dict | None = None, timeout: float = 1800) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(args), capture_output=True, text=True, env=env, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} -> {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return proc


def docker_client() -> str:
    recorded = CACHE / "docker-client"
    client = recorded.read_text().strip() if recorded.exists() else shutil.which("docker")
    if not client or subprocess.run([client, "info"], capture_output=True).returncode != 0:
        sys.exit("docker is not available: run `bash scripts/docker-engine.sh` first")
    return client


# --- measurement ------------------------------------------------------------------------------------------------


@dataclass
class Point:
    target: str
    concurrency: int
    payload_rows: int
    rps: float
    rows_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    errors: int
    error_detail: dict
    server_cpu_cores: float  # CPU the server processes used, in cores (1.0 = one core busy for the whole point)
    server_cpu_ms_per_request: float
    proxy_cpu_cores: float  # docker-proxy of the published port (container targets only)
    wrk_cpu_cores: float
    other_cpu_cores: float  # everything else on the machine during the point (other builds, the docker daemon, ...)
    loadavg_1m: float


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for proc in processes:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def _busy_seconds() -> float:
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + t.irq + t.softirq + getattr(t, "steal", 0.0)


def wrk(url: str, body_file: Path, concurrency: int, seconds: float) -> dict:
    threads = 1 if concurrency == 1 else 2
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{concurrency}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        url,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "WRK_BODY": str(body_file)})
    line = next((x for x in proc.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return json.loads(line.removeprefix("WRK_JSON "))


def measure(
    target: str,
    url: str,
    body_file: Path,
    rows: int,
    concurrency: int,
    seconds: float,
    server: list[psutil.Process],
    proxy: list[psutil.Process] = (),
) -> Point:
    cpu0, busy0, wall0 = _cpu_seconds(server), _busy_seconds(), time.monotonic()
    proxy0 = _cpu_seconds(list(proxy))
    child0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = wrk(url, body_file, concurrency, seconds)
    child1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.monotonic() - wall0
    server_cpu = _cpu_seconds(server) - cpu0
    proxy_cpu = _cpu_seconds(list(proxy)) - proxy0
    wrk_cpu = (child1.ru_utime - child0.ru_utime) + (child1.ru_stime - child0.ru_stime)
    busy = _busy_seconds() - busy0
    errors = {k: result[k] for k in ("connect", "read", "write", "status", "timeout") if result[k]}
    rps = result["requests"] / (result["duration_us"] / 1e6)
    return Point(
        target=target,
        concurrency=concurrency,
        payload_rows=rows,
        rps=round(rps, 1),
        rows_per_s=round(rps * rows, 1),
        p50_ms=result["p50_us"] / 1000,
        p90_ms=result["p90_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        max_ms=result["max_us"] / 1000,
        requests=result["requests"],
        errors=sum(errors.values()),
        error_detail=errors,
        server_cpu_cores=round(server_cpu / wall, 2),
        server_cpu_ms_per_request=round(1000 * server_cpu / max(result["requests"], 1), 3),
        proxy_cpu_cores=round(proxy_cpu / wall, 2),
        wrk_cpu_cores=round(wrk_cpu / wall, 2),
        other_cpu_cores=round(max(busy - server_cpu - proxy_cpu - wrk_cpu, 0.0) / wall, 2),
        loadavg_1m=os.getloadavg()[0],
    )


def check_responses(url: str, body_file: Path, expect_rows: int) -> None:
    """A benchmark of error pages proves nothing: the payload must get a 200 with one prediction per row."""
    response = httpx.post(url, content=body_file.read_bytes(), headers={"content-type": "application/json"}, timeout=30)
    response.raise_for_status()
    data = response.json()
    predictions = data["predictions"] if isinstance(data, dict) else data
    if len(predictions) != expect_rows:
        raise RuntimeError(f"{url}: expected {expect_rows} predictions, got {data!r:.300}")


def server_processes(root_pids: list[int]) -> list[psutil.Process]:
    """The processes and all their descendants, each once."""
    procs: dict[int, psutil.Process] = {}
    for pid in root_pids:
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            for each in (proc, *proc.children(recursive=True)):
                procs.setdefault(each.pid, each)
    return list(procs.values())


def docker_proxy(port: str) -> list[psutil.Process]:
    """docker's userland proxy for a published 127.0.0.1 port: it copies every byte, so it costs CPU per request."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["name"] != "docker-proxy" or "-host-port" not in cmdline:
            continue
        if cmdline[cmdline.index("-host-port") + 1] == port:
            found.append(proc)
    return found


# --- servers ----------------------------------------------------------------------------------------------------


@dataclass
class Server:
    url: str  # where the load goes
    processes: list  # psutil processes of the server (CPU accounting)
    proxy: list = field(default_factory=list)  # docker-proxy of the published port
    direct_url: str | None = None  # the container's bridge address: the same server without docker-proxy


@contextlib.contextmanager
def container(docker: str, image: str, workers: int) -> Iterator[Server]:
    name = f"mlops-kit-bench-serving-{os.getpid()}"
    run(docker, "run", "-d", "--name", name, "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
        "--security-opt", "no-new-privileges", "-e", f"BENTOML_WORKERS={workers}", "-p", "127.0.0.1::3000", image)  # fmt: skip
    try:
        port = run(docker, "port", name, "3000/tcp").stdout.split()[0].rsplit(":", 1)[1]
        url = f"http://127.0.0.1:{port}"

        def running() -> bool:
            return run(docker, "inspect", "-f", "{{.State.Running}}", name).stdout.strip() == "true"

        wait_until(http_ok(url + "/readyz"), timeout=180, interval=0.3, alive=running)
        pids = [int(p) for p in run(docker, "top", name, "-o", "pid").stdout.split()[1:]]
        address = run(docker, "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name)
        yield Server(url, server_processes(pids), docker_proxy(port), f"http://{address.stdout.split()[0]}:3000")
    finally:
        subprocess.run([docker, "rm", "-f", name], capture_output=True)


@contextlib.contextmanager
def host_bento(model_uri: str, tracking_uri: str, workers: int, state: Path) -> Iterator[Server]:
    saved = dict(os.environ)
    os.environ.update(SERVER_ENV)
    try:
        server = start_bento(model_uri, tracking_uri, state / "bentoml.log", workers=workers)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    try:
        yield Server(server.url, server_processes([server.process.pid]))
    finally:
        server.stop()


@contextlib.contextmanager
def mlflow_serve(model_uri: str, tracking_uri: str, workers: int, state: Path) -> Iterator[Server]:
    port = free_port()
    # --env-manager local runs `uvicorn` from PATH: the venv's bin directory must be on it.
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    cmd = [str(BIN / "mlflow"), "models", "serve", "-m", model_uri, "--env-manager", "local",
           "-h", "127.0.0.1", "-p", str(port), "-w", str(workers)]  # fmt: skip
    # mlops_kit.local's spawn helper: same start/wait/stop handling as the project's other local servers.
    server: LocalServer = _spawn("mlflow models serve", cmd, f"http://127.0.0.1:{port}", "/ping",
                                 state / f"mlflow-serve-w{workers}.log", env, 180)  # fmt: skip
    try:
        yield Server(server.url, server_processes([server.process.pid]))
    finally:
        server.stop()


# --- in-process ceiling -----------------------------------------------------------------------------------------


def in_process(model_uri: str, tracking_uri: str, x1: np.ndarray, x64: np.ndarray, seconds: float) -> dict:
    import mlflow.pyfunc
    import pandas as pd

    from services.serving.model_loader import load_model

    loaded = load_model(model_uri, tracking_uri)

    def rate(fn, rows: int) -> dict:
        fn()
        calls, t0 = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - t0) < seconds:
            fn()
            calls += 1
        return {"calls_per_s": round(calls / elapsed, 1), "rows_per_s": round(calls * rows / elapsed, 1),
                "us_per_call": round(1e6 * elapsed / calls, 1)}  # fmt: skip

    estimator = loaded.estimator
    pyfunc = mlflow.pyfunc.load_model(model_uri)
    frame1 = pd.DataFrame(x1, columns=list(loaded.feature_names))
    return {
        "sklearn_1_row": rate(lambda: estimator.predict_proba(x1), 1),
        "sklearn_64_rows": rate(lambda: estimator.predict_proba(x64), 64),
        "pyfunc_1_row": rate(lambda: pyfunc.predict(frame1), 1),
    }


# --- builds -----------------------------------------------------------------------------------------------------


def build_times(docker: str, tracking_uri: str, versions: tuple[str, str], tag: str) -> dict:
    """Cold build vs model-only rebuild, both end to end (what `images/build.sh serving` does) and docker-only.

    cold     = wheelhouse download into an empty directory (pip's HTTP cache may be warm) + prepare.sh (model download,
               code copy) + `docker build --no-cache` of that context. The base image is a prerequisite of every
               image and is not counted (scripts/base-image.sh: 72-95 s once per machine).
    model-only rebuild = `images/build.sh serving` after a new model version, code unchanged (cache warm).
    """
    env = {**os.environ, "MODEL_NAME": MODEL, "MLFLOW_TRACKING_URI": tracking_uri, "IMAGE_TAG": tag}
    env.pop("MODEL_DIR", None)
    run("bash", str(ROOT / "images/build.sh"), "serving", env={**env, "MODEL_VERSION": versions[0]})
    base = run(
        docker, "image", "inspect", "-f", '{{index .Config.Labels "mlops-kit.base.hash"}}', f"mlops-kit/serving:{tag}"
    )
    base_ref = f"mlops-kit/base:bookworm-{base.stdout.strip()}"

    with tempfile.TemporaryDirectory(prefix="mlops-kit-cold-build-") as tmp:
        context = Path(tmp) / "context"
        shutil.copytree(ROOT / "images" / "serving", context)
        log("cold build: wheelhouse into an empty directory")
        t0 = time.monotonic()
        run(
            "bash",
            str(ROOT / "scripts/wheelhouse.sh"),
            str(ROOT / "images/serving/requirements.txt"),
            str(context / "wheels"),
        )
        wheels = time.monotonic() - t0
        t0 = time.monotonic()
        run(str(ROOT / "images/serving/prepare.sh"), str(context), env={**env, "MODEL_VERSION": versions[0]})
        prepare = time.monotonic() - t0
        log("cold build: docker build --no-cache")
        cold_tag = f"mlops-kit/serving:{tag}-cold"
        t0 = time.monotonic()
        run(docker, "build", "--no-cache", "--build-arg", f"BASE_IMAGE={base_ref}", "-t", cold_tag,
            "-f", str(context / "Dockerfile"), str(context), env={**os.environ, "DOCKER_BUILDKIT": "1"})  # fmt: skip
        docker_cold = time.monotonic() - t0
        subprocess.run([docker, "image", "rm", cold_tag], capture_output=True)

    log(f"model-only rebuild: images/build.sh serving with model version {versions[1]}")
    t0 = time.monotonic()
    proc = run("bash", str(ROOT / "images/build.sh"), "serving", env={**env, "MODEL_VERSION": versions[1]})
    rebuild = time.monotonic() - t0
    match = re.search(r"built \S+ in ([0-9.]+)s", proc.stderr)
    docker_rebuild = float(match.group(1)) if match else float("nan")
    cold = wheels + prepare + docker_cold
    return {
        "cold_s": round(cold, 1),
        "cold_wheelhouse_s": round(wheels, 1),
        "cold_prepare_s": round(prepare, 1),
        "cold_docker_build_s": round(docker_cold, 1),
        "model_only_rebuild_s": round(rebuild, 1),
        "model_only_rebuild_docker_build_s": docker_rebuild,
        "model_only_rebuild_fraction": round(rebuild / cold, 3),
        "model_only_rebuild_docker_fraction": round(docker_rebuild / docker_cold, 3),
    }


# --- main -------------------------------------------------------------------------------------------------------


@dataclass
class Report:
    started: str
    machine: dict
    config: dict
    image: dict = field(default_factory=dict)
    builds: dict = field(default_factory=dict)
    points: list = field(default_factory=list)
    in_process: dict = field(default_factory=dict)
    ratios: dict = field(default_factory=dict)
    targets: dict = field(default_factory=dict)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=12, help="seconds per point (default 12)")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--workers", type=int, default=2, help="server workers for all three servers (default 2)")
    parser.add_argument("--targets", default="container,bentoml,mlflow,inprocess")
    parser.add_argument("--no-build-times", action="store_true", help="skip the cold / model-only build timing")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install -y wrk")
    levels = [int(c) for c in args.concurrency.split(",")]
    targets = args.targets.split(",")
    docker = docker_client()
    now = dt.datetime.now()
    report = Report(
        started=now.isoformat(timespec="seconds"),
        machine={
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "loadavg_at_start": os.getloadavg(),
        },
        config={
            "duration_s": args.duration,
            "concurrency": levels,
            "workers": args.workers,
            "targets": targets,
            "load_generator": "wrk (bench/post.lua), loopback, 1 thread at c=1 else 2, keep-alive connections",
            "server_env": SERVER_ENV,
        },
    )
    from sklearn.datasets import load_breast_cancer

    from services.training.config import TrainingConfig
    from services.training.pipeline import run_training

    data = load_breast_cancer(as_frame=True).data
    with tempfile.TemporaryDirectory(prefix="mlops-kit-bench-") as tmp:
        state = Path(tmp)
        body1, body64, mlflow_body = state / "row.json", state / "rows64.json", state / "mlflow-row.json"
        body1.write_text(json.dumps({"instances": data.iloc[:1].values.tolist()}))
        body64.write_text(json.dumps({"instances": data.iloc[:64].values.tolist()}))
        mlflow_body.write_text(json.dumps({"dataframe_split": json.loads(data.iloc[:1].to_json(orient="split"))}))

        log("starting MLflow and training two versions of the model")
        tracking = start_mlflow(state / "mlflow")
        try:
            v1 = run_training(TrainingConfig(model_name=MODEL), tracking.url).model_version
            v2 = run_training(TrainingConfig(model_name=MODEL), tracking.url).model_version
            model_uri = f"models:/{MODEL}/{v2}"
            tag = "bench"
            if args.no_build_times:
                env = {**os.environ, "MODEL_NAME": MODEL, "MODEL_VERSION": v2, "MLFLOW_TRACKING_URI": tracking.url,
                       "IMAGE_TAG": tag}  # fmt: skip
                run("bash", str(ROOT / "images/build.sh"), "serving", env=env)
            else:
                report.builds = build_times(docker, tracking.url, (v1, v2), tag)
                log(f"builds: {report.builds}")
            image = f"mlops-kit/serving:{tag}"
            report.image = {"ref": image, "size_mb": round(int(run(docker, "image", "inspect", "-f", "{{.Size}}", image).stdout) / 1e6, 1)}  # fmt: skip

            servers = {
                "container": lambda: container(docker, image, args.workers),
                "bentoml": lambda: host_bento(model_uri, tracking.url, args.workers, state),
                "mlflow": lambda: mlflow_serve(model_uri, tracking.url, args.workers, state),
            }
            cmax = max(levels)

            def point(name: str, endpoint: str, body: Path, rows: int, c: int, server: Server) -> None:
                result = measure(name, endpoint, body, rows, c, args.duration, server.processes, server.proxy)
                log(f"  {asdict(result)}")
                report.points.append(asdict(result))

            for target in [t for t in targets if t in servers]:
                log(f"{target}: starting")
                with servers[target]() as server:
                    endpoint = server.url + ("/invocations" if target == "mlflow" else "/predict")
                    payload = mlflow_body if target == "mlflow" else body1
                    check_responses(endpoint, payload, 1)
                    wrk(endpoint, payload, 8, 3)  # warm-up (connection pools, the batching optimiser's statistics)
                    for c in levels:
                        point(target, endpoint, payload, 1, c, server)
                    if target == "container":
                        check_responses(endpoint, body64, 64)
                        point("container-64rows", endpoint, body64, 64, cmax, server)
                        direct = f"{server.direct_url}/predict"  # same container, bridge address: no docker-proxy
                        check_responses(direct, body1, 1)
                        point("container-direct", direct, body1, 1, cmax, Server(direct, server.processes))
            if "mlflow" in targets and args.workers != 1:
                log("mlflow with 1 worker (its default): starting")
                with mlflow_serve(model_uri, tracking.url, 1, state) as server:
                    endpoint = server.url + "/invocations"
                    check_responses(endpoint, mlflow_body, 1)
                    wrk(endpoint, mlflow_body, 8, 3)
                    point("mlflow-1-worker", endpoint, mlflow_body, 1, cmax, server)
            if "inprocess" in targets:
                x = data.values.astype(float)
                report.in_process = in_process(model_uri, tracking.url, x[:1], x[:64], min(args.duration, 5))
                log(f"in-process: {report.in_process}")
        finally:
            tracking.stop()

    summarise(report)
    out = args.out or ROOT / "bench" / "results" / f"serving-{now:%Y-%m-%dT%H%M}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(asdict(report), indent=2) + "\n")
    print(f"\nresults: {out}")


def summarise(report: Report) -> None:
    def point(target: str, c: int) -> dict | None:
        return next((p for p in report.points if p["target"] == target and p["concurrency"] == c), None)

    cmax = max(report.config["concurrency"])
    serving, host = point("container", cmax), point("bentoml", cmax)
    mlflow_, mlflow_1 = point("mlflow", cmax), point("mlflow-1-worker", cmax)
    batched = point("container-64rows", cmax)
    ceiling = report.in_process.get("sklearn_64_rows", {}).get("rows_per_s")
    workers = report.config["workers"]
    if serving and mlflow_:
        report.ratios[f"container_vs_mlflow_{workers}w_rps_c{cmax}"] = round(
            serving["rps"] / max(mlflow_["rps"], 1e-9), 1
        )
    if serving and mlflow_1:
        report.ratios[f"container_vs_mlflow_1w_rps_c{cmax}"] = round(serving["rps"] / max(mlflow_1["rps"], 1e-9), 1)
    if serving and mlflow_:
        report.ratios[f"mlflow_vs_container_cpu_per_request_c{cmax}"] = round(
            mlflow_["server_cpu_ms_per_request"] / max(serving["server_cpu_ms_per_request"], 1e-9), 1
        )
    if serving and host:
        report.ratios[f"container_vs_host_bentoml_rps_c{cmax}"] = round(serving["rps"] / max(host["rps"], 1e-9), 2)
    if serving and ceiling:
        report.ratios["container_single_row_rows_per_s_of_ceiling"] = round(serving["rows_per_s"] / ceiling, 4)
    if batched and ceiling:
        report.ratios["container_64_row_rows_per_s_of_ceiling"] = round(batched["rows_per_s"] / ceiling, 4)
    if serving:
        report.targets = {
            f"rps_c{cmax} >= 1000": serving["rps"] >= 1000,
            f"p99_c{cmax} <= 100 ms": serving["p99_ms"] <= 100,
            "0 errors (all container points)": all(
                p["errors"] == 0 for p in report.points if p["target"].startswith("container")
            ),
        }
        if mlflow_:
            ratio = report.ratios[f"container_vs_mlflow_{workers}w_rps_c{cmax}"]
            report.targets[f">= 20x mlflow ({workers} workers each) at c{cmax}"] = ratio >= 20
        if mlflow_1:
            ratio = report.ratios[f"container_vs_mlflow_1w_rps_c{cmax}"]
            report.targets[f">= 20x mlflow (its default 1 worker) at c{cmax}"] = ratio >= 20
    if report.image:
        report.targets["image <= 500 MB"] = report.image["size_mb"] <= 500
    if report.builds:
        report.targets["model-only rebuild <= 10 % of cold"] = report.builds["model_only_rebuild_fraction"] <= 0.10

    header = f"{'target':<18}{'c':>4}{'rows':>5}{'rps':>8}{'rows/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'err':>5}"
    header += f"{'srv cores':>10}{'ms/req':>8}{'proxy':>7}{'wrk':>6}{'other':>7}{'load':>6}"
    print("\n" + header + "\n" + "-" * len(header))
    for p in report.points:
        print(
            f"{p['target']:<18}{p['concurrency']:>4}{p['payload_rows']:>5}{p['rps']:>8.0f}{p['rows_per_s']:>9.0f}"
            f"{p['p50_ms']:>8.1f}{p['p99_ms']:>8.1f}{p['errors']:>5}{p['server_cpu_cores']:>10.2f}"
            f"{p['server_cpu_ms_per_request']:>8.2f}{p['proxy_cpu_cores']:>7.2f}{p['wrk_cpu_cores']:>6.2f}"
            f"{p['other_cpu_cores']:>7.2f}{p['loadavg_1m']:>6.1f}"
        )
    print("(cores: CPU used during the point, 1.00 = one core; other = the rest of the machine: other builds, dockerd)")
    for name, value in report.in_process.items():
        print(f"in-process {name:<16} {value['rows_per_s']:>10.0f} rows/s  ({value['us_per_call']} us per call)")
    print(f"image: {report.image}")
    if report.builds:
        print("builds: " + ", ".join(f"{k}={v}" for k, v in report.builds.items()))
    print("ratios: " + ", ".join(f"{k}={v}" for k, v in report.ratios.items()))
    print("targets: " + ", ".join(f"{k}: {'PASS' if v else 'FAIL'}" for k, v in report.targets.items()))


if __name__ == "__main__":
    main()
