-- A 1-D CNN for human activity recognition: 128 samples of a 3-axis
-- accelerometer in, 6 activities out (as in the UCI HAR data set), about
-- 12 million MACs. Four convolutions with BatchNorm and ReLU, two max
-- pools, a global average pool.
return model "har_cnn1d" {
  input = {1, 3, 128},
  seed = 1,
  nn.Conv1d{3, 64, 5, padding = 2},
  nn.BatchNorm1d{64},
  nn.ReLU{},
  nn.Conv1d{64, 128, 5, padding = 2},
  nn.BatchNorm1d{128},
  nn.ReLU{},
  nn.MaxPool1d{2},
  nn.Conv1d{128, 128, 5, padding = 2},
  nn.BatchNorm1d{128},
  nn.ReLU{},
  nn.MaxPool1d{2},
  nn.Conv1d{128, 128, 3, padding = 1},
  nn.BatchNorm1d{128},
  nn.ReLU{},
  nn.AdaptiveAvgPool1d{1},
  nn.Flatten{},
  nn.Linear{128, 6},
}
