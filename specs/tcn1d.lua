-- A temporal convolutional network on 9-channel, 128-step sensor windows
-- (UCI HAR's shape), 6 classes (tools/module_examples.py, class TCN).
-- Each block's convolutions are causal: the input is padded on the left
-- only, by (k - 1) * dilation, so an output never sees a later step.
local function TemporalBlock(cin, cout, k, dilation)
  local m = nn.Module()
  m.pad   = nn.ConstantPad1d{{(k - 1) * dilation, 0}, 0}
  m.conv1 = nn.Conv1d{cin, cout, k, dilation = dilation}
  m.conv2 = nn.Conv1d{cout, cout, k, dilation = dilation}
  local project = cin ~= cout
  if project then m.downsample = nn.Conv1d{cin, cout, 1} end
  function m:forward(x)
    local y = F.relu(self.conv1(self.pad(x)))
    y = F.relu(self.conv2(self.pad(y)))
    local res = x
    if project then res = self.downsample(x) end
    return F.relu(y + res)
  end
  return m
end

local net = nn.Module()
net.blocks = nn.ModuleList{ TemporalBlock(9, 16, 3, 1),
                            TemporalBlock(16, 16, 3, 2),
                            TemporalBlock(16, 16, 3, 4) }
net.fc = nn.Linear{16, 6}
function net:forward(x)
  for _, block in ipairs(self.blocks) do x = block(x) end
  return self.fc(x:mean(2))
end

return model "tcn1d" { input = {1, 9, 128}, weights = "tcn1d.safetensors",
                       module = net }
