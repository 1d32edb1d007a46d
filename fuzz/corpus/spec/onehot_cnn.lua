-- The one-hot sequence CNN: 10 symbols, sequences of 7. The tutorial pools
-- with MaxPool2d on 3-D tensors, which pools the last two dimensions: the
-- channels too, (2, 32, 5) -> (2, 16, 2).
return model "onehot_cnn" {
  input = {2, 10, 7},
  seed = 0,
  nn.Conv1d{10, 16, 3, padding = 1},   -- (2, 16, 7)
  nn.Conv1d{16, 32, 3},                -- (2, 32, 5)
  nn.Conv1d{32, 32, 3, padding = 1},   -- (2, 32, 5)
  nn.MaxPool2d{2},                     -- (2, 16, 2)
  nn.Conv1d{16, 24, 3, padding = 1},   -- (2, 24, 2)
  nn.MaxPool2d{2},                     -- (2, 12, 1)
}
