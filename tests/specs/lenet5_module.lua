-- specs/lenet5.lua written as an nn.Module with a forward: the same
-- layers constructed in the same order (seed 1 gives the same weights),
-- called in a chain, so modelc builds it as the layer list it is.
local net = nn.Module()
net.conv1 = nn.Conv2d{1, 6, 5, padding = 2}
net.conv2 = nn.Conv2d{6, 16, 5}
net.fc1 = nn.Linear{400, 120}
net.fc2 = nn.Linear{120, 84}
net.fc3 = nn.Linear{84, 10}
function net:forward(x)
  x = F.max_pool2d(F.relu(self.conv1(x)), 2)
  x = F.max_pool2d(F.relu(self.conv2(x)), 2)
  x = x:view(x:size(0), -1)
  x = F.relu(self.fc1(x))
  x = F.relu(self.fc2(x))
  return self.fc3(x)
end
return model "lenet5_module" { input = {1, 1, 28, 28}, seed = 1,
                               module = net }
