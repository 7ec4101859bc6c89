"""docs/layers.md: its examples run, and its tables say what the library computes."""

import pathlib
import re

from convcore import nn
from convcore.nn import models

LAYERS_MD = pathlib.Path(__file__).resolve().parents[1] / "docs" / "layers.md"


def test_python_examples_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", LAYERS_MD.read_text(), flags=re.S)
    assert len(blocks) >= 3
    for block in blocks:
        exec(compile(block, str(LAYERS_MD), "exec"), {})
    assert "Total params" in capsys.readouterr().out


def test_grammar_and_network_table_match_the_library():
    text = LAYERS_MD.read_text()
    grammar = re.search(r"```text\n(.*?)```", text, flags=re.S).group(1)
    assert grammar.strip() in nn.SPEC_GRAMMAR
    rows = re.findall(r"^\| (\w+)[^|]*\| [\dx]+ \| ([\d,]+) \| ([\d.]+) ([MG]) \|", text,
                      flags=re.M)
    assert {name for name, *_ in rows} == set(models.MODELS)
    for name, params, macs, unit in rows:
        s = models.summary(name)
        assert s.total_params == int(params.replace(",", "")), name
        scale = 1e9 if unit == "G" else 1e6
        assert f"{s.total_macs / scale:.2f}" == macs, name
