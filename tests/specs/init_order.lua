-- Seeded init follows construction order, not call order, and a layer
-- forward never calls still draws its numbers, as in PyTorch:
--   class Net(nn.Module):
--     def __init__(s):
--       super().__init__()
--       s.fc = nn.Linear(16, 3); s.unused = nn.Conv1d(4, 4, 3)
--       s.conv = nn.Conv1d(2, 4, 3); s.bn = nn.BatchNorm1d(4)
--       s.pool = nn.MaxPool1d(2)
--     def forward(s, x):
--       return s.fc(s.pool(F.relu(s.bn(s.conv(x)))).flatten(1))
--   torch.manual_seed(7); net = Net().eval()
--   torch.manual_seed(1); print(net(torch.randn(2, 2, 10)))
-- prints [[0.3415, 0.1955, 0.0058], [-0.0258, -0.2115, -0.3640]].
local net = nn.Module()
net.fc = nn.Linear{16, 3}
net.unused = nn.Conv1d{4, 4, 3}
net.conv = nn.Conv1d{2, 4, 3}
net.bn = nn.BatchNorm1d{4}
net.pool = nn.MaxPool1d{2}
function net:forward(x)
  x = self.pool(F.relu(self.bn(self.conv(x))))
  return self.fc(x:flatten(1))
end
return model "init_order" { input = {2, 2, 10}, seed = 7, module = net }
