"""`observatory validate` as a command: lines, exit codes, default CRD directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui.validate.cli import default_crds_dir, main

ROOT = Path(__file__).resolve().parents[3]
CRDS = default_crds_dir(ROOT)

GOOD = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: observatory}
data: {A: "1"}
"""
BAD = """\
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: web, namespace: observatory}
spec:
  template:
    spec:
      containerConcurrency: 5000
      containers: [{image: example/web:1}]
"""


def test_clean_file_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "ok.yaml").write_text(GOOD, encoding="utf-8")
    assert main(["validate", "--crds", str(CRDS), str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "validate: OK: 1 objects in 1 YAML files, 0 errors" in captured.err


def test_error_lines_and_exit_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "svc.yaml").write_text(BAD, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "--quiet", "--crds", str(CRDS), "svc.yaml"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "svc.yaml: Service/web: spec.template.spec.containerConcurrency: 5000 is outside 0 … 1000"
    ]


def test_non_kubernetes_yaml_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "prometheus.yml").write_text("global: {scrape_interval: 15s}\n", encoding="utf-8")
    (tmp_path / "datasource.yaml").write_text("apiVersion: 1\ndatasources: []\n", encoding="utf-8")
    (tmp_path / "kind.yaml").write_text(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n", encoding="utf-8"
    )
    assert main(["validate", "--crds", str(CRDS), str(tmp_path)]) == 0


def test_missing_path_and_missing_crds_exit_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--crds", str(CRDS), str(tmp_path / "nope")]) == 2
    assert main(["validate", "--crds", str(tmp_path / "no-crds"), str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no such path" in err
    assert "run scripts/fetch-crds.sh" in err


def test_default_crds_dir_order(tmp_path: Path) -> None:
    repo = tmp_path / "main"
    repo.mkdir()
    assert default_crds_dir(repo, {"OBSERVATORY_CRDS_DIR": "/x/crds"}) == Path("/x/crds")
    assert default_crds_dir(repo, {}) == repo / ".observatory" / "crds"
    (tmp_path / "shared" / "crds").mkdir(parents=True)
    assert default_crds_dir(repo, {}) == tmp_path / "shared" / "crds"
