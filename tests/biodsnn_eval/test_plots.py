"""Plots return their figure, write PNGs headless, and leave matplotlib's backend and pyplot alone."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from biodsnn import plots
from biodsnn.baselines import get_baseline
from biodsnn.evaluate import evaluate

from .conftest import Oracle, make_fake

ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def result():
    data, split, de = make_fake(seed=5)
    models = [get_baseline("additive")(data, split).fit(), Oracle(data)]
    return evaluate(models, data, split, de, n_boot=20)


def calls(result):
    double = next(c for c in result.conditions if result.subgroups[c].startswith("combo"))
    return {"de": lambda path: plots.plot_de_changes(result, double, path),
            "gi": lambda path: plots.plot_gi_magnitudes(result, path),
            "within5": lambda path: plots.plot_within5(result, path)}


@pytest.mark.parametrize("which", ["de", "gi", "within5"])
def test_each_plot_returns_its_figure_and_writes_a_png_only_when_asked(result, tmp_path, which):
    draw = calls(result)[which]
    fig = draw(None)
    assert isinstance(fig, Figure) and fig.axes and fig.axes[0].has_data()
    assert list(tmp_path.iterdir()) == []
    out = tmp_path / f"{which}.png"
    fig = draw(out)
    assert isinstance(fig, Figure)
    assert out.read_bytes()[:8] == PNG
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # no temporary file left behind


def test_plotting_leaves_the_backend_and_pyplot_alone(result, tmp_path):
    """In a fresh process whose backend is SVG: importing and calling every plot keeps SVG as the backend, never
    loads pyplot (so opens no figure there), and still writes PNGs."""
    pickled = tmp_path / "result.pkl"
    pickled.write_bytes(pickle.dumps(result))
    code = f"""
import pickle, sys
import matplotlib
matplotlib.use("svg")
from biodsnn import plots
result = pickle.load(open({str(pickled)!r}, "rb"))
assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
double = next(c for c in result.conditions if result.subgroups[c].startswith("combo"))
plots.plot_de_changes(result, double, {str(tmp_path / "de.png")!r})
plots.plot_gi_magnitudes(result, {str(tmp_path / "gi.png")!r})
plots.plot_within5(result, {str(tmp_path / "w5.png")!r})
print(matplotlib.get_backend(), "matplotlib.pyplot" in sys.modules)
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("MPLBACKEND", None)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["svg", "False"]
    for name in ("de.png", "gi.png", "w5.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG
