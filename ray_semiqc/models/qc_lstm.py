"""The seed's QC network: a dense layer applied per time step, a 3-layer LSTM, a sigmoid."""
from __future__ import annotations

import torch
from torch import nn


class QCLSTM(nn.Module):
    """`(N, T, channels)` normalised curves → `(N,)` logit of the case being erroneous.

    The top LSTM layer's outputs are averaged over the cycle before the head: reading only
    the last step left training stuck on a constant for some seeds (an error early in the
    cycle must survive every later step), the average gives each step a direct gradient.
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
        sequence, _ = self.lstm(per_step)
        return self.head(sequence.mean(dim=1)).squeeze(-1)
