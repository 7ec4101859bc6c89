"""The command line: help texts, error lines instead of tracebacks, messages that tell
an unknown name from a missing file, plurals, output paths checked before any work."""

import re
import subprocess
import sys

import pytest

from convcore import _cli
from convcore.nn.models import MODELS
from convcore.nn.spec import BUILTIN_SPECS, SPEC_GRAMMAR

COMMANDS = ["report", "summary", "bench", "demo", "config"]


def _run(argv, capsys):
    code = _cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _help(argv, capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        _cli.main([*argv, "--help"])
    assert exc.value.code == 0
    return capsys.readouterr().out


# ---- help --------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_a_description_and_examples(command, capsys):
    text = _help([command], capsys)
    usage, _, rest = text.partition("\n\n")
    assert usage.startswith(f"usage: convcore {command}")
    description = rest.split("\n\n")[0]
    assert len(description.split()) >= 10, description  # a description, not only options
    assert "examples:" in text
    examples = text.split("examples:")[1]
    assert f"convcore {command}" in examples or f"--threads 1 {command}" in examples


def test_top_level_help_lists_every_command(capsys):
    text = _help([], capsys)
    for command in COMMANDS:
        assert re.search(rf"\n +{command} +\S", text), command


def test_summary_help_gives_the_spec_grammar(capsys):
    text = _help(["summary"], capsys)
    for line in SPEC_GRAMMAR.strip().splitlines():
        assert line.strip() in text
    for name in BUILTIN_SPECS:
        assert name in text


def test_config_is_documented_and_runs(capsys):
    text = _help(["config"], capsys)
    assert "OpenMP" in text and "SIMD" in text and "BLAS" in text
    code, out, _ = _run(["config"], capsys)
    assert code == 0 and "OpenMP" in out
    code, out, _ = _run(["config", "--json"], capsys)
    assert code == 0 and '"openmp"' in out


# ---- summary: error lines, not tracebacks (issue 16, item 8) ---------------------------------

@pytest.mark.parametrize("spec, message", [
    ('["input 1x8x8", ""]', "spec item 1 is an empty string"),
    ('[{"type":"input","shape":[]}, "conv3-4"]', "spec item 0: the input shape is empty"),
    ("[" * 100_000, "nests lists or objects too deeply"),
    ('["input 1x8x8", "conv3-4"', "not valid JSON"),
])
def test_summary_bad_specs_are_error_lines(spec, message, capsys):
    code, out, err = _run(["summary", spec], capsys)
    assert code == 2 and out == ""
    assert err.startswith("convcore summary: error: ") and message in err
    assert "Traceback" not in err


def test_summary_deeply_nested_file(tmp_path, capsys):
    path = tmp_path / "nested.json"
    path.write_text("[" * 100_000)
    code, _, err = _run(["summary", str(path)], capsys)
    assert code == 2 and "too deeply" in err


def test_summary_binary_file(tmp_path, capsys):
    path = tmp_path / "weights.bin"
    path.write_bytes(bytes(range(256)) * 4)
    code, _, err = _run(["summary", str(path)], capsys)
    assert code == 2 and f"{path} is not a text file" in err and "UTF-8" in err


def test_summary_unknown_name_and_missing_file_differ(tmp_path, capsys):
    code, _, err = _run(["summary", "resnet19"], capsys)
    assert code == 2
    assert "unknown network 'resnet19'; did you mean 'resnet18'?" in err
    assert all(name in err for name in MODELS)
    missing = tmp_path / "missing.txt"
    code, _, err2 = _run(["summary", str(missing)], capsys)
    assert code == 2 and f"no such file: {missing}" in err2
    code, _, err3 = _run(["summary", "missing.txt"], capsys)
    assert code == 2 and "no such file: missing.txt" in err3


def test_summary_still_reads_names_specs_and_files(tmp_path, capsys):
    path = tmp_path / "net.txt"
    path.write_text("input 1x28x28, conv5-6, relu, maxpool2, fc10\n")
    for argv in (["summary", "LeNet5"], ["summary", str(path)],
                 ["summary", '["input 1x8x8", "conv3-4"]']):
        code, out, err = _run(argv, capsys)
        assert code == 0, err
        assert "Total params" in out


def test_errors_leave_no_traceback_in_a_real_process(tmp_path):
    path = tmp_path / "binary.dat"
    path.write_bytes(b"\xff\xfe\x00\x81" * 64)
    for argv in (["summary", '["input 1x8x8", ""]'], ["summary", str(path)],
                 ["report", "--json", "/proc/nonexistent/x.json"]):
        proc = subprocess.run([sys.executable, "-m", "convcore", *argv], capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert "error:" in proc.stderr and "Traceback" not in proc.stderr


# ---- output paths checked before the work ------------------------------------------------------

def _no_work(*args, **kwargs):
    raise AssertionError("the work ran although the output path is not writable")


@pytest.mark.parametrize("argv, message", [
    (["report", "--json", "/proc/nonexistent/x.json"], "the folder /proc/nonexistent does not"),
    (["report", "--plot", "/proc/nonexistent/x.png"], "the folder /proc/nonexistent does not"),
    (["bench", "--quick", "--json", "/proc/nonexistent/b.json"], "does not exist"),
])
def test_unwritable_output_fails_before_running(argv, message, monkeypatch, capsys):
    import convcore.bench
    import convcore.report

    monkeypatch.setattr(convcore.report, "build_report", _no_work)
    monkeypatch.setattr(convcore.bench, "run_bench", _no_work)
    code, out, err = _run(argv, capsys)
    assert code == 2 and out == "" and message in err


def test_output_path_that_is_a_directory(tmp_path, monkeypatch, capsys):
    import convcore.report

    monkeypatch.setattr(convcore.report, "build_report", _no_work)
    code, _, err = _run(["report", "--json", str(tmp_path)], capsys)
    assert code == 2 and "is a directory" in err


def test_report_plot_without_matplotlib_fails_before_running(monkeypatch, capsys):
    import convcore.report

    monkeypatch.setattr(convcore.report, "build_report", _no_work)
    monkeypatch.setattr(convcore.report, "matplotlib_or_message",
                        lambda: "--plot needs matplotlib: pip install matplotlib")
    code, _, err = _run(["report", "--quick", "--plot", "x.png"], capsys)
    assert code == 2 and "pip install matplotlib" in err


# ---- demo: plurals and the busy warning -------------------------------------------------------

def test_demo_one_thread_and_busy_marks(monkeypatch, capsys):
    import convcore.bench

    monkeypatch.setattr(_cli, "_median_seconds", lambda fn, **kw: (fn(), 1e-3)[1])
    monkeypatch.setattr(convcore.bench, "_others_cores", lambda start, end: 1.5)
    try:
        code, out, _ = _run(["--threads", "1", "demo"], capsys)
    finally:
        convcore.set_num_threads(None)
    assert code == 0
    assert "(1 thread, float32" in out and "1 threads" not in out
    assert "edge 2x1, 1x320x280*" in out
    assert "other processes kept more than" in out


def test_demo_quiet_machine_has_no_marks(monkeypatch, capsys):
    import convcore.bench

    monkeypatch.setattr(_cli, "_median_seconds", lambda fn, **kw: (fn(), 1e-3)[1])
    monkeypatch.setattr(convcore.bench, "_others_cores", lambda start, end: 0.0)
    code, out, _ = _run(["demo"], capsys)
    assert code == 0 and "*" not in out.split("Timings")[1]


def test_plural():
    from convcore._bench_report import plural

    assert [plural(n, "thread") for n in (0, 1, 2)] == ["0 threads", "1 thread", "2 threads"]
