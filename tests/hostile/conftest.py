"""One small real sandbox per session (simulated data, split, two bundles, two fitted runs) for the hostile-input
tests, and the checks every refused command must pass: exit status 2, exactly one ``error:`` line on stderr, no
traceback, and every file that existed before byte-identical afterwards (nothing new either)."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner, Result

from biodsnn.data import load_perturb_data, make_split, simulate


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path → sha256 of every file under ``folder`` (hidden ones included), and every folder (as "dir")."""
    out: dict[str, str] = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        out[rel] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def invoke(main: Callable, args: Sequence[str]) -> Result:
    """Run a click command in-process (stderr kept apart)."""
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)


def assert_user_error(result: Result, *words: str) -> str:
    """Exit 2, one ``error:`` line naming ``words`` on stderr, no traceback; returns the line."""
    detail = f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}\nexc: {result.exception!r}"
    assert result.exit_code == 2, detail
    assert isinstance(result.exception, SystemExit), detail  # not an exception escaping the CLI
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1, detail
    assert "Traceback" not in result.output and "Traceback" not in result.stderr, detail
    for w in words:
        assert w.lower() in errors[0].lower(), f"{w!r} not in {errors[0]!r}"
    return errors[0]


@pytest.fixture()
def refused(tmp_path: Path) -> Callable[..., str]:
    """``refused(main, args, *words)``: runs the command in ``tmp_path`` as the working folder and checks that it is
    a one-line user error that leaves every file under ``tmp_path`` as it was (and writes nothing)."""

    def run(main: Callable, args: Sequence[str], *words: str) -> str:
        before = snapshot(tmp_path)
        with pytest.MonkeyPatch.context() as mp:
            mp.chdir(tmp_path)
            result = invoke(main, args)
        line = assert_user_error(result, *words)
        assert snapshot(tmp_path) == before, f"files changed after: {line}"
        return line

    return run


def _fit(main: Callable, sandbox: Path, out: Path, *extra: str) -> None:
    args = ["fit", "--data", sandbox / "data.h5ad", "--knowledge", sandbox / "kb", "--split", sandbox / "split.json",
            "-o", out, "--epochs", "1", "--batch-size", "64", *extra]
    result = invoke(main, args)
    assert result.exit_code == 0, result.output + result.stderr


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """Built once: data.h5ad (simulator, tiny), split.json, genes.txt, kb/ and kb_level2/ (another mask), and the run
    run_full/ (noVAE, one epoch). Tests copy what they change."""
    import torch

    from cli.biodsnn import main
    from kg_build import build_bundle

    env = pytest.MonkeyPatch()
    env.setenv("BIODSNN_NO_PROGRESS", "1")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: a second thread only adds synchronisation on a busy machine
    root = tmp_path_factory.mktemp("hostile")
    adata = simulate(preset="tiny", seed=0, progress=False)
    adata.write_h5ad(root / "data.h5ad")
    data = load_perturb_data(str(root / "data.h5ad"))
    split = make_split(data.conditions, kind="simulation", seed=1)
    split.save(root / "split.json")
    (root / "genes.txt").write_text("\n".join(data.genes) + "\n")
    for name, level in (("kb", 3), ("kb_level2", 2)):
        build_bundle(data, split, root / name, split_path=root / "split.json", perturbable=list(data.genes),
                     level=level, data_path=str(root / "data.h5ad"))
    _fit(main, root, root / "run_full", "--variant", "noVAE")  # noVAE: the cheapest network to train and resume
    perturbed = sorted({g for c in data.conditions for g in data.condition_genes(c)})
    yield SimpleNamespace(root=root, data=data, split=split, perturbed=perturbed, fit=lambda out, *a: _fit(
        main, root, out, *a))
    env.undo()
    torch.set_num_threads(threads)


@pytest.fixture()
def work(sandbox: SimpleNamespace, tmp_path: Path) -> Callable[..., Path]:
    """``work("data.h5ad", "kb", …)`` copies those sandbox files or folders into ``tmp_path``; returns tmp_path."""

    def copy(*names: str) -> Path:
        for name in names:
            src = sandbox.root / name
            if src.is_dir():
                shutil.copytree(src, tmp_path / name)
            else:
                shutil.copy2(src, tmp_path / name)
        return tmp_path

    return copy
