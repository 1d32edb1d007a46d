/* test_errors.c: what modelc says about a wrong spec, and where.
 *
 * Every row is a whole spec that must fail. The first line of the output
 * must be `t.lua:LINE: error: ...` with LINE the line that SPEC.md §3 names
 * (the layer's constructor, the `model` line for errors of no layer, the
 * Lua line for sandbox and Lua errors) and must contain the row's text:
 * PyTorch 1.13's own wording where PyTorch raises (checked against torch
 * 1.13), modelc's where it does not. Further tables check the hint: and
 * note: lines, specs that must still pass (the sandbox must not be
 * stricter than it says), the time an endless loop takes to stop, and the
 * three bad specs of the tutorial in tests/specs/.
 *
 * A row that fails is reported with what was expected and what came out;
 * all rows run before the test fails. */
#include "testutil.h"

#include <time.h>

/* A spec with the model on line 1, its input on line 2, layers from 3. */
#define M(input, layers) \
  "return model \"t\" {\n  input = " input ",\n" layers "}\n"
#define L(layer) "  " layer ",\n"
/* The same after a comment: the model on line 2, layers from line 4. */
#define M2(input, layers) "-- a model\n" M(input, layers)
/* A module model: `local m = nn.Module()` on line 1, the body from line 2,
 * then the model line. */
#define MOD(body) \
  "local m = nn.Module()\n" body \
  "return model \"t\" { input = {1, 4, 8}, module = m }\n"
/* m's forward on lines 2 to 4, `body` its line 3. */
#define FWD(body) MOD("function m:forward(x)\n" body "\nend\n")

#define INSTR "ran for more than 50000000 Lua instructions"
#define MEMORY "used more than 64 MB of memory"

static const struct {
  const char *name;
  const char *spec;
  const char *want;
  int line;
} rows[] = {
    /* ---------------------------------------------------- the sandbox
     * (tests/test_sandbox.c lists every escape a spec could try and
     * tests the ones not here, through the command line too) */
    {"endless loop", "local n = 0\nwhile true do n = n + 1 end\n", INSTR, 2},
    {"empty endless loop", "\n\nwhile true do end\n", INSTR, 3},
    {"memory bomb",
     "local t = {}\nwhile true do t[#t+1] = (\"x\"):rep(1e6) end\n", MEMORY,
     2},
    {"one huge string", "local x = 1\nlocal s = (\"x\"):rep(1e8)\n", MEMORY,
     2},
    {"pcall around an endless loop",
     "local ok = pcall(function()\n  while true do end\nend)\nreturn ok\n",
     INSTR, 2},
    {"pcall around a memory bomb",
     "local ok = pcall(function()\n"
     "  local t = {} while true do t[#t+1] = (\"x\"):rep(1e6) end\n"
     "end)\nreturn ok\n",
     MEMORY, 2},
    {"xpcall around an endless loop",
     "local ok = xpcall(function()\n  while true do end\nend,\n"
     "function(m) return m end)\nreturn ok\n",
     INSTR, 2},
    {"xpcall whose handler loops",
     "local ok = xpcall(function()\n  while true do end\nend,\n"
     "function() while true do end end)\nreturn ok\n",
     INSTR, 2},
    {"xpcall(error, looping handler)",
     "print(xpcall(error, function() while true do end end))\n", INSTR, 1},
    {"NUL in the model name",
     "local x = 1\nreturn model \"a\\0b\" { input = {1, 4}, nn.ReLU{} }\n",
     "model name contains a NUL byte", 2},
    {"NUL in a layer name (a weight key: bytes kept, rendered escaped)",
     M("{1, 4}", L("nn.ReLU{name = \"a\\0b\"}")),
     "'name' contains a NUL byte", 3},
    {"NUL in a padding string",
     M("{1, 1, 4}", L("nn.Conv1d{1, 2, 3, padding = \"same\\0x\"}")),
     "argument 'padding' contains a NUL byte", 3},
    {"a size past int32",
     M("{1, 1, 4}", L("nn.MaxPool1d{3, dilation = 4611686018427387904}")),
     "argument 'dilation' is too large", 3},
    {"an input past int32", M("{1, 1099511627776}", L("nn.ReLU{}")),
     "input size 2 must be a positive integer up to 2147483647", 1},
    {"an input past 2^40 elements",
     M("{65536, 65536, 65536}", L("nn.ReLU{}")),
     "the input shape is too large", 1},
    {"two required arguments missing",
     M("{1, 1, 4}", L("nn.Conv1d{1}")),
     "__init__() missing 2 required positional arguments: 'out_channels' "
     "and 'kernel_size'", 3},
    {"three required arguments missing",
     M("{1, 1, 4}", L("nn.Conv1d{}")),
     "missing 3 required positional arguments: 'in_channels', "
     "'out_channels', and 'kernel_size'", 3},
    {"too many positionals, Python's count",
     M("{1, 1, 4}", L("nn.ReLU{true, true}")),
     "__init__() takes from 1 to 2 positional arguments but 3 were given", 3},
    {"positionals to a layer with none",
     M("{1, 1, 4}", L("nn.Sigmoid{true}")),
     "__init__() takes 1 positional argument but 2 were given", 3},
    {"io.open", "local f = io.open(\"/etc/passwd\")\n", "'io'", 1},
    {"os.exit", "local x = 1\nos.exit(0)\n", "'os'", 2},
    {"require", "require \"x\"\n", "'require'", 1},
    {"package", "local p = package.loaded\n", "'package'", 1},
    {"debug.getinfo", "local i = debug.getinfo(1)\n", "'debug'", 1},
    {"load", "local f = load(\"return 1\")\n", "'load'", 1},
    {"loadfile", "local f = loadfile(\"/etc/passwd\")\n", "'loadfile'", 1},
    {"dofile", "dofile(\"/etc/passwd\")\n", "'dofile'", 1},
    {"string.dump", "local s = string.dump(function() end)\n", "'dump'", 1},
    {"collectgarbage collect", "collectgarbage(\"collect\")\n",
     "collectgarbage('collect')", 1},
    {"collectgarbage count is allowed",
     "local kb = collectgarbage(\"count\")\n"
     "assert(type(kb) == \"number\" and kb > 0)\nerror(\"count works\")\n",
     "count works", 3},
    {"getmetatable of a string", "local i = getmetatable(\"\").__index\n",
     "'getmetatable'", 1},
    {"setmetatable", "local t = setmetatable({}, {})\n", "'setmetatable'",
     1},
    {"string.find as a method", "local s = \"abc\"\nlocal i = s:find(\"b\")\n",
     "'find'", 2},
    {"string.match", "local m = string.match(\"a\", \".\")\n", "'match'", 1},
    {"string.gmatch", "for w in string.gmatch(\"a b\", \"%a+\") do end\n",
     "'gmatch'", 1},
    {"string.gsub", "local s = (\"a\"):gsub(\"a\", \"b\")\n", "'gsub'", 1},
    {"deep recursion",
     "local function f(n)\n  return f(n + 1) + 1\nend\nreturn f(1)\n",
     "stack overflow", 2},
    {"error with a string", "local x = 1\nerror(\"boom\")\n", "boom", 2},
    {"error with a table", "local x = 1\nerror({})\n",
     "error object is a table value", 2},
    {"error with nothing", "\nerror()\n", "error object is a nil value", 2},
    {"error raised in a caller's name",
     "local function check(x)\n  error(\"bad x\", 2)\nend\ncheck(1)\n",
     "bad x", 4},
    {"runtime error", "local x = nil\nlocal y = x + 1\n",
     "attempt to perform arithmetic on a nil value", 2},
    {"syntax error: missing comma",
     M("{1, 1, 10}", L("nn.Conv1d{1, 2, 3 stride = 2}")),
     "'}' expected near 'stride'", 3},
    {"syntax error: unfinished string", "return model \"t {\n",
     "unfinished string", 1},
    {"unknown layer close to a known one",
     M("{1, 1, 10}", L("nn.ReLU{}") L("nn.Relu{}")), "unknown layer 'nn.Relu'",
     4},
    {"unknown layer", M("{1, 1, 10}", L("nn.Conv4d{}")),
     "unknown layer 'nn.Conv4d'", 3},

    /* ----------------------------------------------------- the DSL */
    {"spec returns nothing", "local x = 1\n", "must return a model", 1},
    {"spec returns a number", "return 42\n", "it returned a number", 1},
    {"spec returns a layer", "return nn.ReLU{}\n", "must return a model", 1},
    {"model name starts with a digit",
     "-- a model\nreturn model \"1bad\" {\n  input = {1, 4},\n  nn.ReLU{},\n}\n",
     "model name '1bad' is not a C identifier", 2},
    {"model name with a dash",
     "-- a model\nreturn model \"a-b\" {\n  input = {1, 4},\n  nn.ReLU{},\n}\n",
     "model name 'a-b' is not a C identifier", 2},
    {"model name not a string", "return model(3)\n", "model takes a name", 1},
    {"model body not a table", "return model \"t\" (5)\n",
     "takes a table", 1},
    {"no input", "-- a model\nreturn model \"t\" {\n  nn.ReLU{},\n}\n",
     "model 't' has no input shape", 2},
    {"no layers", M2("{1, 4}", ""), "model 't' has no layers", 2},
    {"input with a zero", M2("{2, 0, 3}", L("nn.ReLU{}")),
     "input size 2 must be a positive integer", 2},
    {"input is a string", M2("\"x\"", L("nn.ReLU{}")),
     "input must be an array", 2},
    {"input with a fraction", M2("{2.5}", L("nn.ReLU{}")),
     "input size 1 must be a positive integer", 2},
    {"input with a negative size", M2("{4, -1}", L("nn.ReLU{}")),
     "input size 2 must be a positive integer", 2},
    {"input is empty", M2("{}", L("nn.ReLU{}")), "input must be an array",
     2},
    {"input has 9 dimensions", M2("{1, 1, 1, 1, 1, 1, 1, 1, 2}",
                                  L("nn.ReLU{}")),
     "input must be an array", 2},
    {"unknown model option",
     "-- a model\nreturn model \"t\" {\n  inputs = {2, 3},\n  nn.ReLU{},\n}\n",
     "unknown option 'inputs'", 2},
    {"seed not an integer",
     "-- a model\nreturn model \"t\" {\n  input = {2, 3},\n  seed = 1.5,\n"
     "  nn.ReLU{},\n}\n",
     "seed must be an integer", 2},
    {"weights not a string",
     "-- a model\nreturn model \"t\" {\n  input = {2, 3},\n  weights = 3,\n"
     "  nn.ReLU{},\n}\n",
     "weights must be a file name", 2},
    {"a number in the layer list",
     M2("{2, 3}", L("nn.ReLU{}") L("42")),
     "entry 2 is a number, not a layer", 2},
    {"a string in the layer list", M2("{2, 3}", L("\"relu\"")),
     "entry 1 is a string, not a layer", 2},
    {"a hole in the layer list", M2("{2, 3}", L("[3] = nn.ReLU{}")),
     "has a hole", 2},
    {"layer called with parentheses",
     M("{1, 1, 10}", L("nn.ReLU{}") L("nn.Conv1d(1, 2, 3)")),
     "nn.Conv1d takes a table of arguments", 4},
    {"duplicated layer name",
     M("{2, 3}", L("nn.ReLU{name = \"c\"}") L("nn.Tanh{}")
                     L("nn.ReLU{name = \"c\"}")),
     "layer 2 'c' (ReLU): the name 'c' is already used", 5},
    {"layer name empty", M("{2, 3}", L("nn.ReLU{name = \"\"}")),
     "layer 0 (ReLU): module name can't be empty string \"\"", 3},
    {"layer name starting with a dot",
     M("{2, 3}", L("nn.ReLU{}") L("nn.ReLU{name = \".a\"}")),
     "the name '.a' is not a state_dict prefix: it starts with \".\"", 4},
    {"layer name ending with a dot",
     M("{2, 3}", L("nn.ReLU{name = \"features.\"}")),
     "the name 'features.' is not a state_dict prefix: it ends with \".\"",
     3},
    {"layer name with two dots in a row",
     M("{2, 3}", L("nn.ReLU{name = \"a..b\"}")),
     "the name 'a..b' is not a state_dict prefix: it contains \"..\"", 3},
    {"F.relu in a layer list",
     M("{2, 3}", L("nn.ReLU{}") L("F.relu(nn.ReLU{})")),
     "'F.relu' is only available inside a module's forward", 4},
    {"torch.cat outside a forward",
     "local x = 1\nlocal y = torch.cat({x, x}, 1)\n",
     "'torch.cat' is only available inside a module's forward", 2},
    {"an F function modelc lacks", "local x = 1\nlocal f = F.conv2d\n",
     "modelc does not support 'F.conv2d'", 2},
    {"a misspelled F function", "local x = 1\nlocal f = F.rleu\n",
     "modelc does not support 'F.rleu'", 2},
    {"layer name not a string", M("{2, 3}", L("nn.ReLU{name = 3}")),
     "'name' must be a string", 3},

    /* ------------------------------------------- modules and forward */
    {"a tensor method modelc lacks", FWD("  return x:foo()"),
     "modelc does not support 'Tensor.foo' in forward", 3},
    {"a torch function modelc lacks", FWD("  return torch.relu(x)"),
     "modelc does not support 'torch.relu'", 3},
    {"broadcast mismatch",
     MOD("m.a = nn.Conv1d{4, 16, 1}\nm.b = nn.Conv1d{4, 32, 1}\n"
         "function m:forward(x)\n  return self.a(x) + self.b(x)\nend\n"),
     "t.lua:5: error: add: The size of tensor a (16) must match the size of "
     "tensor b (32) at non-singleton dimension 1", 5},
    {"broadcast mismatch inside a submodule",
     "local m = nn.Module()\nlocal blk = nn.Module()\n"
     "blk.c = nn.Conv1d{4, 8, 1}\nfunction blk:forward(x)\n"
     "  return self.c(x) * x\nend\nm.blocks = nn.ModuleList{blk}\n"
     "function m:forward(x)\n  return self.blocks[1](x)\nend\n"
     "return model \"t\" { input = {1, 4, 8}, module = m }\n",
     "blocks.0: mul: The size of tensor a (8) must match the size of tensor "
     "b (4) at non-singleton dimension 1", 5},
    {"a tensor plus a string", FWD("  return x + \"a\""),
     "add: unsupported operand type(s) for +: 'Tensor' and 'str'", 3},
    {"cat of mismatched sizes", FWD("  return torch.cat({x, x:view(1, 8, 4)}, 1)"),
     "cat: Sizes of tensors must match except in dimension 1. Expected size "
     "8 but got size 4 for tensor number 1 in the list.", 3},
    {"cat of different ranks", FWD("  return torch.cat({x, x:flatten(1)}, 1)"),
     "cat: Tensors must have same number of dimensions: got 3 and 2", 3},
    {"cat of nothing", FWD("  return torch.cat({}, 1)"),
     "cat: torch.cat(): expected a non-empty list of Tensors", 3},
    {"cat along a dim out of range", FWD("  return torch.cat({x, x}, 3)"),
     "cat: Dimension out of range (expected to be in range of [-3, 2], but "
     "got 3)", 3},
    {"view to a wrong size", FWD("  return x:view(2, 5)"),
     "view: shape '[2, 5]' is invalid for input of size 32", 3},
    {"reshape with two -1", FWD("  return x:reshape(-1, -1)"),
     "reshape: only one dimension can be inferred", 3},
    {"mean over a dim out of range", FWD("  return x:mean(3)"),
     "mean: Dimension out of range (expected to be in range of [-3, 2], but "
     "got 3)", 3},
    {"mean over a dim twice", FWD("  return torch.mean(x, {1, -2})"),
     "mean: dim 1 appears multiple times in the list of dims", 3},
    {"flatten with start after end", FWD("  return torch.flatten(x, 2, 1)"),
     "flatten() has invalid args: start_dim cannot come after end_dim", 3},
    {"x:size out of range", FWD("  return x:view(x:size(3), -1)"),
     "size: Dimension out of range (expected to be in range of [-3, 2], but "
     "got 3)", 3},
    {"unary minus", FWD("  return -x"),
     "modelc does not support unary minus (-x) on tensors in forward", 3},
    {"F.relu with too many arguments", FWD("  return F.relu(x, true, 3)"),
     "relu: relu() takes at most 1 argument after the input, got 2", 3},
    {"F.max_pool1d's errors, PyTorch's words",
     FWD("  return F.max_pool1d(x, 2, {padding = 2})"),
     "max_pool1d() padding should be at most half of kernel size", 3},
    {"F.pad circular", FWD("  return F.pad(x, {1, 1}, \"circular\")"),
     "pad: modelc does not support F.pad with mode 'circular'", 3},
    {"forward returns nothing", FWD("  local y = x"),
     "model 't': forward must return one tensor, but it returned nothing", 5},
    {"forward returns two tensors", FWD("  return x, x"),
     "forward must return one tensor, but it returned more than one value",
     5},
    {"forward returns a number", FWD("  return 3"),
     "forward must return one tensor, but it returned int", 5},
    {"forward returns its input", FWD("  return x"),
     "forward returned its input: the model computes nothing", 5},
    {"a submodule returns nothing",
     "local m = nn.Module()\nm.b = nn.Module()\nfunction m.b:forward(x)\n"
     "end\nfunction m:forward(x)\n  return self.b(x)\nend\n"
     "return model \"t\" { input = {1, 4, 8}, module = m }\n",
     "the forward of 'b' must return one tensor, but it returned nothing", 6},
    {"calling a field that is not a module",
     MOD("m.k = 3\nfunction m:forward(x)\n  return self.k(x)\nend\n"),
     "attempt to call a number value (field 'k')", 4},
    {"a module attribute that does not exist",
     MOD("m.conv1 = nn.Conv1d{4, 4, 3}\nfunction m:forward(x)\n"
         "  return self.conv2(x)\nend\n"),
     "'Module' object has no attribute 'conv2'", 4},
    {"a model without forward", MOD("m.c = nn.ReLU{}\n"),
     "Module [the model] is missing the required \"forward\" function", 3},
    {"a ModuleList called",
     MOD("m.l = nn.ModuleList{nn.ReLU{}}\nfunction m:forward(x)\n"
         "  return self.l(x)\nend\n"),
     "Module [ModuleList] is missing the required \"forward\" function", 4},
    {"a layer's shape error inside forward",
     MOD("m.c1 = nn.Conv1d{4, 8, 3}\nm.c2 = nn.Conv1d{4, 8, 3}\n"
         "function m:forward(x)\n  return self.c2(self.c1(x))\nend\n"),
     "t.lua:5: error: c2 (Conv1d): Given groups=1, weight of size [8, 4, 3], "
     "expected input[1, 8, 6] to have 4 channels, but got 8 channels "
     "instead", 5},
    {"a layer called on two tensors",
     MOD("m.c = nn.ReLU{}\nfunction m:forward(x)\n  return self.c(x, x)\n"
         "end\n"),
     "c: a layer is called on one tensor, got 2 arguments", 4},
    {"a layer with parameters built inside forward",
     FWD("  return nn.Conv1d{4, 4, 1}(x)"),
     "nn.Conv1d built at line 3 is not a child of the model", 3},
    {"a module called outside forward",
     "local m = nn.Module()\nlocal y = m(3)\n",
     "a module is called like a function only inside a forward", 2},
    {"a layer called outside forward", "local r = nn.ReLU{}\nlocal y = r(3)\n",
     "nn.ReLU is called like a function only inside a module's forward", 2},
    {"a layer list and a module",
     "local m = nn.Module()\n"
     "return model \"t\" { input = {1, 4}, module = m, nn.ReLU{} }\n",
     "give either a layer list or module = M, not both", 2},
    {"module = a ModuleList",
     "local l = nn.ModuleList{nn.ReLU{}}\n"
     "return model \"t\" { input = {1, 4}, module = l }\n",
     "module must be a module (nn.Module(), nn.Sequential{...} or a layer), "
     "not a ModuleList", 2},
    {"a ModuleList in a layer list",
     M("{1, 4, 8}", L("nn.ReLU{}") L("nn.ModuleList{nn.Identity{}}")),
     "entry 2 is a ModuleList, not a layer or a module", 1},
    {"a layer's shape error in a container of a layer list",
     M("{1, 4, 8}", L("nn.Conv1d{4, 8, 3}")
                    L("nn.Sequential{nn.ReLU{},\n    nn.Conv1d{4, 8, 1}}")),
     "1.1 (Conv1d): Given groups=1, weight of size [8, 4, 1], expected "
     "input[1, 8, 6] to have 4 channels", 5},
    {"a Sequential of a number", "local s = nn.Sequential{nn.ReLU{}, 3}\n",
     "nn.Sequential: entry 2 is a number, not a module", 1},
    {"a child named with a dot", "local m = nn.Module()\nm[\"a.b\"] = nn.ReLU{}\n",
     "module name can't contain \".\", got: a.b", 2},
    {"a forward that calls itself",
     MOD("m.me = m\nfunction m:forward(x)\n  return self.me(x)\nend\n"),
     "modules nested more than 64 calls deep", 4},
    {"a forward past the operation limit",
     FWD("  for i = 1, 20000 do x = x * 1 end return x"),
     "mul: the model has more than 10,000 operations, the limit", 3},
    {"a bad argument of a layer in a module",
     MOD("m.blk = nn.Sequential{nn.Conv1d{4, 4, 3, kernal = 2}}\n"
         "function m:forward(x)\n  return self.blk(x)\nend\n"),
     "blk.0 (Conv1d): __init__() got an unexpected keyword argument "
     "'kernal'", 2},

    /* ----------------------------------------------------- arguments */
    {"misspelled keyword",
     M("{1, 1, 10}", L("nn.Conv1d{1, 2, kernal_size = 3}")),
     "layer 0 (Conv1d): __init__() got an unexpected keyword argument "
     "'kernal_size'",
     3},
    {"positional and keyword",
     M("{1, 1, 10}", L("nn.Conv1d{1, 2, 3, kernel_size = 3}")),
     "__init__() got multiple values for argument 'kernel_size'", 3},
    {"too many positionals", M("{1, 1, 10}", L("nn.ReLU{true, true}")),
     "takes from 1 to 2 positional arguments but 3 were given", 3},
    {"too many positionals for Conv1d",
     M("{1, 1, 10}", L("nn.Conv1d{1, 2, 3, 1, 0, 1, 1, true, \"zeros\", 5}")),
     "takes from 4 to 10 positional arguments but 11 were given", 3},
    {"missing required argument", M("{1, 1, 10}", L("nn.Conv1d{1, 2}")),
     "__init__() missing 1 required positional argument: 'kernel_size'", 3},
    {"missing out_features", M("{1, 4}", L("nn.Linear{4}")),
     "missing 1 required positional argument: 'out_features'", 3},
    {"a key that is not a name", M("{1, 4}", L("nn.ReLU{[true] = 3}")),
     "neither a positional argument nor a keyword", 3},
    {"kernel_size as a string",
     M("{1, 1, 10}", L("nn.Conv1d{1, 2, kernel_size = \"3\"}")),
     "argument 'kernel_size' must be an integer or a tuple of integers", 3},
    {"bias as a number", M("{1, 1, 10}", L("nn.Conv1d{1, 2, 3, bias = 1}")),
     "argument 'bias' must be a boolean", 3},
    {"ceil_mode as a string",
     M("{1, 1, 10}", L("nn.MaxPool1d{2, ceil_mode = \"yes\"}")),
     "argument 'ceil_mode' must be a boolean", 3},
    {"eps as a string", M("{1, 3, 10}", L("nn.BatchNorm1d{3, eps = \"x\"}")),
     "argument 'eps' must be a number", 3},
    {"padding_mode as a number",
     M("{1, 1, 10}", L("nn.Conv1d{1, 2, 3, padding_mode = 3}")),
     "argument 'padding_mode' must be a string", 3},
    {"approximate as a number", M("{2, 4}", L("nn.GELU{approximate = 1}")),
     "argument 'approximate' must be a string", 3},
    {"p as a string", M("{2, 4}", L("nn.Dropout{p = \"0.5\"}")),
     "argument 'p' must be a number", 3},
    {"dim as a fraction", M("{2, 4}", L("nn.Softmax{dim = 1.5}")),
     "argument 'dim' must be an integer", 3},
    {"kernel_size with a fraction", M("{1, 1, 10}", L("nn.Conv1d{1, 2, 2.5}")),
     "argument 'kernel_size' must be an integer", 3},
    {"stride tuple with a fraction",
     M("{1, 1, 10}", L("nn.Conv1d{1, 2, 3, stride = {1.5}}")),
     "argument 'stride' must be a tuple of integers", 3},
    {"8.0 is the integer 8",
     M("{1, 1, 10}", L("nn.Conv1d{1, 8.0, 3}") L("nn.Conv1d{4, 2, 3}")),
     "expected input[1, 8, 8] to have 4 channels, but got 8 channels "
     "instead",
     4},
    {"inline weight of the wrong shape",
     M("{1, 1, 10}", L("nn.Conv1d{1, 2, 3, weight = {1, 2}}")),
     "inline 'weight' has shape [2], expected [2, 1, 3]", 3},
    {"inline bias of the wrong shape",
     M("{1, 4}", L("nn.Linear{4, 2, bias = {1, 2, 3}}")),
     "inline 'bias' has shape [3], expected [2]", 3},
    {"inline weight not rectangular",
     M("{1, 4}", L("nn.Linear{4, 2, weight = {{1, 2, 3, 4}, {1, 2, 3}}}")),
     "inline 'weight': it is not a rectangular array", 3},
    {"inline weight with a string",
     M("{1, 4}",
       L("nn.Linear{4, 2, weight = {{1, 2, 3, 4}, {1, 2, 3, \"x\"}}}")),
     "inline 'weight': entry 8 is the string \"x\", not a number", 3},
    {"inline weight as a number", M("{1, 4}", L("nn.Linear{4, 2, weight = 3}")),
     "inline 'weight' must be a nested array of numbers", 3},
    {"inline weight with 9 dimensions",
     M("{1, 4}", L("nn.Linear{4, 1, weight = {{{{{{{{{1}}}}}}}}}}")),
     "inline 'weight': it has more than 8 dimensions", 3},
    {"inline weight on a layer without one",
     M("{1, 1, 10}", L("nn.ReLU{weight = {1}}")),
     "layer 0 (ReLU): the layer has no parameter 'weight'", 3},

    /* ---------------------------------------- shapes (PyTorch's words) */
    {"conv1d on a 1-d input", M("{4}", L("nn.Conv1d{1, 2, 3}")),
     "layer 0 (Conv1d): Expected 2D (unbatched) or 3D (batched) input to "
     "conv1d, but got input of size: [4]",
     3},
    {"conv3d on a 6-d input", M("{1, 5, 5, 5, 5, 5}", L("nn.Conv3d{1, 2, 3}")),
     "Expected 4D (unbatched) or 5D (batched) input to conv3d, but got input "
     "of size: [1, 5, 5, 5, 5, 5]",
     3},
    {"conv channel mismatch", M("{2, 4, 5}", L("nn.Conv1d{3, 2, 3}")),
     "layer 0 (Conv1d): Given groups=1, weight of size [2, 3, 3], expected "
     "input[2, 4, 5] to have 3 channels, but got 4 channels instead",
     3},
    {"conv2d on an unbatched input with the wrong channels",
     M("{2, 1, 5}", L("nn.Conv2d{1, 2, 3}")),
     "Given groups=1, weight of size [2, 1, 3, 3], expected input[1, 2, 1, 5] "
     "to have 1 channels, but got 2 channels instead",
     3},
    {"conv channel mismatch after a ReLU",
     M("{1, 4, 10}", L("nn.Conv1d{4, 8, 3}") L("nn.ReLU{}")
                         L("nn.Conv1d{4, 8, 3}")),
     "layer 2 (Conv1d): Given groups=1, weight of size [8, 4, 3], expected "
     "input[1, 8, 8] to have 4 channels, but got 8 channels instead",
     5},
    {"kernel larger than the input", M("{1, 1, 2}", L("nn.Conv1d{1, 2, 3}")),
     "Calculated padded input size per channel: (2). Kernel size: (3). "
     "Kernel size can't be greater than actual input size",
     3},
    {"dilated kernel larger than the input",
     M("{1, 1, 8}", L("nn.Conv1d{1, 1, 3, dilation = 4}")),
     "Calculated padded input size per channel: (8). Kernel size: (9). "
     "Kernel size can't be greater than actual input size",
     3},
    {"conv2d kernel larger than the input",
     M("{1, 1, 5, 2}", L("nn.Conv2d{1, 2, 3}")),
     "Calculated padded input size per channel: (5 x 2). Kernel size: "
     "(3 x 3). Kernel size can't be greater than actual input size",
     3},
    {"groups not dividing in_channels",
     M("{1, 4, 10}", L("nn.Conv1d{4, 6, 3, groups = 3}")),
     "in_channels must be divisible by groups", 3},
    {"groups not dividing out_channels",
     M("{1, 4, 10}", L("nn.Conv1d{4, 6, 3, groups = 4}")),
     "out_channels must be divisible by groups", 3},
    {"dilation -1 with one sample",
     M("{1, 2, 6}", L("nn.Conv1d{2, 2, 3, dilation = -1}")),
     "layer 0 (Conv1d): dilation should be greater than zero, but got "
     "[1, -1]", 3},
    {"dilation 0 unbatched, 2-d",
     M("{2, 6, 6}", L("nn.Conv2d{2, 2, 3, dilation = {0, 1}}")),
     "dilation should be greater than zero, but got [0, 1]", 3},
    {"dilation 0 with two samples",
     M("{2, 2, 6}", L("nn.Conv1d{2, 2, 3, dilation = 0}")),
     "layer 0 (Conv1d): non-positive dilation is not supported", 3},
    {"dilation 0 with one sample and two groups",
     M("{1, 2, 6}", L("nn.Conv1d{2, 2, 3, dilation = 0, groups = 2}")),
     "layer 0 (Conv1d): non-positive dilation is not supported", 3},
    {"groups zero", M("{1, 4, 10}", L("nn.Conv1d{4, 6, 3, groups = 0}")),
     "groups must be a positive integer", 3},
    {"negative out_channels", M("{1, 1, 5}", L("nn.Conv1d{1, -2, 3}")),
     "Trying to create tensor with negative dimension -2: [-2, 1, 3]", 3},
    {"padding same with stride",
     M("{1, 4, 10}", L("nn.Conv1d{4, 6, 3, padding = \"same\", stride = 2}")),
     "padding='same' is not supported for strided convolutions", 3},
    {"bad padding string",
     M("{1, 4, 10}", L("nn.Conv1d{4, 6, 3, padding = \"full\"}")),
     "Invalid padding string 'full', should be one of", 3},
    {"bad padding_mode",
     M("{1, 4, 10}", L("nn.Conv1d{4, 6, 3, padding_mode = \"mirror\"}")),
     "but got padding_mode='mirror'", 3},
    {"reflect padding too large",
     M("{1, 4, 3}", L("nn.Conv1d{4, 6, 3, padding = 3, "
                      "padding_mode = \"reflect\"}")),
     "Argument #4: Padding size should be less than the corresponding input "
     "dimension, but got: padding (3, 3) at dimension 2 of input [1, 4, 3]",
     3},
    {"circular padding wrapping twice",
     M("{1, 4, 3}", L("nn.Conv1d{4, 6, 3, padding = 4, "
                      "padding_mode = \"circular\"}")),
     "Padding value causes wrapping around more than once.", 3},
    {"max_pool1d padding over half the kernel",
     M("{1, 4, 10}", L("nn.MaxPool1d{2, padding = 2}")),
     "max_pool1d() padding should be at most half of kernel size, but got "
     "padding=2 and kernel_size=2",
     3},
    {"max_pool2d padding over half the kernel",
     M("{1, 4, 10}", L("nn.MaxPool2d{2, padding = 2}")),
     "pad should be at most half of kernel size, but got pad=2 and "
     "kernel_size=2",
     3},
    {"avg_pool1d padding over half the kernel",
     M("{1, 4, 10}", L("nn.AvgPool1d{2, padding = 2}")),
     "pad should be at most half of kernel size, but got pad=2 and "
     "kernel_size=2",
     3},
    {"max_pool1d kernel zero", M("{1, 1, 5}", L("nn.MaxPool1d{0}")),
     "max_pool1d() kernel_size must be greater than zero, but got 0", 3},
    {"max_pool1d too large for its input",
     M("{1, 1, 1}", L("nn.MaxPool1d{2}")),
     "Output size is too small: L_out = floor((1 + 2*0 - 1*(2-1) - 1)/2 + 1) "
     "= 0",
     3},
    {"max_pool1d too large after a conv",
     M("{1, 1, 4}", L("nn.Conv1d{1, 2, 3}") L("nn.MaxPool1d{3}")),
     "layer 1 (MaxPool1d): Output size is too small: L_out = "
     "floor((2 + 2*0 - 1*(3-1) - 1)/3 + 1) = 0",
     4},
    {"max_pool2d too large for its input",
     M("{1, 1, 3, 3}", L("nn.MaxPool2d{4}")),
     "Given input size: (1x3x3). Calculated output size: (1x0x0). Output "
     "size is too small",
     3},
    {"avg_pool1d too large for its input",
     M("{1, 1, 3}", L("nn.AvgPool1d{4}")),
     "Given input size: (1x1x3). Calculated output size: (1x1x0). Output "
     "size is too small",
     3},
    {"Linear with no outputs", M("{2, 16}", L("nn.Linear{16, 0}")),
     "layer 0 (Linear): Output size is too small", 3},
    {"Linear with negative inputs", M("{2, 16}", L("nn.Linear{-1, 2}")),
     "Trying to create tensor with negative dimension -1: [2, -1]", 3},
    {"AdaptiveAvgPool1d to nothing",
     M("{2, 4, 16}", L("nn.AdaptiveAvgPool1d{0}")),
     "layer 0 (AdaptiveAvgPool1d): Output size is too small", 3},
    {"adaptive_avg_pool2d on a 2-d input",
     M("{4, 4}", L("nn.AdaptiveAvgPool2d{2}")),
     "adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got [4, 4]", 3},
    {"Linear feature mismatch", M("{2, 32}", L("nn.Linear{16, 2}")),
     "layer 0 (Linear): mat1 and mat2 shapes cannot be multiplied (2x32 and "
     "16x2)",
     3},
    {"Linear on a 1-d input", M("{16}", L("nn.Linear{32, 2}")),
     "mat1 and mat2 shapes cannot be multiplied (1x16 and 32x2)", 3},
    {"Linear on a conv's 3-d output",
     M("{1, 4, 10}", L("nn.Conv1d{4, 8, 3}") L("nn.Linear{16, 2}")),
     "layer 1 (Linear): mat1 and mat2 shapes cannot be multiplied (8x8 and "
     "16x2)",
     4},
    {"Linear after Flatten, named",
     M("{1, 4, 10}", L("nn.Conv1d{4, 8, 3, name = \"conv1\"}") L("nn.Flatten{}")
                         L("nn.Linear{16, 2, name = \"fc\"}")),
     "layer 2 'fc' (Linear): mat1 and mat2 shapes cannot be multiplied (1x64 "
     "and 16x2)",
     5},
    {"Flatten start_dim out of range", M("{2, 4, 8}", L("nn.Flatten{3}")),
     "layer 0 (Flatten): Dimension out of range (expected to be in range of "
     "[-3, 2], but got 3)",
     3},
    {"Flatten end_dim out of range", M("{2, 4, 8}", L("nn.Flatten{0, -4}")),
     "Dimension out of range (expected to be in range of [-3, 2], but got -4)",
     3},
    {"Softmax dim out of range", M("{2, 4}", L("nn.Softmax{dim = 2}")),
     "layer 0 (Softmax): Dimension out of range (expected to be in range of "
     "[-2, 1], but got 2)",
     3},
    {"LogSoftmax dim out of range", M("{2, 4}", L("nn.LogSoftmax{dim = -3}")),
     "Dimension out of range (expected to be in range of [-2, 1], but got -3)",
     3},
    {"BatchNorm1d wrong features", M("{2, 4, 5}", L("nn.BatchNorm1d{3}")),
     "layer 0 (BatchNorm1d): running_mean should contain 4 elements not 3", 3},
    {"BatchNorm2d wrong features after a conv",
     M("{1, 3, 8, 8}", L("nn.Conv2d{3, 4, 3}") L("nn.BatchNorm2d{3}")),
     "layer 1 (BatchNorm2d): running_mean should contain 4 elements not 3", 4},
    {"BatchNorm1d wrong rank", M("{2, 3, 4, 5}", L("nn.BatchNorm1d{3}")),
     "expected 2D or 3D input (got 4D input)", 3},
    {"BatchNorm2d wrong rank", M("{2, 3, 4}", L("nn.BatchNorm2d{3}")),
     "expected 4D input (got 3D input)", 3},
    {"max_pool1d on a 4-d input", M("{1, 2, 3, 4}", L("nn.MaxPool1d{2}")),
     "max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim "
     "batch size for input, but got:[1, 2, 3, 4]",
     3},
    {"max_pool2d on a 2-d input", M("{5, 4}", L("nn.MaxPool2d{2}")),
     "non-empty 3D or 4D (batch mode) tensor expected for input", 3},
    {"Dropout p above 1", M("{2, 4}", L("nn.Dropout{1.5}")),
     "dropout probability has to be between 0 and 1, but got 1.5", 3},
    {"Dropout p below 0", M("{2, 4}", L("nn.Dropout{p = -0.1}")),
     "dropout probability has to be between 0 and 1, but got -0.1", 3},
    {"ZeroPad2d with three values", M("{1, 3, 3}", L("nn.ZeroPad2d{{1, 2, 3}}")),
     "layer 0 (ZeroPad2d): Padding length must be divisible by 2", 3},
    {"ZeroPad2d on a 1-d input", M("{3}", L("nn.ZeroPad2d{{1, 2, 3, 4}}")),
     "layer 0 (ZeroPad2d): Padding length too large", 3},
    /* more pads than a List holds: two per dimension of a 6-long kernel
     * or a 5-long padding (UBSan caught the overflow under the fuzzer) */
    {"Conv3d 6-d kernel, same, reflect",
     M("{1, 2, 6, 6, 6}", L("nn.Conv3d{2, 4, {3, 3, 1, 4, 2, 1}, padding = "
                            "\"same\", padding_mode = \"reflect\"}")),
     "layer 0 (Conv3d): Padding length too large", 3},
    {"Conv3d 5 paddings, circular",
     M("{1, 2, 6, 6, 6}", L("nn.Conv3d{2, 4, 3, padding = {1, 1, 1, 1, 1}, "
                            "padding_mode = \"circular\"}")),
     "layer 0 (Conv3d): Only 2D, 3D, 4D, 5D padding with non-constant "
     "padding are supported for now", 3},
    {"ReflectionPad1d on a 1-d input", M("{3}", L("nn.ReflectionPad1d{1}")),
     "layer 0 (ReflectionPad1d): Only 2D, 3D, 4D, 5D padding with "
     "non-constant padding are supported for now", 3},
    {"ReplicationPad2d on a 5-d input",
     M("{1, 1, 1, 3, 3}", L("nn.ReplicationPad2d{1}")),
     "Only 2D, 3D, 4D, 5D padding with non-constant padding are supported "
     "for now", 3},
    {"ReflectionPad1d as wide as the input",
     M("{1, 2, 3}", L("nn.ReflectionPad1d{3}")),
     "layer 0 (ReflectionPad1d): Argument #4: Padding size should be less "
     "than the corresponding input dimension, but got: padding (3, 3) at "
     "dimension 2 of input [1, 2, 3]", 3},
    {"ReflectionPad2d taller than the input",
     M("{1, 2, 3, 3}", L("nn.ReflectionPad2d{{1, 1, 3, 0}}")),
     "Argument #6: Padding size should be less than the corresponding input "
     "dimension, but got: padding (3, 0) at dimension 2 of input 4", 3},
    {"ReflectionPad1d cropping everything",
     M("{1, 3, 3}", L("nn.ReflectionPad1d{{-1, -2}}")),
     "2input (W: 3)is too small. Calculated output W: 0", 3},
    {"ReplicationPad1d cropping past the input",
     M("{1, 2, 3}", L("nn.ReplicationPad1d{-3}")),
     "layer 0 (ReplicationPad1d): input (W: 3) is too small. Calculated "
     "output W: -3", 3},
    {"ReplicationPad2d cropping past the input",
     M("{2, 3, 3}", L("nn.ReplicationPad2d{-2}")),
     "input (H: 3, W: 3 ) is too small. Calculated output H: -1 W: -1", 3},
    {"ZeroPad2d cropping a row to nothing",
     M("{1, 3, 5}", L("nn.ZeroPad2d{{1, 0, -2, -1}}")),
     "The input size 3, plus negative padding -2 and -1 resulted in a "
     "negative output size, which is invalid. Check dimension 1 of your "
     "input.", 3},
    {"ConstantPad1d cropping to nothing",
     M("{1, 3, 3}", L("nn.ConstantPad1d{{-1, -2}, 1}")),
     "layer 0 (ConstantPad1d): Output size is too small", 3},
    {"ConstantPad1d without a value", M("{1, 3, 3}", L("nn.ConstantPad1d{1}")),
     "__init__() missing 1 required positional argument: 'value'", 3},
    {"Hardswish inplace as a number", M("{2, 4}", L("nn.Hardswish{1}")),
     "argument 'inplace' must be a boolean", 3},
    {"GELU bad approximate",
     M("{2, 4}", L("nn.GELU{approximate = \"fast\"}")),
     "layer 0 (GELU): approximate argument must be either none or tanh.", 3},
};

#define NROWS ((int)(sizeof rows / sizeof rows[0]))

/* hint: and note: lines: a line `t.lua:LINE: KIND: ...` containing `want`
 * must follow the first error. */
static const struct {
  const char *name;
  const char *spec;
  const char *kind;
  const char *want;
  int line;
} extras[] = {
    {"misspelled keyword", M("{1, 1, 10}", L("nn.Conv1d{1, 2, kernal_size = 3}")),
     "hint", "did you mean 'kernel_size'?", 3},
    {"misspelled stride", M("{1, 1, 8}", L("nn.ReLU{}")
                                             L("nn.Conv1d{1, 2, 3, strid = 2}")),
     "hint", "did you mean 'stride'?", 4},
    {"misspelled bias", M("{1, 1, 8}", L("nn.Conv1d{1, 2, 3, bais = false}")),
     "hint", "did you mean 'bias'?", 3},
    {"misspelled layer", M("{1, 1, 10}", L("nn.Relu{}")), "hint",
     "did you mean 'nn.ReLU'?", 3},
    {"misspelled F function", "local x = 1\nlocal f = F.rleu\n", "hint",
     "did you mean 'F.relu'?", 2},
    {"a module attribute that does not exist",
     MOD("m.conv1 = nn.Conv1d{4, 4, 3}\nfunction m:forward(x)\n"
         "  return self.conv2(x)\nend\n"),
     "hint", "did you mean 'conv1'?", 4},
    {"a layer's shape error inside forward",
     MOD("m.c1 = nn.Conv1d{4, 8, 3}\nm.c2 = nn.Conv1d{4, 8, 3}\n"
         "function m:forward(x)\n  return self.c2(self.c1(x))\nend\n"),
     "note", "'c2' (Conv1d) was built here", 3},
    {"a misspelled tensor method", FWD("  return x:veiw(1, 32)"), "hint",
     "did you mean 'view'?", 3},
    {"misspelled model option",
     "-- a model\nreturn model \"t\" {\n  inputs = {2, 3},\n  nn.ReLU{},\n}\n",
     "hint", "did you mean 'input'?", 2},
    {"no input", "-- a model\nreturn model \"t\" {\n  nn.ReLU{},\n}\n", "hint",
     "add input =", 2},
    {"Linear on a conv's 3-d output",
     M("{1, 4, 10}", L("nn.Conv1d{4, 8, 3}") L("nn.Linear{16, 2}")), "hint",
     "insert nn.Flatten{}", 4},
    {"endless loop", "local x = 1\nwhile true do end\n", "hint",
     "--max-instructions", 2},
    {"memory bomb",
     "local t = {}\nwhile true do t[#t+1] = (\"x\"):rep(1e6) end\n", "hint",
     "--max-memory", 2},
    {"duplicated layer name",
     M("{2, 3}", L("nn.ReLU{name = \"c\"}") L("nn.Tanh{}")
                     L("nn.ReLU{name = \"c\"}")),
     "note", "by layer 0 here", 3},
    {"first layer: the input", M("{4}", L("nn.Conv1d{1, 2, 3}")), "note",
     "the input shape [4]", 1},
    {"channel mismatch after a ReLU",
     M("{1, 4, 10}", L("nn.Conv1d{4, 8, 3}") L("nn.ReLU{}")
                         L("nn.Conv1d{4, 8, 3}")),
     "note", "layer 1 (ReLU) produced [1, 8, 8]", 4},
    {"Linear on a conv's 3-d output",
     M("{1, 4, 10}", L("nn.Conv1d{4, 8, 3}") L("nn.Linear{16, 2}")), "note",
     "layer 0 (Conv1d) produced [1, 8, 8]", 3},
    {"Linear after Flatten, named",
     M("{1, 4, 10}", L("nn.Conv1d{4, 8, 3, name = \"conv1\"}") L("nn.Flatten{}")
                         L("nn.Linear{16, 2, name = \"fc\"}")),
     "note", "layer 1 (Flatten) produced [1, 64]", 4},
    {"max_pool1d too large after a named conv",
     M("{1, 1, 4}", L("nn.Conv1d{1, 2, 3, name = \"conv1\"}")
                        L("nn.MaxPool1d{3}")),
     "note", "layer 0 'conv1' (Conv1d) produced [1, 2, 2]", 3},
    {"BatchNorm2d wrong features after a conv",
     M("{1, 3, 8, 8}", L("nn.Conv2d{3, 4, 3}") L("nn.BatchNorm2d{3}")),
     "note", "layer 0 (Conv2d) produced [1, 4, 6, 6]", 3},
    {"kernel too large after pooling",
     M("{2, 1, 10}", L("nn.Conv1d{1, 8, 3}") L("nn.MaxPool1d{2}")
                         L("nn.Conv1d{8, 16, 5}")),
     "note", "layer 1 (MaxPool1d) produced [2, 8, 4]", 4},
    {"layer built in a helper",
     "local function block(cin, cout)\n"
     "  return nn.Conv1d{cin, cout, 3}\n"
     "end\n" M("{1, 2, 10}", L("nn.Conv1d{2, 4, 3}") L("block(5, 8)")),
     "note", "the layer above was built by the call here", 7},
};

#define NEXTRAS ((int)(sizeof extras / sizeof extras[0]))

/* Specs that must pass: the sandbox and the checks must not be stricter
 * than SPEC.md says. */
static const struct {
  const char *name;
  const char *spec;
} passes[] = {
    {"collectgarbage count",
     "local kb = collectgarbage(\"count\")\n" M("{1, 4}", L("nn.ReLU{}"))},
    {"pcall catches an ordinary error",
     "local ok, e = pcall(error, \"x\", 0)\nassert(not ok and e == \"x\")\n"
     "local ok2 = xpcall(error, function(m) return m end, \"y\")\n"
     "assert(not ok2)\n" M("{1, 4}", L("nn.ReLU{}"))},
    {"string, table and math functions",
     "local s = (\"ab\"):rep(2) .. string.format(\"%d\", 3)\n"
     "assert(s == \"abab3\" and s:upper() == \"ABAB3\" and #s == 5)\n"
     "local t = {3, 1, 2}\ntable.sort(t)\n"
     "assert(table.concat(t, \",\") == \"1,2,3\")\n"
     "return model \"t\" {\n  input = {1, math.floor(9 / 2)},\n"
     "  nn.Linear{4, 2},\n}\n"},
    {"layers built in a loop",
     "local t = {input = {1, 4}}\n"
     "for i = 1, 3 do t[#t + 1] = nn.ReLU{} end\n"
     "t[#t + 1] = nn.Linear{4, 2}\nreturn model \"t\" (t)\n"},
    {"floats with integer values",
     M("{1.0, 1, 10.0}", L("nn.Conv1d{1, 8.0, 3.0, stride = {1.0}}"))},
    {"dotted names are state_dict prefixes",
     M("{1, 4}", L("nn.Linear{4, 3, name = \"features.0\"}")
                 L("nn.ReLU{name = \"features.1\"}")
                 L("nn.Linear{3, 2, name = \"classifier.fc-1\"}"))},
    {"Identity takes anything", M("{1, 4}", L("nn.Identity{1, 2, foo = 3}"))},
    {"inline parameters of the right shape",
     M("{1, 4}", L("nn.Linear{4, 2, bias = {1, 2}, weight = {{1, 2, 3, 4}, "
                   "{5, 6, 7, 8}}}"))},
    {"a residual network (branching: check only)",
     "local function Block(c)\n  local b = nn.Module()\n"
     "  b.conv = nn.Conv2d{c, c, 3, padding = 1, bias = false}\n"
     "  b.bn = nn.BatchNorm2d{c}\n"
     "  function b:forward(x) return F.relu(self.bn(self.conv(x)) + x) end\n"
     "  return b\nend\nlocal net = nn.Module()\n"
     "net.stem = nn.Sequential{nn.Conv2d{3, 8, 3, padding = 1}, nn.ReLU{}}\n"
     "net.blocks = nn.ModuleList{Block(8), Block(8)}\n"
     "net.se = nn.Sequential{nn.AdaptiveAvgPool2d{1}, nn.Conv2d{8, 8, 1},\n"
     "                       nn.Hardsigmoid{}}\n"
     "net.fc = nn.Linear{16, 10}\n"
     "function net:forward(x)\n  x = self.stem(x)\n"
     "  for _, b in ipairs(self.blocks) do x = b(x) end\n"
     "  x = x * self.se(x)\n  x = 2 * x - 1 + x / 4\n"
     "  if x:size(1) ~= 8 or x:dim() ~= 4 or x.shape[3] ~= 6 then\n"
     "    error(\"shapes\") end\n"
     "  local a = torch.mean(x, {2, 3})\n"
     "  local c = torch.cat({a, x:mean({-1, -2}, true):flatten(1)}, 1)\n"
     "  c = F.pad(c:view(1, 16, 1), {0, 0}, \"constant\"):reshape(1, -1)\n"
     "  return F.log_softmax(self.fc(c), 1)\nend\n"
     "return model \"t\" { input = {1, 3, 6, 6}, module = net }\n"},
    {"a module called twice shares its weights",
     MOD("m.c = nn.Conv1d{4, 4, 3, padding = 1}\n"
         "function m:forward(x)\n  return self.c(self.c(x))\nend\n")},
    {"containers in a layer list",
     M("{1, 4, 8}", L("nn.Conv1d{4, 8, 3}")
                    L("nn.Sequential{nn.ReLU{}, nn.Conv1d{8, 8, 1}}")
                    L("nn.Flatten{}"))},
    {"circular padding of an unbatched input",
     M("{4, 10}", L("nn.Conv1d{4, 8, 3, padding = 2, "
                    "padding_mode = \"circular\"}"))},
};

#define NPASSES ((int)(sizeof passes / sizeof passes[0]))

/* The first line of s, malloc'd. */
static char *first_line(const char *s) {
  if (!s) return mc_strdup("");
  const char *e = strchr(s, '\n');
  return mc_format("%.*s", (int)(e ? e - s : (ptrdiff_t)strlen(s)), s);
}

/* NULL if the row holds, else what went wrong (malloc'd). */
static char *check_row(const char *spec, const char *want, int line) {
  Diag d;
  int r = run_spec_text("t.lua", spec, &d, NULL);
  char *got = first_line(d.text.s);
  char *prefix = mc_format("t.lua:%d: error: ", line);
  char *why = NULL;
  if (r == 0)
    why = mc_format("the spec was accepted (output: '%s')", got);
  else if (d.nerrors < 1)
    why = mc_format("failed without counting an error (output: '%s')", got);
  else if (strncmp(got, prefix, strlen(prefix)) != 0 || !strstr(got, want))
    why = mc_format("expected '%s...%s...'\n    got      '%s'", prefix, want,
                    got);
  free(prefix);
  free(got);
  diag_free(&d);
  return why;
}

static void test_error_rows(void **state) {
  (void)state;
  int failed = 0;
  for (int i = 0; i < NROWS; i++) {
    char *why = check_row(rows[i].spec, rows[i].want, rows[i].line);
    if (why) {
      print_error("row %d '%s': %s\n", i, rows[i].name, why);
      failed++;
      free(why);
    }
  }
  if (failed) fail_msg("%d of %d error rows failed", failed, NROWS);
}

/* The line after the first error that starts `t.lua:LINE: KIND: ` and
 * contains want, or NULL. */
static int has_line(const char *text, const char *kind, int line,
                    const char *want) {
  char *prefix = mc_format("t.lua:%d: %s: ", line, kind);
  int found = 0;
  const char *p = text ? strstr(text, ": error: ") : NULL;
  if (p) p = strchr(p, '\n');
  while (p && *p && !found) {
    p++;
    const char *e = strchr(p, '\n');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    char *ln = mc_format("%.*s", (int)len, p);
    found = strncmp(ln, prefix, strlen(prefix)) == 0 && strstr(ln, want);
    free(ln);
    p = e;
  }
  free(prefix);
  return found;
}

static void test_hints_and_notes(void **state) {
  (void)state;
  int failed = 0;
  for (int i = 0; i < NEXTRAS; i++) {
    Diag d;
    int r = run_spec_text("t.lua", extras[i].spec, &d, NULL);
    if (r == 0 || !has_line(d.text.s, extras[i].kind, extras[i].line,
                            extras[i].want)) {
      print_error("%s row %d '%s': expected a line 't.lua:%d: %s: ...%s...' "
                  "after the error (status %d)\n    got:\n%s", extras[i].kind,
                  i, extras[i].name, extras[i].line, extras[i].kind,
                  extras[i].want, r, d.text.s ? d.text.s : "(nothing)\n");
      failed++;
    }
    diag_free(&d);
  }
  if (failed) fail_msg("%d of %d hint/note rows failed", failed, NEXTRAS);
}

static void test_valid_specs_pass(void **state) {
  (void)state;
  int failed = 0;
  for (int i = 0; i < NPASSES; i++) {
    Diag d;
    int r = run_spec_text("t.lua", passes[i].spec, &d, NULL);
    if (r != 0 || d.nerrors != 0) {
      print_error("valid spec %d '%s' was rejected:\n%s", i, passes[i].name,
                  d.text.s ? d.text.s : "(nothing)\n");
      failed++;
    }
    diag_free(&d);
  }
  if (failed) fail_msg("%d of %d valid specs were rejected", failed, NPASSES);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The instruction limit stops an endless loop in well under 5 s, at its
 * line, and so does the memory limit a memory bomb. */
static void test_limits_are_fast(void **state) {
  (void)state;
  static const struct {
    const char *spec, *want;
  } bombs[] = {
      {"local x = 1\nwhile true do end\n", INSTR},
      {"local x = 1\npcall(function() while true do end end)\n", INSTR},
      {"local t = {}\nwhile true do t[#t+1] = (\"x\"):rep(1e6) end\n", MEMORY},
  };
  for (size_t i = 0; i < sizeof bombs / sizeof bombs[0]; i++) {
    double t0 = now();
    char *why = check_row(bombs[i].spec, bombs[i].want, 2);
    double dt = now() - t0;
    if (why) fail_msg("bomb %d: %s", (int)i, why);
    if (dt >= 5.0)
      fail_msg("bomb %d took %.2f s to stop (limit 5 s)", (int)i, dt);
  }
}

/* The line of the first line of `path` that contains `marker` and is not
 * a comment, or 0. */
static int line_of(const char *path, const char *marker) {
  char *text = read_file(path, NULL);
  if (!text) return 0;
  int line = 1, found = 0;
  for (char *p = text; *p && !found; line++) {
    char *e = strchr(p, '\n');
    if (e) *e = 0;
    const char *q = p;
    while (*q == ' ') q++;
    if (strncmp(q, "--", 2) != 0 && strstr(p, marker)) found = line;
    p = e ? e + 1 : p + strlen(p);
  }
  free(text);
  return found;
}

/* The tutorial's bad specs, through spec_load and shape_infer as
 * `modelc check` runs them. */
static void test_bad_spec_files(void **state) {
  (void)state;
  static const struct {
    const char *path;
    const char *layer_marker; /* text of the failing layer's line */
    const char *want;
    const char *note_marker;  /* text of the line the note points at */
    const char *note;
  } files[] = {
      {"tests/specs/bad_rank.lua", "nn.Conv2d{",
       "layer 0 (Conv2d): Expected 3D (unbatched) or 4D (batched) input to "
       "conv2d, but got input of size: [28, 28]",
       "return model", "the input shape [28, 28]"},
      {"tests/specs/bad_channels.lua", "in_channels = 16",
       "layer 3 (Conv1d): Given groups=1, weight of size [16, 16, 2], "
       "expected input[2, 8, 4] to have 16 channels, but got 8 channels "
       "instead",
       "nn.MaxPool1d{2}", "layer 2 (MaxPool1d) produced [2, 8, 4]"},
      {"tests/specs/bad_kernel.lua", "name = \"conv2\"",
       "layer 3 'conv2' (Conv1d): Calculated padded input size per channel: "
       "(4). Kernel size: (5). Kernel size can't be greater than actual input "
       "size",
       "nn.MaxPool1d{2}", "layer 2 (MaxPool1d) produced [2, 8, 4]"},
  };
  int failed = 0;
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    int line = line_of(files[i].path, files[i].layer_marker);
    int note_line = line_of(files[i].path, files[i].note_marker);
    if (!line || !note_line) {
      print_error("%s: cannot read it or find its layer (run the test from "
                  "the top of the repository)\n", files[i].path);
      failed++;
      continue;
    }
    Limits lim = {0}; /* every limit at its default */
    Diag d;
    Model m;
    memset(&d, 0, sizeof d);
    int r = spec_load(files[i].path, &lim, &d, &m);
    int loaded = r == 0;
    if (r == 0) r = shape_infer(&m, &d);
    char *got = first_line(d.text.s);
    char *prefix = mc_format("%s:%d: error: %s", files[i].path, line,
                             files[i].want);
    char *note = mc_format("%s:%d: note: %s", files[i].path, note_line,
                           files[i].note);
    if (!loaded || r == 0 || strcmp(got, prefix) != 0 ||
        !strstr(d.text.s, note)) {
      print_error("%s (status %d, loaded %d):\n    expected '%s'\n    and "
                  "'%s'\n    got:\n%s", files[i].path, r, loaded, prefix, note,
                  d.text.s ? d.text.s : "(nothing)\n");
      failed++;
    }
    free(got);
    free(prefix);
    free(note);
    diag_free(&d);
    model_free(&m);
  }
  if (failed) fail_msg("%d bad spec files misreported", failed);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_error_rows),
      cmocka_unit_test(test_hints_and_notes),
      cmocka_unit_test(test_valid_specs_pass),
      cmocka_unit_test(test_limits_are_fast),
      cmocka_unit_test(test_bad_spec_files),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
