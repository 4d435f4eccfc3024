"""`ca2sis-bench`'s checks before the run (``model/cli/bench.py``): ``--threads`` is bound to the CPUs
this process may use (0 failed in every backend, 100000 crashed PyTorch and ran ONNX Runtime out of
memory), and a config that does not exist is bad input."""

from __future__ import annotations

import json
import shutil

import pytest

from ca2sis.model.cli import bench as cli_bench
from ca2sis.model.errors import DataError
from ca2sis.model.inference import bench as inference_bench

from conftest import FACE_DATA, folder_digests


@pytest.fixture
def two_cpus(monkeypatch):
    """This process may run on two CPUs (a container's share, or taskset)."""
    monkeypatch.setattr("os.sched_getaffinity", lambda _pid: {0, 5}, raising=False)
    monkeypatch.setattr(cli_bench, "run_benchmark", lambda *_, **__: pytest.fail("the benchmark started"))


@pytest.mark.parametrize("threads", ["0", "-1", "3", "100000", "two"])
def test_threads_outside_the_usable_cpus_are_refused_before_the_run(threads, two_cpus, capsys):  # noqa: ARG001
    with pytest.raises(SystemExit) as exit_info:
        cli_bench.main(["--threads", threads])
    error = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert error.startswith("error: ca2sis-bench: argument --threads: ")
    assert "between 1 and 2 (the CPUs this process may use)" in error


def test_threads_within_the_usable_cpus_reach_the_backends(tiny_weights, monkeypatch, capsys):
    monkeypatch.setattr("os.sched_getaffinity", lambda _pid: {0, 5}, raising=False)
    asked = []
    monkeypatch.setattr(cli_bench, "prepare_weights", lambda *_: tiny_weights)
    monkeypatch.setattr(cli_bench, "count_gflop", lambda _weights: {})
    monkeypatch.setattr(cli_bench, "format_table", lambda *_: "table")
    monkeypatch.setattr(cli_bench, "run_benchmark", lambda *args: asked.append(args[-1]) or [])
    assert cli_bench.main(["--threads", "2", "--variants", "torch-cpu"]) == 0
    assert asked == [2] and capsys.readouterr().out == "table\n"


def test_the_benchmark_itself_refuses_a_thread_count_beyond_the_cpus(monkeypatch, tmp_path):
    monkeypatch.setattr("os.sched_getaffinity", lambda _pid: {0, 5}, raising=False)
    for threads in (0, 3):
        with pytest.raises(DataError, match=f"--threads {threads}: choose between 1 and 2"):
            inference_bench.run_benchmark(tmp_path, ["torch-cpu"], runs=1, warmup=0, threads=threads)


def test_an_unknown_config_is_bad_input_before_the_run(monkeypatch, capsys):
    monkeypatch.setattr(cli_bench, "run_benchmark", lambda *_, **__: pytest.fail("the benchmark started"))
    assert cli_bench.main(["--config", "no-such-preset"]) == 2
    assert capsys.readouterr().err.startswith("error: --config no-such-preset: ")


def test_a_json_report_onto_the_weights_is_refused_before_the_run(tiny_weights, tmp_path, monkeypatch, capsys):
    weights = tmp_path / "weights"
    shutil.copytree(tiny_weights, weights)
    before = folder_digests(weights)
    monkeypatch.setattr(cli_bench, "run_benchmark", lambda *_, **__: pytest.fail("the run started"))
    assert cli_bench.main(["--weights", str(weights), "--json", str(weights / "config.json")]) == 2
    assert "is one of the inputs" in capsys.readouterr().err and folder_digests(weights) == before
    blocker = tmp_path / "file"
    blocker.write_text("mine")
    assert cli_bench.main(["--weights", str(weights), "--json", str(blocker / "b.json")]) == 2
    assert cli_bench.main(["--weights", str(tmp_path / "nonexistent")]) == 3
    assert "no ca2sis weights" in capsys.readouterr().err


def test_quality_scores_each_onnx_variant_against_pytorch_and_exits_1_when_one_fails(tiny_export_run, tmp_path,
                                                                                      capsys):
    weights = tmp_path / "weights"
    shutil.copytree(tiny_export_run[0], weights)  # exported with its int8 G
    out = tmp_path / "quality.json"
    code = cli_bench.main(["quality", str(weights), "--data", str(FACE_DATA), "--limit", "2", "--runs", "1",
                           "--warmup", "0", "--json", str(out)])
    report = json.loads(out.read_text())
    fp32, int8 = report["quality"]["onnx fp32"], report["quality"]["onnx int8"]
    assert fp32["passes"] and abs(fp32["psnr_drop_db"]) <= 0.01  # the fp32 graph is PyTorch's function
    # The random tiny G quantised draws about 38 dB from fp32 here (the engine would not run it).
    agreement = min(int8["reconstruction_vs_reference_mean_db"], int8["part_edit_vs_reference_mean_db"])
    assert int8["passes"] == (agreement >= 40 and int8["psnr_drop_db"] <= 0.5)
    assert code == (0 if int8["passes"] else 1)
    assert set(report["timing"]) == {"reference", "onnx fp32", "onnx int8"}
    assert "| onnx int8 |" in capsys.readouterr().out


def test_quality_without_faces_is_bad_input(tiny_weights, tmp_path, capsys):
    code = cli_bench.main(["quality", str(tiny_weights), "--data", str(tmp_path)])
    assert code == 2
    assert "holds no face with a mask" in capsys.readouterr().err
