-- A wide Conv1d stack with 1.3 million parameters: the largest example,
-- for the JIT's compile time (its weights are bound from memory).
return model "wide_conv_stack" {
  input = {1, 256, 16},
  seed = 7,
  nn.Conv1d{256, 256, 5, padding = 2},
  nn.ReLU{},
  nn.Conv1d{256, 256, 5, padding = 2},
  nn.ReLU{},
  nn.Conv1d{256, 256, 5, padding = 2},
  nn.ReLU{},
  nn.Conv1d{256, 256, 5, padding = 2},
  nn.AdaptiveAvgPool1d{1},
  nn.Flatten{},
  nn.Linear{256, 10},
}
