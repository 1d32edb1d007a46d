-- Stride and padding together: L_out = floor((10 + 2*2 - 1*(3-1) - 1)/2 + 1)
-- = floor(6.5) = 6. The tutorial's hand formula gave 6.5; the floor is the
-- point.
return model "conv1d_stride_pad" {
  input = {10, 1, 10},
  seed = 0,
  nn.Conv1d{1, 32, 3, stride = 2, padding = 2},
}
