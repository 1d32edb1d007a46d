-- Conv3d on a batch of 20 volumes of 16 channels, 10 x 50 x 100.
return model "conv3d_volume" {
  input = {20, 16, 10, 50, 100},
  seed = 0,
  nn.Conv3d{16, 8, 3},
}
