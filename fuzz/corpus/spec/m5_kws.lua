-- M5 (Dai et al. 2017), the keyword-spotting network of the torchaudio
-- tutorial: one second of 16 kHz audio in, 35 keywords out. Each block is
-- Conv1d, BatchNorm1d (folded into the conv), ReLU, MaxPool1d(4).
return model "m5_kws" {
  input = {1, 1, 16000},
  seed = 1,
  nn.Conv1d{1, 32, 80, stride = 16},
  nn.BatchNorm1d{32},
  nn.ReLU{},
  nn.MaxPool1d{4},
  nn.Conv1d{32, 32, 3},
  nn.BatchNorm1d{32},
  nn.ReLU{},
  nn.MaxPool1d{4},
  nn.Conv1d{32, 64, 3},
  nn.BatchNorm1d{64},
  nn.ReLU{},
  nn.MaxPool1d{4},
  nn.Conv1d{64, 64, 3},
  nn.BatchNorm1d{64},
  nn.ReLU{},
  nn.MaxPool1d{4},
  nn.AdaptiveAvgPool1d{1},
  nn.Flatten{},
  nn.Linear{64, 35},
}
