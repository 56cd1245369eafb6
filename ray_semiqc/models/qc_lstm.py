"""The seed's QC network: a dense layer applied per time step, a 3-layer LSTM, a sigmoid."""

from __future__ import annotations

import torch
from torch import nn


class QCLSTM(nn.Module):
    """`(N, T, channels)` normalised curves → `(N,)` logit of the case being erroneous.

    The top LSTM layer's outputs are averaged over the cycle before the head: reading only
    the last step left training stuck on a constant for some seeds (an error early in the
    cycle must survive every later step), the average gives each step a direct gradient.
    The cycle is periodic, so the LSTM reads it twice and the average is taken over the second
    pass: every step's output has then seen the whole cycle, and a mask lost in the last frame
    counts as much as one lost in the first (in a single pass it shaped one output of T).
    The sigmoid is applied by the caller (`torch.sigmoid` at prediction, BCE-with-logits in
    training), the numerically stable form of the same network.
    """

    def __init__(self, in_channels: int, dense_units: int, lstm_hidden: int, lstm_layers: int):
        super().__init__()
        self.dense = nn.Linear(in_channels, dense_units)  # the "dense-layer convolution": one kernel over time
        self.lstm = nn.LSTM(dense_units, lstm_hidden, num_layers=lstm_layers, batch_first=True)
        self.head = nn.Linear(lstm_hidden, 1)

    def forward(self, curves: torch.Tensor) -> torch.Tensor:
        per_step = torch.relu(self.dense(curves))
        steps = per_step.shape[1]
        sequence, _ = self.lstm(torch.cat([per_step, per_step], dim=1))
        return self.head(sequence[:, steps:].mean(dim=1)).squeeze(-1)
