-- The sequence classifier: sequences of 20 values, two classes.
return model "cnn1d_class" {
  input = {1, 1, 20},
  seed = 1,
  nn.Conv1d{1, 32, 3, stride = 1, padding = 1},
  nn.ReLU{},
  nn.MaxPool1d{2, 2},
  nn.Flatten{},
  nn.Linear{320, 2},
}
