-- DS-CNN keyword spotter (Zhang et al. 2017, "Hello Edge"; the small
-- model of the MLPerf Tiny keyword-spotting benchmark): 49 frames of 10
-- MFCC features in, 12 classes out. A 10 x 4 stride-2 convolution (output
-- 25 x 5), then four depthwise-separable blocks: a 3 x 3 depthwise
-- convolution (groups = 64) and a 1 x 1 pointwise one, each followed by
-- BatchNorm and ReLU.
local layers = {
  input = {1, 1, 49, 10},
  seed = 1,
  nn.Conv2d{1, 64, {10, 4}, stride = 2, padding = {5, 1}, bias = false},
  nn.BatchNorm2d{64},
  nn.ReLU{},
}
for _ = 1, 4 do
  local block = {
    nn.Conv2d{64, 64, 3, padding = 1, groups = 64, bias = false},
    nn.BatchNorm2d{64},
    nn.ReLU{},
    nn.Conv2d{64, 64, 1, bias = false},
    nn.BatchNorm2d{64},
    nn.ReLU{},
  }
  for _, layer in ipairs(block) do layers[#layers + 1] = layer end
end
layers[#layers + 1] = nn.AvgPool2d{{25, 5}}
layers[#layers + 1] = nn.Flatten{}
layers[#layers + 1] = nn.Linear{64, 12}
return model "ds_cnn_kws" (layers)
