-- Conv3d on a batch of 2 volumes of 4 channels, 6 x 20 x 30, padded.
return model "conv3d_volume" {
  input = {2, 4, 6, 20, 30},
  seed = 0,
  nn.Conv3d{4, 8, 3, padding = 1},
  nn.ReLU{},
  nn.Conv3d{8, 8, {1, 3, 3}, stride = {1, 2, 2}},
}
