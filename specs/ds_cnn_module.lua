-- MLPerf Tiny keyword spotting: the DS-CNN on 49x10 MFCCs, 12 classes, as
-- a PyTorch user writes it: a module with blocks (tools/module_examples.py,
-- class DSCNN). The first conv's TensorFlow "same" padding for stride 2 is
-- asymmetric: ZeroPad2d takes (left, right, top, bottom).
local function DSBlock(c)
  local m = nn.Module()
  m.depthwise = nn.Conv2d{c, c, 3, padding = 1, groups = c, bias = false}
  m.bn1       = nn.BatchNorm2d{c}
  m.pointwise = nn.Conv2d{c, c, 1, bias = false}
  m.bn2       = nn.BatchNorm2d{c}
  function m:forward(x)
    x = F.relu(self.bn1(self.depthwise(x)))
    return F.relu(self.bn2(self.pointwise(x)))
  end
  return m
end

local net = nn.Module()
net.pad    = nn.ZeroPad2d{{1, 1, 4, 5}}
net.conv1  = nn.Conv2d{1, 64, {10, 4}, stride = 2, bias = false}
net.bn1    = nn.BatchNorm2d{64}
net.drop   = nn.Dropout{0.2}
net.blocks = nn.ModuleList{ DSBlock(64), DSBlock(64), DSBlock(64),
                            DSBlock(64) }
net.fc     = nn.Linear{64, 12}
function net:forward(x)
  x = F.relu(self.bn1(self.conv1(self.pad(x))))
  x = self.drop(x)
  for _, block in ipairs(self.blocks) do x = block(x) end
  x = self.drop(x)
  return self.fc(x:mean({2, 3}))
end

return model "ds_cnn_module" { input = {1, 1, 49, 10},
                               weights = "ds_cnn_module.safetensors",
                               module = net }
