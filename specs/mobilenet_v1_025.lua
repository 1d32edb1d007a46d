-- MobileNetV1 at width 0.25 on a 96 x 96 RGB image (Howard et al. 2017;
-- the model of the MLPerf Tiny visual-wake-words benchmark, with its 2
-- classes, person / no person). A 3 x 3 stride-2 convolution, then 13
-- depthwise-separable blocks: a 3 x 3 depthwise convolution and a 1 x 1
-- pointwise one, each followed by BatchNorm and ReLU6; widths 8 to 256.
local layers = {
  input = {1, 3, 96, 96},
  seed = 1,
  nn.Conv2d{3, 8, 3, stride = 2, padding = 1, bias = false},
  nn.BatchNorm2d{8},
  nn.ReLU6{},
}
local function add(layer) layers[#layers + 1] = layer end
-- {input channels, output channels, stride of the depthwise convolution}
local blocks = {
  {8, 16, 1}, {16, 32, 2}, {32, 32, 1}, {32, 64, 2}, {64, 64, 1},
  {64, 128, 2}, {128, 128, 1}, {128, 128, 1}, {128, 128, 1}, {128, 128, 1},
  {128, 128, 1}, {128, 256, 2}, {256, 256, 1},
}
for _, b in ipairs(blocks) do
  local cin, cout, stride = b[1], b[2], b[3]
  add(nn.Conv2d{cin, cin, 3, stride = stride, padding = 1, groups = cin, bias = false})
  add(nn.BatchNorm2d{cin})
  add(nn.ReLU6{})
  add(nn.Conv2d{cin, cout, 1, bias = false})
  add(nn.BatchNorm2d{cout})
  add(nn.ReLU6{})
end
add(nn.AdaptiveAvgPool2d{1})
add(nn.Flatten{})
add(nn.Linear{256, 2})
return model "mobilenet_v1_025" (layers)
