"""The example of python/README.md runs as written, and prints what the command line prints for
the same batch."""

import contextlib
import io
import json
import re

from test_specsim import ROOT, cli


def test_the_readme_example_prints_the_command_lines_numbers(tmp_path, monkeypatch):
    text = (ROOT / "python" / "README.md").read_text()
    code = re.search(r"## Trees.*?```python\n(.*?)```", text, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "python/README.md", "exec"), {})
    lines = out.getvalue().splitlines()
    assert [l.split()[0] for l in lines] == ["target-only", "rrs"]
    for line in lines:
        rule, mean, per_depth = line.split(" ", 2)
        o = cli("run", str(tmp_path / "eagle_batch.npz"), "--engine", "cpu", "--rule", rule, "--format", "json")
        assert o.returncode == 0, o.stderr
        j = json.loads(o.stdout)
        assert j["rounds"] == 10_000 and j["nodes"] == 64 and j["depth"] == 4
        assert float(mean) == round(j["mean_generated"], 4)
        assert json.loads(per_depth) == [round(x, 4) for x in j["per_depth_acceptance"]]
        # Not vacuous: the rules accept at realistic rates on these rows.
        assert 1.5 < float(mean) < 5.0
