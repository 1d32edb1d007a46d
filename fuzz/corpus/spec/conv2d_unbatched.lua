-- Conv2d on an unbatched (C, H, W) input, as PyTorch accepts it.
return model "conv2d_unbatched" {
  input = {3, 4, 5},
  seed = 42,
  nn.Conv2d{3, 2, 3},
}
