-- The 1D CNN of the Conv1d tutorial with a slip in the second block: the
-- first block makes 8 channels, but the second convolution asks for 16.
--
--   $ modelc check tests/specs/bad_channels.lua
--   tests/specs/bad_channels.lua:17: error: layer 3 (Conv1d): Given groups=1,
--   weight of size [16, 16, 2], expected input[2, 8, 4] to have 16 channels,
--   but got 8 channels instead
--   tests/specs/bad_channels.lua:16: note: layer 2 (MaxPool1d) produced [2, 8, 4]
--
-- The fix: in_channels = 8.
return model "bad_channels" {
  input = {2, 1, 10},
  seed  = 42,
  nn.Conv1d{1, 8, 2},
  nn.ReLU{},
  nn.MaxPool1d{2},
  nn.Conv1d{in_channels = 16, out_channels = 16, kernel_size = 2},
  nn.ReLU{},
  nn.MaxPool1d{kernel_size = 2},
  nn.Flatten{},
  nn.Linear{16, 2},
}
