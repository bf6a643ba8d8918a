"""The container image and the Kubernetes manifests: no cluster runs here, so what can break is
checked statically (parse, required fields, security context) and the shard wiring is run for
real: each pod's arguments go through the actual CLI (``--dry-run``: nothing is sent) with the
JOB_COMPLETION_INDEX Kubernetes would set, and together the pods cover every target once."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from nscheck.cli import main

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "kubernetes"


def docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((K8S / name).read_text(encoding="utf-8")) if d]


def pod_specs() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(file, job spec, pod spec) for every Job and CronJob."""
    out = []
    for f in sorted(K8S.glob("*.yaml")):
        for d in docs(f.name):
            if d["kind"] == "Job":
                out.append((f.name, d["spec"], d["spec"]["template"]["spec"]))
            elif d["kind"] == "CronJob":
                js = d["spec"]["jobTemplate"]["spec"]
                out.append((f.name, js, js["template"]["spec"]))
    return out


def test_manifests_parse_with_required_fields() -> None:
    kinds = set()
    for f in K8S.glob("*.yaml"):
        for d in docs(f.name):
            assert {"apiVersion", "kind", "metadata"} <= set(d), f.name
            assert d["metadata"].get("name"), f.name
            kinds.add(d["kind"])
    assert {"Job", "CronJob", "ConfigMap", "PersistentVolumeClaim"} <= kinds
    for name, _job, pod in pod_specs():
        assert pod["restartPolicy"] in ("Never", "OnFailure"), name
        sc = pod["securityContext"]
        assert sc["runAsNonRoot"] is True and sc["runAsUser"] != 0, name
        for c in pod["containers"]:
            assert c["image"].startswith("nscheck:"), name
            assert c["securityContext"]["allowPrivilegeEscalation"] is False, name
            mounts = {m["name"] for m in c.get("volumeMounts", [])}
            vols = {v["name"] for v in pod.get("volumes", [])}
            assert mounts <= vols, (name, mounts - vols)
            if c["securityContext"].get("readOnlyRootFilesystem"):
                assert any(m["mountPath"] == "/tmp" for m in c["volumeMounts"]), name


def scan_args(job: dict[str, Any], pod: dict[str, Any]) -> list[str]:
    (c,) = pod["containers"]
    assert c["args"][0] == "scan"
    return c["args"]


@pytest.mark.parametrize("name", ["scan-job.yaml", "scan-cronjob.yaml"])
def test_indexed_job_wiring(name: str) -> None:
    jobs = [(j, p) for f, j, p in pod_specs() if f == name and p["containers"][0]["args"][0] == "scan"]
    assert jobs
    for job, pod in jobs:
        assert job["completionMode"] == "Indexed"
        args = scan_args(job, pod)
        n = int(args[args.index("--shards") + 1])
        assert args[args.index("--shard") + 1] == "auto"
        assert job["completions"] == n and job["parallelism"] <= n
        # each shard writes its own file: the index is in every per-shard path
        for flag in ("--jsonl", "--state"):
            if flag in args:
                assert "$(JOB_COMPLETION_INDEX)" in args[args.index(flag) + 1]


def test_merge_step_reads_every_shard() -> None:
    merges = [(f, p) for f, _j, p in pod_specs() if "merge" in p["containers"][0]["name"]]
    assert {f for f, _ in merges} == {"merge-job.yaml", "scan-cronjob.yaml"}
    for _f, pod in merges:
        text = " ".join(pod["containers"][0]["args"])
        assert "nscheck report /results/shard-*.jsonl" in text


def test_pod_arguments_run_through_the_real_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """Every pod's args, with $(JOB_COMPLETION_INDEX) substituted as Kubernetes does, are accepted
    by `nscheck scan`, and the N pods together cover each target of the list exactly once."""
    (_f, job, pod), = [(f, j, p) for f, j, p in pod_specs() if f == "scan-job.yaml"]
    args = scan_args(job, pod)
    n = job["completions"]
    cm = docs("configmap.yaml")[0]["data"]
    assert "input" in cm["scan.toml"]
    targets = [f"127.0.0.{i}" for i in range(1, 41)]
    (tmp_path / "targets.txt").write_text("\n".join(targets) + "\n", encoding="utf-8")
    config = re.sub(r'input = "[^"]+"', f'input = "{tmp_path / "targets.txt"}"', cm["scan.toml"])
    (tmp_path / "scan.toml").write_text(config, encoding="utf-8")
    seen: list[str] = []
    for idx in range(n):
        monkeypatch.setenv("JOB_COMPLETION_INDEX", str(idx))
        argv = [a.replace("$(JOB_COMPLETION_INDEX)", str(idx)).replace("/etc/nscheck/scan.toml", str(tmp_path / "scan.toml"))
                .replace("/results/", f"{tmp_path}/") for a in args]
        with pytest.raises(SystemExit) as e:
            main([*argv, "--dry-run"])
        out = capsys.readouterr()
        assert e.value.code == 0, out.err
        seen += re.findall(r"^# (127\.0\.0\.\d+) -> ", out.out, re.M)
    assert sorted(seen) == sorted(targets)


def test_dockerfile_is_slim_non_root_with_signatures() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    froms = re.findall(r"^FROM (\S+)", text, re.M)
    assert froms and all(re.fullmatch(r"python:3\.1[1-9]-slim(\s|$)?", f.split(" ")[0]) for f in froms)
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and not user[-1].startswith(("0", "root"))
    assert re.search(r'^ENTRYPOINT \["nscheck"\]', text, re.M)
    assert "COPY signatures" in text  # baked into the wheel (force-include in pyproject)
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8")
    assert ".venv" in ignore and ".git" in ignore
