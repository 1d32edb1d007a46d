-- The 1D CNN of the Conv1d tutorial: 10 features, two conv blocks, two
-- classes. PyTorch prints the shapes (2,8,9) (2,8,9) (2,8,4) (2,16,3)
-- (2,16,3) (2,16,1) (2,16) (2,2).
return model "seed_cnn1d" {
  input = {2, 1, 10},            -- the input shape exactly as PyTorch sees it
  seed  = 42,                    -- no weights file: PyTorch's default init, seeded
  nn.Conv1d{1, 8, 2},
  nn.ReLU{},
  nn.MaxPool1d{2},
  nn.Conv1d{in_channels = 8, out_channels = 16, kernel_size = 2},
  nn.ReLU{},
  nn.MaxPool1d{kernel_size = 2},
  nn.Flatten{},
  nn.Linear{16, 2},
}
