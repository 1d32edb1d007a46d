-- The fully connected autoencoder of the MLPerf Tiny anomaly-detection
-- benchmark (machine sounds): 640 values in (5 frames of 128 log-mel
-- bands), 640 out, through 128-wide layers and an 8-wide bottleneck. Every
-- Linear but the last is followed by BatchNorm and ReLU.
local layers = {input = {1, 640}, seed = 1}
local widths = {640, 128, 128, 128, 128, 8, 128, 128, 128, 128, 640}
for i = 1, #widths - 1 do
  layers[#layers + 1] = nn.Linear{widths[i], widths[i + 1]}
  if i < #widths - 1 then
    layers[#layers + 1] = nn.BatchNorm1d{widths[i + 1]}
    layers[#layers + 1] = nn.ReLU{}
  end
end
return model "fc_autoencoder" (layers)
