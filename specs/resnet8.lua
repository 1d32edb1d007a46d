-- MLPerf Tiny image classification: ResNet-8 on CIFAR-10 (3x32x32), as a
-- PyTorch user writes it (tools/module_examples.py, class ResNet8); the
-- weights are its state_dict(), saved with torch.save and converted with
-- tools/pt2safetensors.py. Logits out (the Keras original adds a softmax).
local function BasicBlock(cin, cout, stride)
  local m = nn.Module()
  m.conv1 = nn.Conv2d{cin, cout, 3, stride = stride, padding = 1, bias = false}
  m.bn1   = nn.BatchNorm2d{cout}
  m.conv2 = nn.Conv2d{cout, cout, 3, padding = 1, bias = false}
  m.bn2   = nn.BatchNorm2d{cout}
  if stride ~= 1 or cin ~= cout then
    m.shortcut = nn.Conv2d{cin, cout, 1, stride = stride}  -- projection
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
net.conv1  = nn.Conv2d{3, 16, 3, padding = 1, bias = false}
net.bn1    = nn.BatchNorm2d{16}
net.stacks = nn.Sequential{ BasicBlock(16, 16, 1), BasicBlock(16, 32, 2),
                            BasicBlock(32, 64, 2) }
net.fc     = nn.Linear{64, 10}
function net:forward(x)
  x = F.relu(self.bn1(self.conv1(x)))
  x = self.stacks(x)
  x = F.avg_pool2d(x, 8)
  return self.fc(torch.flatten(x, 1))
end

return model "resnet8" { input = {1, 3, 32, 32},
                         weights = "resnet8.safetensors", module = net }
