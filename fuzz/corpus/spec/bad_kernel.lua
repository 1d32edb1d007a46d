-- A 1D CNN whose second convolution is wider than what reaches it: 10
-- samples, a kernel of 3 leaves 8, pooling by 2 leaves 4, and a kernel of
-- 5 does not fit in 4.
--
--   $ modelc check tests/specs/bad_kernel.lua
--   tests/specs/bad_kernel.lua:17: error: layer 3 'conv2' (Conv1d): Calculated
--   padded input size per channel: (4). Kernel size: (5). Kernel size can't be
--   greater than actual input size
--   tests/specs/bad_kernel.lua:16: note: layer 2 (MaxPool1d) produced [2, 8, 4]
--
-- The fix: kernel_size = 3, or padding = 1 on the second convolution.
return model "bad_kernel" {
  input = {2, 1, 10},
  nn.Conv1d{1, 8, 3, name = "conv1"},
  nn.ReLU{},
  nn.MaxPool1d{2},
  nn.Conv1d{8, 16, 5, name = "conv2"},
  nn.ReLU{},
  nn.AdaptiveAvgPool1d{1},
  nn.Flatten{},
  nn.Linear{16, 2, name = "fc"},
}
