-- SPEC.md's residual network, seeded: branching, so check and graph only
-- until the back end builds branching graphs.
local function BasicBlock(cin, cout, stride)
  local m = nn.Module()
  m.conv1 = nn.Conv2d{cin, cout, 3, stride = stride, padding = 1, bias = false}
  m.bn1   = nn.BatchNorm2d{cout}
  m.conv2 = nn.Conv2d{cout, cout, 3, padding = 1, bias = false}
  m.bn2   = nn.BatchNorm2d{cout}
  if stride ~= 1 or cin ~= cout then
    m.shortcut = nn.Sequential{
      nn.Conv2d{cin, cout, 1, stride = stride, bias = false},
      nn.BatchNorm2d{cout},
    }
  else
    m.shortcut = nn.Identity{}
  end
  function m:forward(x)
    local y = F.relu(self.bn1(self.conv1(x)))
    y = self.bn2(self.conv2(y))
    return F.relu(y + self.shortcut(x))
  end
  return m
end

local net = nn.Module()
net.stem   = nn.Sequential{ nn.Conv2d{3, 16, 3, padding = 1, bias = false},
                            nn.BatchNorm2d{16}, nn.ReLU{} }
net.layers = nn.ModuleList{ BasicBlock(16, 16, 1), BasicBlock(16, 32, 2) }
net.fc     = nn.Linear{32, 10}
function net:forward(x)
  x = self.stem(x)
  for _, block in ipairs(self.layers) do x = block(x) end
  x = F.adaptive_avg_pool2d(x, 1)
  return self.fc(torch.flatten(x, 1))
end

return model "resnet_tiny" { input = {1, 3, 32, 32}, seed = 1,
                             module = net }
