-- A digit classifier whose input forgot the channel dimension: a grey
-- MNIST image reaches nn.Conv2d as (1, 28, 28), or (N, 1, 28, 28) in a
-- batch, never as a bare (28, 28).
--
--   $ modelc check tests/specs/bad_rank.lua
--   tests/specs/bad_rank.lua:12: error: layer 0 (Conv2d): Expected 3D
--   (unbatched) or 4D (batched) input to conv2d, but got input of size: [28, 28]
--
-- The fix: input = {1, 28, 28}.
return model "bad_rank" {
  input = {28, 28},
  nn.Conv2d{1, 8, 3, padding = 1},
  nn.ReLU{},
  nn.MaxPool2d{2},
  nn.Flatten{0},
  nn.Linear{8 * 14 * 14, 10},
}
