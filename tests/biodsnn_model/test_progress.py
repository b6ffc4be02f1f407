"""The training progress keeps each epoch's loss and validation metric on the epoch's line in an 80-column
terminal (issue 18: in the README demo they wrapped onto a second line)."""

from __future__ import annotations

import io
import re

import pytest
import torch
from rich.console import Console

import reactomenet.console
from biodsnn.train import TrainConfig, train


def _train_output(monkeypatch: pytest.MonkeyPatch, width: int, *, epochs: int = 10, steps: int = 120) -> list[str]:
    """Train a tiny network with the progress shown on a recording console of ``width`` columns; its final lines."""
    monkeypatch.delenv("BIODSNN_NO_PROGRESS", raising=False)
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    monkeypatch.setattr(reactomenet.console, "stderr_console", console)
    net = torch.nn.Linear(1, 1)
    with torch.no_grad():  # fixed weights: the loss is about -1.389e+05 whatever ran before in this process
        net.weight.fill_(0.5)
        net.bias.fill_(0.1234)
    batch = torch.ones(4, 1)
    # wide numbers on purpose: a loss like -1.235e+05 and a metric like 1.235e-05 are the longest .4g gives
    train(net, batches=lambda e: [batch] * steps, n_batches=lambda e: steps,
          loss=lambda b, g: -1e5 * (1 + net(b).pow(2).mean()), validate=lambda: 1.2345678e-05,
          config=TrainConfig(epochs=epochs, lr=1e-6))
    return [line.rstrip() for line in console.export_text().splitlines() if line.strip()]


def test_each_epoch_is_one_line_in_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = _train_output(monkeypatch, 80)
    assert len(lines) == 10, lines  # one line per epoch: nothing wrapped onto a second
    for k, line in enumerate(lines, start=1):
        assert len(line) <= 80, line
        assert line.startswith(f"epoch {k}/10") and "120/120" in line, line
        assert re.search(r"loss -1\.\d{3}e\+05 +val mse_de20 1\.235e-05", line), line


def test_a_wide_terminal_shows_elapsed_and_remaining(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = _train_output(monkeypatch, 120, epochs=2, steps=3)
    assert len(lines) == 2
    assert all(line.count("0:00:0") == 2 and len(line) <= 120 for line in lines), lines
