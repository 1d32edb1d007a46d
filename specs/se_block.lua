-- A MobileNetV3 bottleneck with squeeze-excitation and Hardswish
-- (tools/module_examples.py, class InvertedResidual): 1x1 expansion,
-- depthwise 3x3, SE (names as torchvision's SqueezeExcitation), 1x1
-- projection, residual add.
local function SqueezeExcitation(c, squeeze)
  local m = nn.Module()
  m.avgpool = nn.AdaptiveAvgPool2d{1}
  m.fc1 = nn.Conv2d{c, squeeze, 1}
  m.fc2 = nn.Conv2d{squeeze, c, 1}
  m.activation = nn.ReLU{}
  m.scale_activation = nn.Hardsigmoid{}
  function m:forward(x)
    local s = self.avgpool(x)
    s = self.activation(self.fc1(s))
    s = self.scale_activation(self.fc2(s))
    return s * x                 -- [1, 64, 1, 1] broadcast over 14x14
  end
  return m
end

local c, expanded = 16, 64
local net = nn.Module()
net.expand = nn.Sequential{ nn.Conv2d{c, expanded, 1, bias = false},
                            nn.BatchNorm2d{expanded}, nn.Hardswish{} }
net.depthwise = nn.Sequential{
  nn.Conv2d{expanded, expanded, 3, padding = 1, groups = expanded,
            bias = false},
  nn.BatchNorm2d{expanded}, nn.Hardswish{} }
net.se = SqueezeExcitation(expanded, expanded // 4)
net.project = nn.Sequential{ nn.Conv2d{expanded, c, 1, bias = false},
                             nn.BatchNorm2d{c} }
function net:forward(x)
  local y = self.depthwise(self.expand(x))
  y = self.se(y)
  return x + self.project(y)
end

return model "se_block" { input = {1, 16, 14, 14},
                          weights = "se_block.safetensors", module = net }
